"""The lifecycle of a call through HTTP: every endpoint, every state rule, the history."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support import Community, ManualClock, Provisioner, Server, lift_limits

DISPATCH = {
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
    "communityUserIds": [],
}
S1 = "/v2/emergency/servers/1"


def open_call(http: httpx.Client, **fields: Any) -> dict[str, Any]:
    answer = http.post(f"{S1}/dispatch-calls", json={**DISPATCH, **fields})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def units(provision: Provisioner, community: Community, count: int) -> list[int]:
    idents = []
    for number in range(count):
        account = provision.account(community, f"officer{number}", f"license:{number}")
        idents.append(provision.unit(community, account["uuid"], unit_num=f"1A-{number:02}"))
    return idents


def listed(http: httpx.Client) -> dict[str, Any]:
    return dict(http.get(f"{S1}/calls").json())


def test_full_story_is_kept_in_history_with_times(
    server: Server, community: Community, provision: Provisioner, clock: ManualClock
) -> None:
    first, second = units(provision, community, 2)
    with server.client(community.api_key) as http:
        emergency = http.post(
            f"{S1}/calls/911",
            json={"isEmergency": True, "caller": "Jane", "location": "Alta St", "description": "Fire"},
        ).json()
        call = open_call(http, title="Structure Fire", description=emergency["description"])
        call_id = call["callId"]
        clock.advance(seconds=10)
        attached = http.post(
            f"{S1}/dispatch-calls/{call_id}/attachments",
            json={"communityUserIds": ["license:0", "license:1"]},
        )
        assert attached.json() == {"callId": call_id, "identIds": [first, second]}
        clock.advance(seconds=20)
        assert http.patch(f"{S1}/units/status", json={"identIds": [first], "status": 3}).status_code == 200
        clock.advance(seconds=60)
        assert http.patch(f"{S1}/units/status", json={"identIds": [first], "status": 4}).status_code == 200
        clock.advance(seconds=5)
        note = http.post(
            f"{S1}/dispatch-calls/{call_id}/notes", json={"note": "Smoke from roof", "label": "1A"}
        )
        assert note.json() == {"callId": call_id, "note": "Smoke from roof"}
        clock.advance(seconds=300)
        assert http.post(f"{S1}/dispatch-calls/close", json={"callIds": [call_id]}).json() == {
            "callIds": [call_id]
        }
        history = http.get(f"{S1}/dispatch-calls/{call_id}/history").json()
        board = listed(http)

    actions = [entry["action"] for entry in history["entries"]]
    assert actions == [
        "created",
        "unit_attached",
        "unit_attached",
        "primary_changed",
        "unit_status",
        "unit_status",
        "note_added",
        "status_changed",
        "closed",
    ]
    assert all(
        entry["actor"] == {"type": "apiKey", "name": history["entries"][0]["actor"]["name"]}
        for entry in history["entries"]
    )
    times = [entry["time"] for entry in history["entries"]]
    assert times == sorted(times)
    first_stint = next(stint for stint in history["units"] if stint["identId"] == first)
    assert first_stint["attached"] < first_stint["enroute"] < first_stint["onScene"] < first_stint["cleared"]
    second_stint = next(stint for stint in history["units"] if stint["identId"] == second)
    assert second_stint["enroute"] is None and second_stint["cleared"] == first_stint["cleared"]
    # Closed calls keep their units and notes.
    closed = board["closedCalls"][0]
    assert closed["callId"] == call_id and closed["status"] == 2
    assert closed["idents"] == [first, second] and closed["notes"][0]["content"] == "Smoke from roof"
    assert board["activeCalls"] == [] and board["closedCallCount"] == 1


def test_state_rules(server: Server, community: Community, provision: Provisioner) -> None:
    first, second, third = units(provision, community, 3)
    lift_limits(provision, community)
    with server.client(community.api_key) as http:
        one = open_call(http, communityUserIds=["license:0", "license:1"])
        two = open_call(http)
        assert one["idents"] == [first, second] and one["primary"] == first

        # A unit attached to a second call leaves the first; the primary passes to the next unit.
        moved = http.post(f"{S1}/dispatch-calls/{two['callId']}/attachments", json={"identIds": [first]})
        assert moved.status_code == 200
        calls = {call["callId"]: call for call in listed(http)["activeCalls"]}
        assert calls[one["callId"]]["idents"] == [second] and calls[one["callId"]]["primary"] == second
        assert calls[two["callId"]]["idents"] == [first] and calls[two["callId"]]["primary"] == first

        # Detaching the primary clears it when no unit is left.
        detached = http.request("DELETE", f"{S1}/dispatch-calls/attachments", json={"identIds": [second]})
        assert detached.json() == {"identIds": [second]}
        calls = {call["callId"]: call for call in listed(http)["activeCalls"]}
        assert calls[one["callId"]]["primary"] == -1 and calls[one["callId"]]["idents"] == []

        # Detaching a unit that is on no call is a conflict, not a silent no-op.
        again = http.request("DELETE", f"{S1}/dispatch-calls/attachments", json={"identIds": [second]})
        assert again.status_code == 409 and str(second) in again.json()["detail"]

        # The primary must be attached; -1 clears it; trackPrimary is stored.
        refused = http.patch(f"{S1}/dispatch-calls/{two['callId']}/primary", json={"identId": third})
        assert refused.status_code == 409
        tracked = http.patch(
            f"{S1}/dispatch-calls/{two['callId']}/primary", json={"identId": first, "trackPrimary": True}
        ).json()
        assert tracked == {"callId": two["callId"], "identId": first, "trackPrimary": True}
        stored = next(call for call in listed(http)["activeCalls"] if call["callId"] == two["callId"])
        assert stored["primary"] == first and stored["trackPrimary"] is True
        cleared = http.patch(f"{S1}/dispatch-calls/{two['callId']}/primary", json={"identId": -1}).json()
        assert cleared == {"callId": two["callId"], "identId": -1, "trackPrimary": False}

        # Closing twice is a conflict and closes nothing else of the request.
        assert http.post(f"{S1}/dispatch-calls/close", json={"callIds": [one["callId"]]}).status_code == 200
        twice = http.post(f"{S1}/dispatch-calls/close", json={"callIds": [two["callId"], one["callId"]]})
        assert twice.status_code == 409
        assert [call["callId"] for call in listed(http)["activeCalls"]] == [two["callId"]]

        # No unit joins a closed call.
        late = http.post(f"{S1}/dispatch-calls/{one['callId']}/attachments", json={"identIds": [third]})
        assert late.status_code == 409

        # Targets that name no unit are a 404; an unknown call is a 404.
        nobody = http.post(
            f"{S1}/dispatch-calls/{two['callId']}/attachments", json={"communityUserIds": ["x"]}
        )
        assert nobody.status_code == 404
        assert http.post(f"{S1}/dispatch-calls/999/notes", json={"note": "x"}).status_code == 404


def test_update_changes_only_sent_fields_and_replaces_metadata(server: Server, community: Community) -> None:
    with server.client(community.api_key) as http:
        call = open_call(http, metaData={"x": "1", "y": "2"})
        updated = http.patch(
            f"{S1}/dispatch-calls/{call['callId']}", json={"title": "New title", "metaData": {"z": 3}}
        ).json()
        assert updated["title"] == "New title" and updated["address"] == call["address"]
        assert updated["metaData"] == {"z": "3"}
        postal = http.patch(f"{S1}/dispatch-calls/{call['callId']}/postal", json={"postal": "7001"}).json()
        assert postal == {"callId": call["callId"], "postal": "7001"}
        bad = http.patch(f"{S1}/dispatch-calls/{call['callId']}", json={"priority": 9, "title": 5})
        assert bad.status_code == 400
        assert {error["field"] for error in bad.json()["errors"]} == {"priority", "title"}
        # Reopening a closed call takes it out of the closed count.
        http.patch(f"{S1}/dispatch-calls/{call['callId']}", json={"status": 2})
        assert listed(http)["closedCallCount"] == 1
        http.patch(f"{S1}/dispatch-calls/{call['callId']}", json={"status": 1})
        board = listed(http)
        history = http.get(f"{S1}/dispatch-calls/{call['callId']}/history").json()
    assert board["closedCallCount"] == 0 and board["activeCalls"][0]["status"] == 1
    changed = [
        entry["details"].get("field") for entry in history["entries"] if entry["action"] == "field_changed"
    ]
    assert changed == ["title", "metaData", "postal"]
    assert [e["action"] for e in history["entries"]][-2:] == ["status_changed", "reopened"]


def test_remove_911_call(server: Server, community: Community) -> None:
    with server.client(community.api_key) as http:
        call = http.post(
            f"{S1}/calls/911", json={"isEmergency": False, "caller": "a", "location": "b", "description": "c"}
        ).json()
        removed = http.delete(f"{S1}/calls/911/{call['callId']}")
        assert removed.json() == {"callId": call["callId"], "serverId": 1}
        assert listed(http)["emergencyCalls"] == []
        assert http.delete(f"{S1}/calls/911/{call['callId']}").status_code == 404


def test_units_listing_status_panic_locations(
    server: Server, community: Community, provision: Provisioner
) -> None:
    first, second = units(provision, community, 2)
    lift_limits(provision, community)
    with server.client(community.api_key) as http:
        # New units are selected, so listed; an OFFLINE (100) one only when asked for.
        http.patch(f"{S1}/units/status", json={"identIds": [second], "status": 100})
        assert [u["id"] for u in http.get(f"{S1}/units").json()] == [first]
        assert len(http.get(f"{S1}/units", params={"includeOffline": "true"}).json()) == 2
        http.patch(f"{S1}/units/status", json={"communityUserIds": ["license:0"], "status": 2})
        http.patch(
            f"{S1}/units/panic", json={"accounts": [community.accounts["officer0"]["uuid"]], "isPanic": True}
        )
        moved = http.patch(
            f"{S1}/unit-locations",
            json={
                "updates": [
                    {
                        "communityUserId": "license:0",
                        "location": "Vinewood",
                        "coordinates": {"x": 1, "y": 2, "z": 3},
                    },
                    {"communityUserId": "license:unknown", "location": "Nowhere"},
                ]
            },
        )
        assert moved.json() == {"identIds": [first], "updated": 1}
        online = http.get(f"{S1}/units").json()
        paged = http.get(f"{S1}/units", params={"includeOffline": "true", "limit": 1, "offset": 1}).json()
    assert isinstance(paged, list), paged
    [unit] = online
    assert unit["id"] == first and unit["status"] == 2 and unit["isPanic"] is True
    assert unit["location"] == "Vinewood" and unit["coordinates"] == {"x": 1.0, "y": 2.0, "z": 3.0, "w": None}
    assert unit["data"]["communityUserId"] == "license:0"
    assert [u["id"] for u in paged] == [second]


def test_identifiers_and_links(server: Server, community: Community, provision: Provisioner) -> None:
    account = provision.account(community, "rookie")
    base = f"/v2/emergency/accounts/{account['uuid']}"
    with server.client(community.api_key) as http:
        made = http.post(
            f"{base}/identifiers", json={"unitNum": "2B-07", "name": "Rookie", "department": "LSPD"}
        )
        ident = made.json()["identId"]
        renamed = http.patch(f"{base}/identifiers/{ident}", json={"name": "Officer Rookie"}).json()
        assert renamed["name"] == "Officer Rookie" and renamed["unitNum"] == "2B-07"
        chosen = http.put(f"{base}/selected-identifier", json={"identId": ident}).json()
        assert chosen["selected"] == {"1": ident, "2": ident}

        # Linking needs the account's secret; then the link resolves dispatch targets.
        wrong = http.post(
            "/v2/general/links/set",
            json={"accountUuid": account["uuid"], "secretUuid": "nope", "communityUserId": "steam:9"},
        )
        assert wrong.status_code == 403
        assert (
            http.post("/v2/general/links/check", json={"communityUserId": "steam:9"}).json()["linked"]
            is False
        )
        linked = http.post(
            "/v2/general/links/set",
            json={
                "accountUuid": account["uuid"],
                "secretUuid": account["secret"],
                "communityUserId": "steam:9",
            },
        )
        assert linked.json() == {"linked": True, "accountUuid": account["uuid"], "communityUserId": "steam:9"}
        assert (
            http.post("/v2/general/links/check", json={"communityUserId": "steam:9"}).json()["linked"] is True
        )
        call = open_call(http, communityUserIds=["steam:9"])
        assert call["idents"] == [ident]

        # An identifier that worked a call is kept for the record.
        assert http.delete(f"{base}/identifiers/{ident}").status_code == 409
        spare = http.post(f"{base}/identifiers", json={"unitNum": "9Z-99"}).json()["identId"]
        remaining = http.delete(f"{base}/identifiers/{spare}").json()
        assert [i["identId"] for i in remaining["identifiers"]] == [ident]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("DELETE", "/calls/911/{call}", None),
        ("PATCH", "/dispatch-calls/{call}", {"title": "x"}),
        ("POST", "/dispatch-calls/{call}/attachments", {"identIds": [1]}),
        ("DELETE", "/dispatch-calls/attachments", {"identIds": [1]}),
        ("POST", "/dispatch-calls/{call}/notes", {"note": "x"}),
        ("POST", "/dispatch-calls/close", {"callIds": ["{call}"]}),
        ("PATCH", "/dispatch-calls/{call}/postal", {"postal": "1"}),
        ("PATCH", "/dispatch-calls/{call}/primary", {"identId": -1}),
        ("GET", "/dispatch-calls/{call}/history", None),
        ("GET", "/units", None),
        ("PATCH", "/units/status", {"identIds": [1], "status": 2}),
        ("PATCH", "/units/panic", {"identIds": [1], "isPanic": True}),
        ("PATCH", "/unit-locations", {"updates": [{"identId": 1, "location": "x"}]}),
    ],
)
def test_another_community_cannot_reach_these_calls(
    server: Server, provision: Provisioner, method: str, path: str, body: Any
) -> None:
    owner = provision.community("Owner")
    intruder = provision.community("Intruder")
    [ident] = units(provision, owner, 1)
    with server.client(owner.api_key) as http:
        call = open_call(http, identIds=[ident], communityUserIds=["license:0"])
        emergency = http.post(
            f"{S1}/calls/911", json={"isEmergency": True, "caller": "a", "location": "b", "description": "c"}
        ).json()
    target = emergency["callId"] if path.startswith("/calls/911") else call["callId"]
    url = S1 + path.replace("{call}", str(target))
    payload = None
    if body is not None:
        payload = {
            key: [target if item == "{call}" else item for item in value]
            if isinstance(value, list)
            else value
            for key, value in body.items()
        }
    with server.client(intruder.api_key) as http:
        answer = http.request(method, url, json=payload)
        if method == "GET" and path == "/units":
            # The intruder's own server 1 exists but holds none of the owner's units.
            assert answer.json() == []
        elif path == "/unit-locations":
            # Location feeds skip players with no unit here: nothing of the owner's moves.
            assert answer.json() == {"identIds": [], "updated": 0}
        else:
            assert answer.status_code == 404, answer.text
    with server.client(owner.api_key) as http:
        board = listed(http)
        history = http.get(f"{S1}/dispatch-calls/{call['callId']}/history").json()
        unit = http.get(f"{S1}/units", params={"includeOffline": "true"}).json()[0]
    assert (unit["status"], unit["isPanic"], unit["location"]) == (0, False, "")
    assert board["emergencyCalls"] == [emergency]
    assert (
        board["activeCalls"][0]["idents"] == [ident] and board["activeCalls"][0]["title"] == "Armed Robbery"
    )
    assert [entry["action"] for entry in history["entries"]] == [
        "created",
        "unit_attached",
        "primary_changed",
    ]
