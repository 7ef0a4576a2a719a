"""Every calls method of the real sonoran-py CAD manager, each effect checked through a second read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sonoran import Instance, productEnums

from opendispatch.api.limits import DEFAULT_LIMITS
from tests.calls.test_templates import UK_CONTROL_ROOM, VALUES, make_template
from tests.support import Community, LiveServer, Provisioner


def ok(response: Any) -> Any:
    assert response.success, response.reason
    return response.data


def test_every_calls_method_of_the_sdk_takes_effect(
    live: LiveServer, community: Community, provision: Provisioner, database_url: str, tmp_path: Path
) -> None:
    for endpoint in DEFAULT_LIMITS:
        provision.set_limit(community, endpoint, 1000)
    alpha = provision.account(community, "alpha", "player-1234")
    bravo = provision.account(community, "bravo", "player-5678")
    alpha_unit = provision.unit(community, alpha["uuid"], unit_num="1A-01")
    bravo_unit = provision.unit(community, bravo["uuid"], unit_num="2B-02")
    template = make_template(database_url, community, tmp_path)
    cad = Instance(
        apiKey=community.api_key,
        communityId=community.community_id,
        product=productEnums.CAD,
        serverId=1,
        cadApiUrl=live.url,
    ).cad

    def board() -> dict[str, Any]:
        listing = dict(ok(cad.getCallsV2()))  # no query, as the in-game resource asks
        assert listing["ActiveCalls"] == listing["activeCalls"]
        assert listing["EmergencyCalls"] == listing["emergencyCalls"]
        return listing

    # createEmergencyCallV2, deleteEmergencyCallV2
    emergency = ok(
        cad.createEmergencyCallV2(
            {
                "serverId": 1,
                "isEmergency": True,
                "caller": "Jane",
                "location": "Alta",
                "description": "Fire",
                "metaData": [],
            }
        )
    )
    assert board()["EmergencyCalls"] == [emergency] and emergency["metaData"] == {}
    assert ok(cad.deleteEmergencyCallV2(emergency["callId"])) == {
        "callId": emergency["callId"],
        "serverId": 1,
    }
    assert board()["EmergencyCalls"] == []

    # createDispatchCallV2
    call = ok(
        cad.createDispatchCallV2(
            {
                "serverId": 1,
                "origin": 0,
                "status": 1,
                "priority": 1,
                "block": "100",
                "address": "Mission Row",
                "postal": "9001",
                "title": "Armed Robbery",
                "code": "211",
                "description": "Clerk reports a firearm.",
                "notes": [],
                "communityUserIds": ["player-1234"],
                "metaData": {"x": "425.1"},
            }
        )
    )
    call_id = call["callId"]
    assert board()["ActiveCalls"] == [call] and call["idents"] == [alpha_unit]

    # getCurrentCallV2
    assert ok(cad.getCurrentCallV2(alpha["uuid"])) == {"IdentId": alpha_unit, "CallId": call_id}
    assert ok(cad.getCurrentCallV2(bravo["uuid"])) == {"IdentId": bravo_unit, "CallId": None}

    # attachUnitsToDispatchCallV2 (the SDK turns apiIds into communityUserIds)
    attached = ok(cad.attachUnitsToDispatchCallV2(call_id, {"serverId": 1, "apiIds": ["player-5678"]}))
    assert attached == {"callId": call_id, "identIds": [bravo_unit]}
    assert board()["ActiveCalls"][0]["idents"] == [alpha_unit, bravo_unit]
    assert ok(cad.getCurrentCallV2(bravo["uuid"])) == {"IdentId": bravo_unit, "CallId": call_id}

    # updateDispatchCallV2, its primary and trackPrimary included
    ok(
        cad.updateDispatchCallV2(
            call_id, {"serverId": 1, "title": "Robbery", "primary": bravo_unit, "trackPrimary": True}
        )
    )
    stored = board()["ActiveCalls"][0]
    assert (stored["title"], stored["primary"], stored["trackPrimary"]) == ("Robbery", bravo_unit, True)

    # setDispatchPrimaryV2, setDispatchPostalV2, addDispatchNoteV2
    assert ok(cad.setDispatchPrimaryV2(call_id, alpha_unit, False)) == {
        "callId": call_id,
        "identId": alpha_unit,
        "trackPrimary": False,
    }
    assert ok(cad.setDispatchPostalV2(call_id, "9002")) == {"callId": call_id, "postal": "9002"}
    note = ok(
        cad.addDispatchNoteV2(
            call_id, {"serverId": 1, "note": "Caller is hiding.", "noteType": "text", "label": "Dispatcher"}
        )
    )
    assert note == {"callId": call_id, "note": "Caller is hiding."}
    stored = board()["ActiveCalls"][0]
    assert (stored["primary"], stored["trackPrimary"], stored["postal"]) == (alpha_unit, False, "9002")
    assert [(n["label"], n["content"]) for n in stored["notes"]] == [("Dispatcher", "Caller is hiding.")]

    # detachUnitsFromDispatchCallV2
    assert ok(cad.detachUnitsFromDispatchCallV2({"serverId": 1, "apiIds": ["player-1234"]})) == {
        "identIds": [alpha_unit]
    }
    stored = board()["ActiveCalls"][0]
    assert stored["idents"] == [bravo_unit] and stored["primary"] == bravo_unit

    # getDispatchTemplatesV2, with and without an id; createCustomDispatchCallV2
    assert ok(cad.getDispatchTemplatesV2()) == [template]
    assert ok(cad.getDispatchTemplatesV2(template["templateId"])) == template
    custom = ok(
        cad.createCustomDispatchCallV2(
            {
                "serverId": 1,
                "templateId": template["templateId"],
                "values": VALUES,
                "communityUserIds": ["player-1234"],
            }
        )
    )
    assert custom["statusId"] == "deployed" and custom["values"]["units"] == [alpha_unit]
    listed = {c["callId"]: c for c in board()["ActiveCalls"]}
    assert listed[custom["callId"]]["description"] == VALUES["description"]
    assert listed[custom["callId"]]["idents"] == [alpha_unit]
    assert UK_CONTROL_ROOM["name"] == custom["title"]

    # closeDispatchCallsV2
    assert ok(cad.closeDispatchCallsV2([call_id, custom["callId"]])) == {
        "callIds": [call_id, custom["callId"]]
    }
    final = board()
    assert final["ActiveCalls"] == [] and final["ClosedCallCount"] == final["closedCallCount"] == 2
    assert {c["callId"] for c in final["ClosedCalls"]} == {call_id, custom["callId"]}
    assert ok(cad.getCurrentCallV2(alpha["uuid"])) == {"IdentId": alpha_unit, "CallId": None}
    json.dumps(final)  # what the SDK read back is plain JSON


def test_the_sdk_sees_refusals_of_the_new_calls_operations(live: LiveServer, community: Community) -> None:
    cad = Instance(
        apiKey=community.api_key,
        communityId=community.community_id,
        product=productEnums.CAD,
        serverId=1,
        cadApiUrl=live.url,
    ).cad
    missing = cad.getDispatchTemplatesV2(7)
    assert missing.success is False and missing.reason["status"] == 404
    unknown = cad.getCurrentCallV2("00000000-0000-0000-0000-000000000000")
    assert unknown.success is False and unknown.reason["status"] == 404
    bad = cad.createCustomDispatchCallV2({"serverId": 1, "templateId": 1, "values": "x", "identIds": [1]})
    assert bad.success is False and bad.reason["status"] == 400
