"""The real sonoran-py methods of units and identifiers against a live server, each effect read back."""

from __future__ import annotations

from typing import Any

from sonoran import Instance, productEnums

from tests.support import Community, LiveServer, Provisioner
from tests.units.support import LICENSE, make_crew


def sdk(live: LiveServer, community: Community) -> Any:
    instance = Instance(
        apiKey=community.api_key,
        communityId=community.community_id,
        product=productEnums.CAD,
        serverId=1,
        cadApiUrl=live.url,
    )
    return instance.cad


def ok(response: Any) -> Any:
    assert response.success, response.reason
    return response.data


def on_duty(cad: Any) -> dict[int, dict[str, Any]]:
    listed = ok(cad.getUnitsV2({"serverId": 1, "includeOffline": True, "onlyUnits": False, "limit": 100}))
    return {unit["id"]: unit for unit in listed}


def test_the_sdks_unit_methods_take_effect(
    live: LiveServer, provision: Provisioner, community: Community
) -> None:
    crew = make_crew(provision, community)
    ann, bob = crew.units["ann"], crew.units["bob"]
    cad = sdk(live, community)

    assert ok(cad.setUnitStatusV2({"serverId": 1, "communityUserId": LICENSE, "status": 3})) == {
        "updated": 1,
        "status": "ENROUTE",
        "identIds": [ann],
    }
    ok(cad.setUnitPanicV2({"serverId": 1, "discord": "111222333", "isPanic": True}))
    # apiId: the SDK sends it as communityUserId, which an account's older API id also resolves.
    ok(
        cad.updateUnitLocationsV2(
            {
                "serverId": 1,
                "updates": [
                    {
                        "apiId": "steam:ann",
                        "location": "Mission Row",
                        "coordinates": {"x": 441.2, "y": -981.9, "z": 30.7, "w": 90.0},
                        "peerId": "peer-1",
                        "vehicle": {"model": "police3", "headingOffset": 0},
                    }
                ],
            }
        )
    )
    unit = on_duty(cad)[ann]
    assert (unit["status"], unit["isPanic"], unit["location"]) == (3, True, "Mission Row")
    assert unit["coordinates"] == {"x": 441.2, "y": -981.9, "z": 30.7, "w": 90.0}
    assert on_duty(cad)[bob]["status"] == 0

    assert ok(cad.addIdentifiersToGroupV2({"serverId": 1, "groupName": "CAR 51", "roblox": 4455})) == {
        "ok": True,
        "identIds": [ann],
    }
    assert on_duty(cad)[ann]["data"]["group"] == "CAR 51"

    mine = ok(cad.getAccountUnitsV2({"serverId": 1, "accountUuid": crew.uuids["ann"], "onlyOnline": True}))
    assert [found["id"] for found in mine["Units"]] == [ann]

    # kickUnitV2 is a DELETE with a JSON body.
    assert ok(cad.kickUnitV2({"serverId": 1, "communityUserId": LICENSE, "reason": "Left"})) == {
        "identId": ann,
        "reason": "Left",
    }
    assert on_duty(cad)[ann]["status"] == 100 and on_duty(cad)[ann]["isPanic"] is False
    assert ok(cad.getAccountUnitsV2({"serverId": 1, "accountUuid": crew.uuids["ann"]})) == {"Units": []}
    assert [found["id"] for found in ok(cad.getUnitsV2({"serverId": 1}))] == [bob]


def test_the_sdks_identifier_methods_take_effect(
    live: LiveServer, provision: Provisioner, community: Community
) -> None:
    crew = make_crew(provision, community)
    bob = crew.uuids["bob"]
    cad = sdk(live, community)

    made = ok(
        cad.createIdentifierV2(
            bob,
            {
                "status": 2,
                "aop": "Blaine County",
                "unitNum": "B-12",
                "name": "Bob Ray",
                "district": "Sandy Shores",
                "department": "BCSO",
                "subdivision": "Patrol",
                "rank": "Deputy",
                "group": "",
                "page": 0,
                "isDispatch": False,
            },
        )
    )
    ident = made["identId"]
    ok(cad.updateIdentifierV2(bob, ident, {"rank": "Sergeant", "page": 1}))
    ok(cad.selectIdentifierV2(bob, ident))
    listed = ok(cad.getIdentifiersV2(bob))
    assert listed["SelectedIdent"] == ident
    [docs] = [found for found in listed["Identifiers"] if found["id"] == ident]
    assert docs["aop"] == "Blaine County" and docs["status"] == 2
    assert docs["data"]["rank"] == "Sergeant" and docs["data"]["page"] == 1
    assert docs["data"]["district"] == "Sandy Shores" and docs["data"]["department"] == "BCSO"
    assert on_duty(cad)[ident]["data"]["unitNum"] == "B-12"
    every = ok(cad.getAccountUnitsV2({"serverId": 1, "accountUuid": bob, "onlyOnline": False}))
    assert [found["id"] for found in every["Units"]] == [crew.units["bob"], ident]

    ok(cad.selectIdentifierV2(bob, crew.units["bob"]))
    ok(cad.deleteIdentifierV2(bob, ident))
    assert [found["id"] for found in ok(cad.getIdentifiersV2(bob))["Identifiers"]] == [crew.units["bob"]]


def test_the_sdk_attaches_and_detaches_by_the_new_targets(
    live: LiveServer, provision: Provisioner, community: Community
) -> None:
    crew = make_crew(provision, community)
    cad = sdk(live, community)
    created = ok(
        cad.createDispatchCallV2(
            {
                "serverId": 1,
                "origin": 0,
                "status": 1,
                "priority": 1,
                "block": "",
                "address": "Alta St",
                "postal": "9001",
                "title": "Fire",
                "code": "10-70",
                "description": "Smoke",
                "notes": [],
                "discord": "111222333",
            }
        )
    )
    assert created["idents"] == [crew.units["ann"]]
    attached = ok(
        cad.attachUnitsToDispatchCallV2(created["callId"], {"serverId": 1, "communityUserId": "license:bob"})
    )
    assert attached == {"callId": created["callId"], "identIds": [crew.units["bob"]]}
    ok(cad.detachUnitsFromDispatchCallV2({"serverId": 1, "roblox": 4455}))
    calls = ok(cad.getCallsV2({"serverId": 1}))
    assert [call["idents"] for call in calls["activeCalls"]] == [[crew.units["bob"]]]
