"""Every sonoran-py method of the call lifecycle and units, against a live server."""

from __future__ import annotations

from typing import Any

from sonoran import Instance, productEnums

from tests.support import Community, LiveServer, Provisioner


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


def board(cad: Any) -> dict[str, Any]:
    return dict(ok(cad.getCallsV2({"serverId": 1, "closedLimit": 10, "closedOffset": 0, "type": 100})))


def test_every_lifecycle_method_takes_effect(
    live: LiveServer, community: Community, provision: Provisioner
) -> None:
    provision.set_limit(community, "get_calls", 100)
    cad = sdk(live, community)
    alpha = provision.account(community, "alpha", "license:alpha")
    bravo = provision.account(community, "bravo")
    alpha_unit = provision.unit(community, alpha["uuid"], unit_num="1A-01")

    # Identifiers and links: bravo gets a unit through the SDK and links an in-game id.
    created = ok(cad.createIdentifierV2(bravo["uuid"], {"unitNum": "2B-02", "name": "Bravo"}))
    bravo_unit = created["identId"]
    ok(cad.updateIdentifierV2(bravo["uuid"], bravo_unit, {"department": "BCSO"}))
    ok(cad.selectIdentifierV2(bravo["uuid"], bravo_unit))
    listed = ok(cad.getIdentifiersV2(bravo["uuid"]))
    assert listed["identifiers"][0]["department"] == "BCSO" and listed["selected"]["1"] == bravo_unit
    spare = ok(cad.createIdentifierV2(bravo["uuid"], {"unitNum": "9Z-99"}))["identId"]
    ok(cad.deleteIdentifierV2(bravo["uuid"], spare))
    assert [i["identId"] for i in ok(cad.getIdentifiersV2(bravo["uuid"]))["identifiers"]] == [bravo_unit]
    assert ok(cad.checkCommunityLinkV2({"communityUserId": "license:bravo"}))["linked"] is False
    ok(
        cad.setCommunityLinkV2(
            {"accountUuid": bravo["uuid"], "secretUuid": bravo["secret"], "communityUserId": "license:bravo"}
        )
    )
    assert ok(cad.checkCommunityLinkV2({"communityUserId": "license:bravo"}))["accountUuid"] == bravo["uuid"]

    # A 911 call comes in and is removed.
    emergency = ok(
        cad.createEmergencyCallV2(
            {"serverId": 1, "isEmergency": True, "caller": "Jane", "location": "Alta", "description": "Fire"}
        )
    )
    ok(cad.deleteEmergencyCallV2(emergency["callId"], 1))
    assert board(cad)["emergencyCalls"] == []

    # A dispatch call is worked end to end.
    call = ok(
        cad.createDispatchCallV2(
            {
                "serverId": 1,
                "origin": 0,
                "status": 1,
                "priority": 2,
                "block": "100",
                "address": "Alta Street",
                "postal": "100",
                "title": "Structure Fire",
                "code": "FIRE",
                "description": "Smoke",
                "notes": [],
                "apiIds": ["license:alpha"],
            }
        )
    )
    call_id = call["callId"]
    assert call["idents"] == [alpha_unit]
    ok(cad.updateDispatchCallV2(call_id, {"serverId": 1, "title": "Working Fire", "metaData": {"x": 10}}))
    ok(cad.attachUnitsToDispatchCallV2(call_id, {"serverId": 1, "apiIds": ["license:bravo"]}))
    ok(cad.setDispatchPrimaryV2(call_id, bravo_unit, True, 1))
    ok(cad.setDispatchPostalV2(call_id, "7001", 1))
    ok(
        cad.addDispatchNoteV2(
            call_id, {"serverId": 1, "note": "Second alarm", "noteType": "text", "label": "IC"}
        )
    )
    ok(cad.setUnitStatusV2({"serverId": 1, "apiIds": ["license:alpha"], "status": 3}))
    ok(cad.setUnitPanicV2({"serverId": 1, "apiIds": ["license:bravo"], "isPanic": True}))
    ok(
        cad.updateUnitLocationsV2(
            {
                "serverId": 1,
                "updates": [
                    {"apiId": "license:alpha", "location": "Alta St", "coordinates": {"x": 5, "y": 6, "z": 7}}
                ],
            }
        )
    )
    active = board(cad)["activeCalls"][0]
    assert active["title"] == "Working Fire" and active["metaData"] == {"x": "10"}
    assert active["idents"] == [alpha_unit, bravo_unit]
    assert active["primary"] == bravo_unit and active["trackPrimary"] is True and active["postal"] == "7001"
    assert active["notes"][-1]["content"] == "Second alarm"

    units = {u["id"]: u for u in ok(cad.getUnitsV2({"serverId": 1, "includeOffline": True}))}
    assert units[alpha_unit]["status"] == 3 and units[alpha_unit]["location"] == "Alta St"
    assert units[alpha_unit]["coordinates"] == {"x": 5.0, "y": 6.0, "z": 7.0, "w": None}
    assert units[bravo_unit]["isPanic"] is True

    ok(cad.detachUnitsFromDispatchCallV2({"serverId": 1, "apiIds": ["license:alpha"]}))
    assert board(cad)["activeCalls"][0]["idents"] == [bravo_unit]
    ok(cad.closeDispatchCallsV2([call_id], 1))
    final = board(cad)
    assert final["activeCalls"] == [] and final["closedCallCount"] == 1
    assert final["closedCalls"][0]["idents"] == [bravo_unit]


def test_sdk_sees_state_conflicts_as_failures(live: LiveServer, community: Community) -> None:
    cad = sdk(live, community)
    failed = cad.closeDispatchCallsV2([12345], 1)
    assert failed.success is False and failed.reason["status"] == 404
