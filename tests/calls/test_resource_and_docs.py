"""Calls as the official in-game resource sends and reads them, and answers as the docs pages show them."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from opendispatch.api.limits import DEFAULT_LIMITS
from tests.support import Community, ManualClock, Provisioner, Server, every_row_count, lift_limits, new_911

S1 = "/v2/emergency/servers/1"

# What the resource's Lua SDK sends: [] for an empty table, every metaData value a string ("nil" for an
# unlinked caller), the notes it stamps "00:00:00".
RESOURCE_911 = {
    "isEmergency": True,
    "caller": "John Smith",
    "location": "[100] Alta St / Integrity Way",
    "description": "Shots fired",
    "deleteAfterMinutes": 30,
    "metaData": {
        "callerPlayerId": "12",
        "callerCommunityUserId": "nil",
        "useCallLocation": "false",
        "silentAlert": "false",
        "postal": "",
        "plate": "",
        "x": "425.1",
        "y": "-979.2",
        "z": "30.7",
        "uuid": "4b5c",
    },
}
RESOURCE_DISPATCH = {
    "origin": 0,
    "status": 1,
    "priority": 2,
    "block": "",
    "address": "Alta St",
    "postal": "100",
    "title": "Officer Responding",
    "code": "",
    "description": "Shots fired",
    "notes": [{"time": "00:00:00", "label": "Dispatch", "type": "text", "content": "Officer Responding"}],
    "communityUserIds": ["1a2b3c"],
    "metaData": {"createdFromId": "7", "x": "1.5"},
}


def board(http: httpx.Client) -> dict[str, Any]:
    # The resource sends no query at all.
    answer = http.get(f"{S1}/calls")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


@pytest.fixture
def unit(provision: Provisioner, community: Community) -> int:
    lift_limits(provision, community)
    for endpoint in ("update_dispatch", "set_primary", "current_call"):
        provision.set_limit(community, endpoint, 1000)
    account = provision.account(community, "officer", "1a2b3c")
    return provision.unit(community, account["uuid"])


def test_get_calls_answers_both_spellings_with_no_query(
    server: Server, community: Community, unit: int
) -> None:
    with server.client(community.api_key) as http:
        emergency = http.post(f"{S1}/calls/911", json=RESOURCE_911).json()
        dispatch = http.post(f"{S1}/dispatch-calls", json=RESOURCE_DISPATCH).json()
        listed = board(http)
    assert listed["ActiveCalls"] == listed["activeCalls"] == [dispatch]
    assert listed["EmergencyCalls"] == listed["emergencyCalls"] == [emergency]
    assert listed["ClosedCalls"] == listed["closedCalls"] == []
    assert listed["ClosedCallCount"] == listed["closedCallCount"] == 0
    assert all(isinstance(call["callId"], int) for call in listed["ActiveCalls"] + listed["EmergencyCalls"])


def test_the_resources_911_call_is_taken_whole(server: Server, community: Community, unit: int) -> None:
    with server.client(community.api_key) as http:
        created = http.post(f"{S1}/calls/911", json=RESOURCE_911)
        assert created.status_code == 200, created.text
        (stored,) = board(http)["EmergencyCalls"]
    assert stored["metaData"] == RESOURCE_911["metaData"]
    assert stored["metaData"]["callerCommunityUserId"] == "nil"


@pytest.mark.parametrize("empty", [[], {}])
def test_an_empty_lua_table_is_an_empty_metadata_everywhere(
    server: Server, community: Community, unit: int, empty: Any
) -> None:
    with server.client(community.api_key) as http:
        emergency = http.post(f"{S1}/calls/911", json=new_911(metaData=empty))
        assert emergency.status_code == 200, emergency.text
        dispatch = http.post(
            f"{S1}/dispatch-calls", json={**RESOURCE_DISPATCH, "metaData": empty, "notes": []}
        )
        assert dispatch.status_code == 200, dispatch.text
        call_id = dispatch.json()["callId"]
        http.patch(f"{S1}/dispatch-calls/{call_id}", json={"metaData": {"x": "1"}})
        patched = http.patch(f"{S1}/dispatch-calls/{call_id}", json={"metaData": empty})
        assert patched.status_code == 200, patched.text
        listed = board(http)
    assert listed["EmergencyCalls"][0]["metaData"] == {}
    (call,) = listed["ActiveCalls"]
    assert call["metaData"] == {} and call["notes"] == []


def test_the_resources_notes_are_stored_and_stamped_by_the_server(
    server: Server, community: Community, unit: int, clock: ManualClock
) -> None:
    with server.client(community.api_key) as http:
        created = http.post(f"{S1}/dispatch-calls", json=RESOURCE_DISPATCH)
        assert created.status_code == 200, created.text
        (call,) = board(http)["ActiveCalls"]
    (note,) = call["notes"]
    assert {k: note[k] for k in ("label", "type", "content")} == {
        "label": "Dispatch",
        "type": "text",
        "content": "Officer Responding",
    }
    assert note["time"] == call["updated"]  # the server's time of the create, not "00:00:00"
    assert call["idents"] == [unit]


def test_event_911_carries_metadata_inside_the_call_and_beside_it(
    server: Server, community: Community, provision: Provisioner, unit: int
) -> None:
    with server.client(community.api_key) as http:
        created = http.post(f"{S1}/calls/911", json=RESOURCE_911).json()
    data = json.loads(provision.scalar("SELECT data FROM events WHERE type = 'EVENT_911'"))
    assert data["call"]["callId"] == created["callId"]
    assert data["call"]["metaData"] == data["metaData"] == RESOURCE_911["metaData"]


def test_patch_dispatch_call_honours_primary_and_track_primary(
    server: Server, community: Community, provision: Provisioner, unit: int
) -> None:
    other = provision.unit(community, provision.account(community, "second", "9z")["uuid"])
    with server.client(community.api_key) as http:
        call = http.post(
            f"{S1}/dispatch-calls", json={**RESOURCE_DISPATCH, "communityUserIds": ["1a2b3c", "9z"]}
        )
        call_id = call.json()["callId"]
        assert call.json()["primary"] == unit
        moved = http.patch(f"{S1}/dispatch-calls/{call_id}", json={"primary": other, "title": "Moved"})
        assert moved.status_code == 200, moved.text
        assert (moved.json()["primary"], moved.json()["title"]) == (other, "Moved")
        tracked = http.patch(f"{S1}/dispatch-calls/{call_id}", json={"trackPrimary": True})
        assert (tracked.json()["primary"], tracked.json()["trackPrimary"]) == (other, True)
        (stored,) = board(http)["ActiveCalls"]
        assert (stored["primary"], stored["trackPrimary"], stored["title"]) == (other, True, "Moved")

        # The rule of Update Call Primary: an unattached unit is refused, and nothing of the PATCH is kept.
        before = every_row_count(provision)
        refused = http.patch(f"{S1}/dispatch-calls/{call_id}", json={"primary": 999, "title": "Lost"})
        assert refused.status_code == 409 and "999" in refused.json()["detail"]
        assert every_row_count(provision) == before
        bad = http.patch(f"{S1}/dispatch-calls/{call_id}", json={"primary": "x", "trackPrimary": "yes"})
        assert bad.status_code == 400
        assert {e["field"] for e in bad.json()["errors"]} == {"primary", "trackPrimary"}
        cleared = http.patch(f"{S1}/dispatch-calls/{call_id}", json={"primary": -1})
        assert cleared.json()["primary"] == -1
        (stored,) = board(http)["ActiveCalls"]
    assert (stored["primary"], stored["title"]) == (-1, "Moved")
    with provision.db.engine.connect() as conn:
        edits = conn.exec_driver_sql("SELECT data FROM events WHERE type = 'EVENT_DISPATCH_EDIT'").scalars()
        edited = [json.loads(data)["dispatch"]["callId"] for data in edits]
    assert edited == [call_id] * 3  # one edit event per PATCH, its fields and primary together


def test_postal_primary_note_close_and_remove_answer_as_their_docs_pages(
    server: Server, community: Community, unit: int
) -> None:
    with server.client(community.api_key) as http:
        emergency = http.post(f"{S1}/calls/911", json=RESOURCE_911).json()
        call_id = http.post(f"{S1}/dispatch-calls", json=RESOURCE_DISPATCH).json()["callId"]
        answers = {
            "postal": http.patch(f"{S1}/dispatch-calls/{call_id}/postal", json={"postal": "9002"}).json(),
            "primary": http.patch(
                f"{S1}/dispatch-calls/{call_id}/primary", json={"identId": unit, "trackPrimary": True}
            ).json(),
            "note": http.post(
                f"{S1}/dispatch-calls/{call_id}/notes",
                json={"note": "Caller is hiding.", "noteType": "INFO", "label": "Dispatch"},
            ).json(),
            "resource note": http.post(
                f"{S1}/dispatch-calls/{call_id}/notes", json={"note": "plate AB12"}
            ).json(),
        }
        (call,) = board(http)["ActiveCalls"]
        answers["close"] = http.post(f"{S1}/dispatch-calls/close", json={"callIds": [call_id]}).json()
        answers["remove"] = http.delete(f"{S1}/calls/911/{emergency['callId']}").json()
        after = board(http)
    assert answers == {
        "postal": {"callId": call_id, "postal": "9002"},
        "primary": {"callId": call_id, "identId": unit, "trackPrimary": True},
        "note": {"callId": call_id, "note": "Caller is hiding."},
        "resource note": {"callId": call_id, "note": "plate AB12"},
        "close": {"callIds": [call_id]},
        "remove": {"callId": emergency["callId"], "serverId": 1},
    }
    assert (call["postal"], call["primary"], call["trackPrimary"]) == ("9002", unit, True)
    assert [(n["type"], n["content"]) for n in call["notes"][1:]] == [
        ("INFO", "Caller is hiding."),
        ("text", "plate AB12"),
    ]
    assert after["ClosedCalls"][0]["callId"] == call_id and after["EmergencyCalls"] == []


def test_current_call_of_an_account(
    server: Server, community: Community, provision: Provisioner, unit: int
) -> None:
    account = community.accounts["officer"]["uuid"]
    idle = provision.account(community, "idle")["uuid"]
    path = "/v2/emergency/accounts/{}/current-call"
    with server.client(community.api_key) as http:
        assert http.get(path.format(account)).json() == {"IdentId": unit, "CallId": None}
        assert http.get(path.format(idle)).json() == {"IdentId": None, "CallId": None}
        call_id = http.post(f"{S1}/dispatch-calls", json=RESOURCE_DISPATCH).json()["callId"]
        assert http.get(path.format(account)).json() == {"IdentId": unit, "CallId": call_id}
        http.post(f"{S1}/dispatch-calls/close", json={"callIds": [call_id]})
        assert http.get(path.format(account)).json() == {"IdentId": unit, "CallId": None}
        unknown = http.get(path.format("00000000-0000-0000-0000-000000000000"))
        assert unknown.status_code == 404


# Each calls operation's per-key limit as its docs page states it; the seed pages' three stay.
DOCS_LIMITS = {
    "create_911": 10,
    "create_dispatch": 20,
    "get_calls": 3,  # the seed page's; the current docs say 5
    "remove_911": 10,
    "update_dispatch": 10,
    "attach_units": 10,
    "detach_units": 10,
    "add_note": 60,
    "close_calls": 20,
    "set_postal": 20,
    "set_primary": 10,
    "current_call": 10,
}


def test_calls_operations_have_their_docs_pages_limits() -> None:
    assert {name: DEFAULT_LIMITS[name] for name in DOCS_LIMITS} == DOCS_LIMITS
    assert {"dispatch_templates", "create_custom_dispatch"} <= set(DEFAULT_LIMITS)


def test_the_limit_of_a_calls_operation_is_enforced_per_key(server: Server, community: Community) -> None:
    with server.client(community.api_key) as http:
        path = "/v2/emergency/accounts/00000000-0000-0000-0000-000000000000/current-call"
        statuses = [http.get(path).status_code for _ in range(DOCS_LIMITS["current_call"] + 1)]
    assert statuses == [404] * DOCS_LIMITS["current_call"] + [429]
