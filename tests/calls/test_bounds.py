"""The bounds of what a server's calls store: at the bound stored, one over refused, nothing kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from opendispatch.calls import service as calls
from opendispatch.calls.schemas import (
    MAX_CALL_BYTES,
    MAX_CALL_EVENT_BYTES,
    MAX_CALL_LISTING_BYTES,
    MAX_CALL_NOTES,
    MAX_CALL_UNITS,
    MAX_CLOSED_PAGE,
    MAX_EMERGENCY_CALL_BYTES,
    MAX_OPEN_DISPATCH_CALLS,
    MAX_OPEN_EMERGENCY_CALLS,
    DispatchCall,
    NewDispatchCall,
    NewEmergencyCall,
)
from opendispatch.history.schemas import MAX_HISTORY_PAGE, Actor
from opendispatch.settings import Settings
from opendispatch.web import board
from tests.support import (
    Community,
    ManualClock,
    Provisioner,
    Server,
    in_process_server,
    lift_limits,
    new_911,
    new_dispatch,
)

S1 = "/v2/emergency/servers/1"
SEEDER = Actor("apiKey", "key#seed")


@pytest.fixture
def http(server: Server, community: Community, provision: Provisioner) -> Any:
    lift_limits(provision, community)
    with server.client(community.api_key) as client:
        yield client


def refused(answer: httpx.Response, bound: str) -> None:
    """A 409 problem whose detail names the bound."""
    assert answer.status_code == 409, answer.text[:300]
    assert answer.headers["content-type"] == "application/problem+json"
    assert bound in answer.json()["detail"], answer.json()


def seed_911_calls(provision: Provisioner, community: Community, count: int) -> None:
    body = NewEmergencyCall.model_validate(new_911())
    with provision.db.transaction() as conn:
        for _ in range(count):
            calls.open_emergency_call(
                conn,
                community_id=community.community_id,
                server_id=1,
                call=body,
                now=provision.now(),
                actor=SEEDER,
            )


def seed_dispatch_calls(provision: Provisioner, community: Community, count: int, status: int = 1) -> None:
    body = NewDispatchCall.model_validate(new_dispatch(status=status))
    with provision.db.transaction() as conn:
        for _ in range(count):
            calls.open_dispatch_call(
                conn,
                community_id=community.community_id,
                server_id=1,
                call=body,
                now=provision.now(),
                actor=SEEDER,
            )


def listing(http: httpx.Client, **params: Any) -> dict[str, Any]:
    answer = http.get(f"{S1}/calls", params={"type": 100, **params})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def dispatch_call(http: httpx.Client, call_id: int) -> dict[str, Any]:
    found = listing(http, closedLimit=100)
    return next(call for call in found["activeCalls"] + found["closedCalls"] if call["callId"] == call_id)


def test_a_server_holds_at_most_its_bound_of_911_calls_in_the_queue(
    http: httpx.Client, provision: Provisioner, community: Community
) -> None:
    seed_911_calls(provision, community, MAX_OPEN_EMERGENCY_CALLS - 1)
    last = http.post(f"{S1}/calls/911", json=new_911(caller="The hundredth"))
    assert last.status_code == 200, last.text
    over = http.post(f"{S1}/calls/911", json=new_911(caller="One too many"))
    refused(over, f"open 911 calls per server: {MAX_OPEN_EMERGENCY_CALLS}")
    queue = listing(http)["emergencyCalls"]
    assert len(queue) == MAX_OPEN_EMERGENCY_CALLS
    assert "One too many" not in {call["caller"] for call in queue}
    # The other server has its own queue; a removed call makes room again.
    assert http.post("/v2/emergency/servers/2/calls/911", json=new_911()).status_code == 200
    assert http.delete(f"{S1}/calls/911/{last.json()['callId']}").status_code == 200
    assert http.post(f"{S1}/calls/911", json=new_911()).status_code == 200


def test_a_server_holds_at_most_its_bound_of_open_dispatch_calls(
    http: httpx.Client, provision: Provisioner, community: Community
) -> None:
    seed_dispatch_calls(provision, community, 1, status=2)  # a closed call takes no room
    seed_dispatch_calls(provision, community, MAX_OPEN_DISPATCH_CALLS - 1)
    last = http.post(f"{S1}/dispatch-calls", json=new_dispatch(title="The hundredth"))
    assert last.status_code == 200, last.text
    over = http.post(f"{S1}/dispatch-calls", json=new_dispatch(title="One too many"))
    refused(over, f"open dispatch calls per server: {MAX_OPEN_DISPATCH_CALLS}")
    found = listing(http, closedLimit=100)
    assert len(found["activeCalls"]) == MAX_OPEN_DISPATCH_CALLS
    assert "One too many" not in {call["title"] for call in found["activeCalls"] + found["closedCalls"]}
    # A closed call may still be made; reopening one is opening one, refused at the bound.
    closed = http.post(f"{S1}/dispatch-calls", json=new_dispatch(status=2, title="Logged after the fact"))
    assert closed.status_code == 200, closed.text
    reopened = http.patch(f"{S1}/dispatch-calls/{closed.json()['callId']}", json={"status": 1})
    refused(reopened, "open dispatch calls per server")
    assert dispatch_call(http, closed.json()["callId"])["status"] == 2
    # Closing one makes room.
    assert (
        http.post(f"{S1}/dispatch-calls/close", json={"callIds": [last.json()["callId"]]}).status_code == 200
    )
    assert http.patch(f"{S1}/dispatch-calls/{closed.json()['callId']}", json={"status": 1}).status_code == 200


def test_a_call_holds_at_most_its_bound_of_notes(http: httpx.Client) -> None:
    notes = [{"label": "", "type": "text", "content": f"note {n}"} for n in range(MAX_CALL_NOTES)]
    too_many = http.post(f"{S1}/dispatch-calls", json=new_dispatch(notes=[*notes, notes[0]]))
    assert too_many.status_code == 400 and too_many.json()["errors"][0]["field"] == "notes"
    assert listing(http)["activeCalls"] == []
    call = http.post(f"{S1}/dispatch-calls", json=new_dispatch(notes=notes[:-1])).json()
    added = http.post(f"{S1}/dispatch-calls/{call['callId']}/notes", json={"note": "the last one"})
    assert added.status_code == 200, added.text
    over = http.post(f"{S1}/dispatch-calls/{call['callId']}/notes", json={"note": "one too many"})
    refused(over, f"notes per call: {MAX_CALL_NOTES}")
    stored = dispatch_call(http, call["callId"])["notes"]
    assert len(stored) == MAX_CALL_NOTES and stored[-1]["content"] == "the last one"


def weight(call: dict[str, Any]) -> int:
    return calls.call_bytes(DispatchCall.model_validate(call))


def fattest_call(http: httpx.Client) -> dict[str, Any]:
    """A dispatch call of exactly MAX_CALL_BYTES: a full description, then notes to the last byte."""
    call = http.post(f"{S1}/dispatch-calls", json=new_dispatch(description="d" * 10_000)).json()
    call_id = call["callId"]
    for _ in range(2):
        assert (
            http.post(f"{S1}/dispatch-calls/{call_id}/notes", json={"note": "n" * 9_000}).status_code == 200
        )
    before = weight(dispatch_call(http, call_id))
    assert http.post(f"{S1}/dispatch-calls/{call_id}/notes", json={"note": "x"}).status_code == 200
    overhead = weight(dispatch_call(http, call_id)) - before - 1  # what a note weighs besides its text
    rest = MAX_CALL_BYTES - weight(dispatch_call(http, call_id)) - overhead
    assert 0 < rest <= 10_000
    last = http.post(f"{S1}/dispatch-calls/{call_id}/notes", json={"note": "z" * rest})
    assert last.status_code == 200, last.text
    fattest = dispatch_call(http, call_id)
    assert weight(fattest) == MAX_CALL_BYTES
    return fattest


def test_a_call_weighs_at_most_its_bound_with_its_notes_and_metadata(http: httpx.Client) -> None:
    call = fattest_call(http)
    call_id = call["callId"]
    over = http.post(f"{S1}/dispatch-calls/{call_id}/notes", json={"note": "!"})
    refused(over, f"the size of a call is at most {MAX_CALL_BYTES} bytes")
    grown = http.patch(f"{S1}/dispatch-calls/{call_id}", json={"title": call["title"] + "!"})
    refused(grown, "size of a call")
    meta = http.patch(f"{S1}/dispatch-calls/{call_id}", json={"metaData": {**call["metaData"], "k": "v"}})
    refused(meta, "size of a call")
    assert dispatch_call(http, call_id) == call  # nothing of the three was kept
    # Smaller is always allowed.
    shorter = http.patch(f"{S1}/dispatch-calls/{call_id}", json={"title": "Short"})
    assert shorter.status_code == 200 and dispatch_call(http, call_id)["title"] == "Short"


def test_a_new_call_over_the_size_is_refused_and_not_stored(http: httpx.Client) -> None:
    meta = {f"key{n}": "m" * 1000 for n in range(7)}
    fat_911 = http.post(f"{S1}/calls/911", json=new_911(description="d" * 10_000, metaData=meta))
    refused(fat_911, f"the size of a 911 call is at most {MAX_EMERGENCY_CALL_BYTES} bytes")
    notes = [{"label": "", "type": "text", "content": "n" * 10_000} for _ in range(4)]
    fat_dispatch = http.post(f"{S1}/dispatch-calls", json=new_dispatch(notes=notes))
    refused(fat_dispatch, "size of a call")
    found = listing(http)
    assert found["emergencyCalls"] == [] and found["activeCalls"] == []


def officers(provision: Provisioner, community: Community, count: int) -> list[str]:
    """In-game ids of ``count`` new officers, each with a unit on server 1."""
    named = []
    for number in range(count):
        account = provision.account(community, f"officer{number}", f"license:{number}")
        provision.unit(community, account["uuid"])
        named.append(f"license:{number}")
    return named


def test_an_edit_event_of_the_fattest_call_stays_under_the_documented_size(
    http: httpx.Client, provision: Provisioner, community: Community
) -> None:
    call = fattest_call(http)
    units = officers(provision, community, MAX_CALL_UNITS)
    attached = http.post(
        f"{S1}/dispatch-calls/{call['callId']}/attachments", json={"communityUserIds": units}
    )
    assert attached.status_code == 200, attached.text
    edited = http.patch(f"{S1}/dispatch-calls/{call['callId']}", json={"priority": 3})
    assert edited.status_code == 200, edited.text
    data = provision.scalar(
        "SELECT data FROM events WHERE type = 'EVENT_DISPATCH_EDIT' ORDER BY event_id DESC LIMIT 1"
    )
    pushed = orjson.loads(data)["dispatch"]
    assert pushed["priority"] == 3 and len(pushed["idents"]) == MAX_CALL_UNITS
    assert MAX_CALL_BYTES < len(data.encode()) <= MAX_CALL_EVENT_BYTES


def test_a_call_holds_at_most_its_bound_of_units(
    http: httpx.Client, provision: Provisioner, community: Community
) -> None:
    units = officers(provision, community, MAX_CALL_UNITS + 1)
    call = http.post(f"{S1}/dispatch-calls", json=new_dispatch()).json()
    full = http.post(
        f"{S1}/dispatch-calls/{call['callId']}/attachments", json={"communityUserIds": units[:-1]}
    )
    assert full.status_code == 200 and len(full.json()["identIds"]) == MAX_CALL_UNITS
    over = http.post(
        f"{S1}/dispatch-calls/{call['callId']}/attachments", json={"communityUserIds": units[-1:]}
    )
    refused(over, f"units per call ({MAX_CALL_UNITS})")
    assert len(dispatch_call(http, call["callId"])["idents"]) == MAX_CALL_UNITS
    # Made with more units than a call holds: refused whole.
    crowded = http.post(f"{S1}/dispatch-calls", json=new_dispatch(communityUserIds=units[:-1]))
    assert crowded.status_code == 200  # the units move from the first call: 100, at the bound
    another = http.post(
        f"{S1}/dispatch-calls/{crowded.json()['callId']}/attachments", json={"units": units[-1:]}
    )
    refused(another, "units per call")


def test_get_calls_of_a_full_server_stays_under_its_documented_size(
    http: httpx.Client, provision: Provisioner, community: Community
) -> None:
    """Every open call and a full page of closed ones, each near the size of a call: within the bound."""
    notes = [{"label": "", "type": "text", "content": "n" * 5_000} for _ in range(4)]
    fat_call = new_dispatch(description="d" * 10_000, notes=notes)
    fat_911 = new_911(description="d" * 10_000, metaData={f"k{n}": "m" * 1000 for n in range(5)})
    with provision.db.transaction() as conn:
        for _ in range(MAX_OPEN_EMERGENCY_CALLS):
            calls.open_emergency_call(
                conn,
                community_id=community.community_id,
                server_id=1,
                call=NewEmergencyCall.model_validate(fat_911),
                now=provision.now(),
                actor=SEEDER,
            )
        for status in (1, 2):
            for _ in range(MAX_OPEN_DISPATCH_CALLS):
                calls.open_dispatch_call(
                    conn,
                    community_id=community.community_id,
                    server_id=1,
                    call=NewDispatchCall.model_validate({**fat_call, "status": status}),
                    now=provision.now(),
                    actor=SEEDER,
                )
    answer = http.get(f"{S1}/calls", params={"type": 100, "closedLimit": MAX_CLOSED_PAGE})
    assert answer.status_code == 200
    found = answer.json()
    assert len(found["activeCalls"]) == MAX_OPEN_DISPATCH_CALLS == len(found["closedCalls"])
    assert len(found["EmergencyCalls"]) == MAX_OPEN_EMERGENCY_CALLS
    assert MAX_CALL_LISTING_BYTES // 2 < len(answer.content) <= MAX_CALL_LISTING_BYTES


def test_a_call_history_is_read_in_pages_with_every_stint(
    http: httpx.Client, provision: Provisioner, community: Community
) -> None:
    [unit] = officers(provision, community, 1)
    call = http.post(f"{S1}/dispatch-calls", json=new_dispatch(communityUserIds=[unit])).json()
    path = f"{S1}/dispatch-calls/{call['callId']}/history"
    for number in range(5):
        edited = http.patch(f"{S1}/dispatch-calls/{call['callId']}", json={"title": f"T{number}"})
        assert edited.status_code == 200
    whole = http.get(path).json()
    total = whole["entryCount"]
    assert total == len(whole["entries"]) >= 7
    first = http.get(path, params={"limit": 2}).json()
    rest = http.get(path, params={"limit": MAX_HISTORY_PAGE, "offset": 2}).json()
    assert first["entries"] + rest["entries"] == whole["entries"]
    assert first["entryCount"] == rest["entryCount"] == total
    # The units' stints come whole with every page.
    assert first["units"] == rest["units"] == whole["units"] and len(whole["units"]) == 1
    too_long = http.get(path, params={"limit": MAX_HISTORY_PAGE + 1})
    assert too_long.status_code == 400 and too_long.json()["errors"][0]["field"] == "limit"


def test_the_bounds_on_open_calls_are_off_only_when_the_settings_say_so(
    settings: Settings,
    provision: Provisioner,
    community: Community,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(calls, "MAX_OPEN_EMERGENCY_CALLS", 1)
    monkeypatch.setattr(calls, "MAX_OPEN_DISPATCH_CALLS", 1)
    unbounded = settings.model_copy(update={"open_call_bounds": False})
    with in_process_server(unbounded, clock) as bench, bench.client(community.api_key) as http:
        for _ in range(3):
            assert http.post(f"{S1}/calls/911", json=new_911()).status_code == 200
            assert http.post(f"{S1}/dispatch-calls", json=new_dispatch()).status_code == 200
    with in_process_server(settings, clock) as server, server.client(community.api_key) as http:
        refused(http.post(f"{S1}/calls/911", json=new_911()), "open 911 calls per server")
        refused(http.post(f"{S1}/dispatch-calls", json=new_dispatch()), "open dispatch calls per server")


def test_the_limits_table_states_the_computed_maxima() -> None:
    api = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    for value in (MAX_CALL_EVENT_BYTES, MAX_CALL_LISTING_BYTES, board.MAX_BOARD_BYTES):
        assert f"{value:,}".replace(",", " ") in api, value
