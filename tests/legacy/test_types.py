"""Every v1 type, sent the way the JS SDK sends it and the way the older in-game resource sends it.

Each row: the path, the body's ``type`` and ``data`` exactly as that client builds them, the exact answer
and its status, and the change as v2 shows it (Get Calls for calls, Get Units for units).

The JS SDK (Sonoran.js) posts to ``{cadApiUrl}/{area}/{type}`` with ``{id, key, type, data, product}``;
it sends 911_CALL, SET_CALL_POSTAL and SET_CALL_PRIMARY as positional items ``{"0": .., "1": ..}`` and
wraps UNIT_LOCATION's array of locations in one more array. The Lua resource sends serverId as text
(``GetConvar`` returns strings), names players by ``apiId``/``units``, writes empty tables as ``[]`` and
stamps notes '00:00:00'.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.legacy.v1 import S1, World, envelope, sdk_body

Data = Callable[[World], Any]
Check = Callable[[World, httpx.Response], None]


@dataclass(frozen=True)
class Case:
    id: str
    path: str
    type: str
    data: Data
    answer: Callable[[World], str] | None  # None: a JSON answer, checked by `effect`
    effect: Check
    sdk: bool = True  # the JS SDK adds `product`; the in-game resource does not

    def body(self, world: World) -> dict[str, Any]:
        data = self.data(world)
        if self.sdk:
            return sdk_body(world.community, self.type, data)
        return envelope(world.community, self.type, data)


def next_id(world: World) -> int:
    return world.dispatch_id + 1


# -- effects, as v2 shows them ---------------------------------------------------------------------------


def new_911_listed(**fields: Any) -> Check:
    def check(world: World, _answer: httpx.Response) -> None:
        listed = {call["callId"]: call for call in world.board()["emergencyCalls"]}
        call = listed[next_id(world)]
        assert {name: call[name] for name in fields} == fields

    return check


def two_911s_listed(world: World, _answer: httpx.Response) -> None:
    listed = {call["callId"]: call for call in world.board()["emergencyCalls"]}
    assert listed[next_id(world)]["caller"] == "First Caller"
    assert listed[next_id(world) + 1]["caller"] == "Second Caller"


def emergency_gone(world: World, _answer: httpx.Response) -> None:
    assert [call["callId"] for call in world.board()["emergencyCalls"]] == []


def same_as_v2_get_calls(world: World, answer: httpx.Response) -> None:
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json() == world.v2.get(f"{S1}/calls").json()
    assert [call["callId"] for call in answer.json()["activeCalls"]] == [world.dispatch_id]


def new_dispatch_listed(*, unit: int, notes: list[str]) -> Check:
    def check(world: World, _answer: httpx.Response) -> None:
        call = world.dispatch(next_id(world))
        assert call["idents"] == [world.idents[unit]] and call["primary"] == world.idents[unit]
        assert [note["content"] for note in call["notes"]] == notes
        assert call["status"] == 1 and call["title"] == "Structure Fire"
        # A note with no real time gets the server's.
        assert all(note["time"].endswith("Z") and note["time"][:2] == "20" for note in call["notes"])

    return check


def dispatch_has(**fields: Any) -> Check:
    def check(world: World, _answer: httpx.Response) -> None:
        call = world.dispatch()
        wanted = {name: value(world) if callable(value) else value for name, value in fields.items()}
        assert {name: call[name] for name in wanted} == wanted

    return check


def note_added(content: str, label: str) -> Check:
    def check(world: World, _answer: httpx.Response) -> None:
        notes = world.dispatch()["notes"]
        assert [(note["content"], note["label"]) for note in notes] == [(content, label)]

    return check


def dispatch_closed(world: World, _answer: httpx.Response) -> None:
    board = world.board()
    assert [call["callId"] for call in board["closedCalls"]] == [world.dispatch_id]
    assert board["activeCalls"] == [] and board["closedCallCount"] == 1


def unit_has(unit: int, **fields: Any) -> Check:
    def check(world: World, _answer: httpx.Response) -> None:
        found = world.units()[world.idents[unit]]
        assert {name: found[name] for name in fields} == fields

    return check


def v1_units_listed(*, online_only: bool) -> Check:
    def check(world: World, answer: httpx.Response) -> None:
        assert answer.headers["content-type"].startswith("application/json")
        v2 = world.units()
        listed = answer.json()
        expected = [ident for ident in world.idents if not online_only or v2[ident]["status"] != 100]
        assert [unit["id"] for unit in listed] == expected
        for unit in listed:
            mine = v2[unit["id"]]
            assert unit["accId"] == mine["accId"] and unit["status"] == mine["status"]
            assert unit["data"]["apiIds"] == [mine["data"]["communityUserId"]]
            assert unit["data"]["apiId1"] == mine["data"]["communityUserId"]
            assert unit["data"]["unitNum"] == mine["data"]["unitNum"]

    return check


def plan_digit(world: World, answer: httpx.Response) -> None:
    assert answer.headers["content-type"].startswith("text/plain")
    assert int(answer.text) == world.v2.get("/v2/general/version").json()["version"] == 4


def servers_listed(world: World, answer: httpx.Response) -> None:
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json() == world.v2.get("/v2/general/servers").json()
    listed = answer.json()["servers"]
    assert [(server["id"], server["name"]) for server in listed] == [(1, "Server 1"), (2, "Server 2")]


def nothing(_world: World, _answer: httpx.Response) -> None:
    pass


def then(*checks: Check) -> Check:
    def check(world: World, answer: httpx.Response) -> None:
        for each in checks:
            each(world, answer)

    return check


# -- the table ------------------------------------------------------------------------------------------

REFERENCE_911 = {
    "serverId": 1,
    "isEmergency": True,
    "caller": "John Doe",
    "location": "1234 E. Test St.",
    "description": "Help, someone is breaking into my house!",
    "metaData": {"someKey": "someValue", "x": 1000, "y": 1000},
    "deleteAfterMinutes": 30,
}

NEW_DISPATCH_SDK = {
    "serverId": 1,
    "origin": 0,
    "status": 1,
    "priority": 2,
    "block": "200",
    "address": "Grove St",
    "postal": "104",
    "title": "Structure Fire",
    "code": "10-70",
    "primary": 0,
    "trackPrimary": False,
    "description": "Smoke from the roof.",
    "notes": [{"time": "2026-04-08T21:30:00Z", "label": "Caller", "type": "text", "content": "Kids inside"}],
    "metaData": {"x": "10.5", "y": "-20.5"},
    "units": ["license:1"],
}

CASES = [
    # 911 calls ------------------------------------------------------------------------------------------
    Case(
        "CALL_911 reference example",
        "/emergency/call_911",
        "CALL_911",
        lambda w: [REFERENCE_911],
        lambda w: f"EMERGENCY CALL ADDED ID: {next_id(w)}",
        new_911_listed(
            caller="John Doe",
            isEmergency=True,
            metaData={"someKey": "someValue", "x": "1000", "y": "1000"},
        ),
        sdk=False,
    ),
    Case(
        "CALL_911 resource",
        "/emergency/call_911",
        "CALL_911",
        lambda w: [
            {
                "serverId": "1",
                "isEmergency": True,
                "caller": "Pedro Alvarez",
                "location": "Vinewood Blvd",
                "description": "Someone is shooting",
                "metaData": {"plate": "", "postal": 5012, "useCallLocation": False, "silenceAlert": False},
                "deleteAfter": 15,
            }
        ],
        lambda w: f"EMERGENCY CALL ADDED ID: {next_id(w)}",
        new_911_listed(
            caller="Pedro Alvarez",
            location="Vinewood Blvd",
            metaData={"plate": "", "postal": "5012", "useCallLocation": "false", "silenceAlert": "false"},
        ),
        sdk=False,
    ),
    Case(
        "CALL_911 resource two items",
        "/emergency/call_911",
        "CALL_911",
        lambda w: [
            {"serverId": "1", "isEmergency": True, "caller": name, "location": "Pier", "description": "Help"}
            for name in ("First Caller", "Second Caller")
        ],
        lambda w: f"EMERGENCY CALL ADDED ID: {next_id(w)}\nEMERGENCY CALL ADDED ID: {next_id(w) + 1}",
        two_911s_listed,
        sdk=False,
    ),
    Case(
        "CALL_911 resource oldest path",
        "/emergency",
        "CALL_911",
        lambda w: [{"isEmergency": False, "caller": "Clerk", "location": "24/7", "description": "Theft"}],
        lambda w: f"EMERGENCY CALL ADDED ID: {next_id(w)}",
        new_911_listed(caller="Clerk", isEmergency=False, metaData={}),
        sdk=False,
    ),
    Case(
        "911_CALL sdk positional",
        "/emergency/911_call",
        "911_CALL",
        lambda w: [{"0": 1, "1": False, "2": "Bot", "3": "Sandy Shores", "4": "Noise", "5": {"via": "bot"}}],
        lambda w: f"EMERGENCY CALL ADDED ID: {next_id(w)}",
        new_911_listed(caller="Bot", location="Sandy Shores", description="Noise", metaData={"via": "bot"}),
    ),
    Case(
        "REMOVE_911 sdk",
        "/emergency/remove_911",
        "REMOVE_911",
        lambda w: [{"serverId": 1, "callId": w.emergency_id}],
        lambda w: f"EMERGENCY CALL REMOVED ID: {w.emergency_id}",
        emergency_gone,
    ),
    Case(
        "REMOVE_911 resource",
        "/emergency/remove_911",
        "REMOVE_911",
        lambda w: [{"serverId": "1", "callId": w.emergency_id}],
        lambda w: f"EMERGENCY CALL REMOVED ID: {w.emergency_id}",
        emergency_gone,
        sdk=False,
    ),
    # reading calls -------------------------------------------------------------------------------------
    Case(
        "GET_CALLS sdk",
        "/emergency/get_calls",
        "GET_CALLS",
        lambda w: [{"serverId": 1, "closedLimit": 10, "closedOffset": 0}],
        None,
        same_as_v2_get_calls,
    ),
    Case(
        "GET_CALLS resource",
        "/emergency/get_calls",
        "GET_CALLS",
        lambda w: [{"serverId": "1"}],
        None,
        same_as_v2_get_calls,
        sdk=False,
    ),
    # dispatch calls ------------------------------------------------------------------------------------
    Case(
        "NEW_DISPATCH sdk",
        "/emergency/new_dispatch",
        "NEW_DISPATCH",
        lambda w: [NEW_DISPATCH_SDK],
        lambda w: f"NEW DISPATCH CREATED - ID: {next_id(w)}",
        then(
            new_dispatch_listed(unit=1, notes=["Kids inside"]),
            dispatch_has(idents=lambda w: [w.idents[0]]),  # officer 1 was free; officer 0 stays put
        ),
    ),
    Case(
        "NEW_DISPATCH resource",
        "/emergency/new_dispatch",
        "NEW_DISPATCH",
        lambda w: [
            {
                "serverId": "1",
                "origin": 0,
                "status": 1,
                "priority": 2,
                "block": "",
                "code": "",
                "postal": "",
                "address": "Grove St",
                "title": "Structure Fire",
                "description": "Smoke",
                "isEmergency": True,
                "notes": [
                    {"time": "00:00:00", "label": "Dispatch", "type": "text", "content": "Officer Responding"}
                ],
                "metaData": [],
                "units": ["license:0"],
            }
        ],
        lambda w: f"NEW DISPATCH CREATED - ID: {next_id(w)}",
        then(
            new_dispatch_listed(unit=0, notes=["Officer Responding"]),
            # A unit works one call at a time: officer 0 left the call he was on.
            dispatch_has(idents=[], primary=-1),
        ),
        sdk=False,
    ),
    Case(
        "EDIT_DISPATCH sdk",
        "/emergency/edit_dispatch",
        "EDIT_DISPATCH",
        lambda w: [{"serverId": 1, "callId": w.dispatch_id, "title": "Robbery in progress", "priority": 3}],
        lambda w: f"DISPATCH CALL {w.dispatch_id} UPDATED",
        dispatch_has(title="Robbery in progress", priority=3, postal="9001"),
    ),
    Case(
        "EDIT_DISPATCH sdk with trackPrimary",
        "/emergency/edit_dispatch",
        "EDIT_DISPATCH",
        lambda w: [{"serverId": 1, "callId": w.dispatch_id, "code": "10-31", "trackPrimary": True}],
        lambda w: f"DISPATCH CALL {w.dispatch_id} UPDATED",
        dispatch_has(code="10-31", trackPrimary=True, primary=lambda w: w.idents[0]),
    ),
    Case(
        "ATTACH_UNIT sdk",
        "/emergency/attach_unit",
        "ATTACH_UNIT",
        lambda w: [{"serverId": 1, "callId": w.dispatch_id, "units": ["license:1"]}],
        lambda w: "UNITS ATTACHED",
        dispatch_has(idents=lambda w: w.idents, primary=lambda w: w.idents[0]),
    ),
    Case(
        "ATTACH_UNIT sdk identIds",
        "/emergency/attach_unit",
        "ATTACH_UNIT",
        lambda w: [{"serverId": 1, "callId": w.dispatch_id, "identIds": [w.idents[1]]}],
        lambda w: "UNITS ATTACHED",
        dispatch_has(idents=lambda w: w.idents),
    ),
    Case(
        "ATTACH_UNIT resource",
        "/emergency/attach_unit",
        "ATTACH_UNIT",
        lambda w: [{"callId": w.dispatch_id, "units": ["license:1"], "serverId": "1"}],
        lambda w: "UNITS ATTACHED",
        dispatch_has(idents=lambda w: w.idents),
        sdk=False,
    ),
    Case(
        "DETACH_UNIT sdk",
        "/emergency/detach_unit",
        "DETACH_UNIT",
        lambda w: [{"serverId": 1, "units": ["license:0"]}],
        lambda w: "UNITS DETACHED",
        dispatch_has(idents=[], primary=-1),
    ),
    Case(
        "DETACH_UNIT sdk account",
        "/emergency/detach_unit",
        "DETACH_UNIT",
        lambda w: [{"serverId": 1, "account": w.accounts[0]}],
        lambda w: "UNITS DETACHED",
        dispatch_has(idents=[], primary=-1),
    ),
    Case(
        "DETACH_UNIT resource",
        "/emergency/detach_unit",
        "DETACH_UNIT",
        lambda w: [{"callId": w.dispatch_id, "units": ["license:0"], "serverId": "1"}],
        lambda w: "UNITS DETACHED",
        dispatch_has(idents=[], primary=-1),
        sdk=False,
    ),
    Case(
        "ADD_CALL_NOTE sdk",
        "/emergency/add_call_note",
        "ADD_CALL_NOTE",
        lambda w: [{"serverId": 1, "callId": w.dispatch_id, "note": "Suspect fled north", "label": "1A-00"}],
        lambda w: f"NOTE 'Suspect fled north' added to call #{w.dispatch_id}",
        note_added("Suspect fled north", "1A-00"),
    ),
    Case(
        "ADD_CALL_NOTE resource",
        "/emergency/add_call_note",
        "ADD_CALL_NOTE",
        lambda w: [{"serverId": "1", "note": "Caller is the owner", "callId": str(w.dispatch_id)}],
        lambda w: f"NOTE 'Caller is the owner' added to call #{w.dispatch_id}",
        note_added("Caller is the owner", ""),
        sdk=False,
    ),
    Case(
        "CLOSE_CALL sdk",
        "/emergency/close_call",
        "CLOSE_CALL",
        lambda w: [{"serverId": 1, "callId": w.dispatch_id}],
        lambda w: f"DISPATCH CALL {w.dispatch_id} CLOSED",
        dispatch_closed,
    ),
    Case(
        "SET_CALL_POSTAL sdk positional",
        "/emergency/set_call_postal",
        "SET_CALL_POSTAL",
        lambda w: [{"0": 1, "1": w.dispatch_id, "2": "7001"}],
        lambda w: f"CALL {w.dispatch_id} POSTAL SET TO 7001",
        dispatch_has(postal="7001"),
    ),
    Case(
        "SET_CALL_POSTAL resource",
        "/emergency/set_call_postal",
        "SET_CALL_POSTAL",
        lambda w: [{"callId": w.dispatch_id, "postal": 7001, "serverId": "1"}],
        lambda w: f"CALL {w.dispatch_id} POSTAL SET TO 7001",
        dispatch_has(postal="7001"),
        sdk=False,
    ),
    Case(
        "SET_CALL_PRIMARY sdk positional",
        "/emergency/set_call_primary",
        "SET_CALL_PRIMARY",
        lambda w: [{"0": 1, "1": w.dispatch_id, "2": -1, "3": True}],
        lambda w: f"CALL {w.dispatch_id} PRIMARY SET TO -1",
        dispatch_has(primary=-1, trackPrimary=True),
    ),
    # units ---------------------------------------------------------------------------------------------
    Case(
        "UNIT_STATUS sdk",
        "/emergency/unit_status",
        "UNIT_STATUS",
        lambda w: [{"apiId": "license:0", "status": 3, "serverId": 1}],
        lambda w: "UNIT STATUS UPDATED",
        then(unit_has(0, status=3), unit_has(1, status=0)),
    ),
    Case(
        "UNIT_STATUS sdk identIds",
        "/emergency/unit_status",
        "UNIT_STATUS",
        lambda w: [{"status": 2, "serverId": 1, "identIds": [w.idents[1]]}],
        lambda w: "UNIT STATUS UPDATED",
        then(unit_has(1, status=2), unit_has(0, status=0)),
    ),
    Case(
        "UNIT_STATUS resource",
        "/emergency/unit_status",
        "UNIT_STATUS",
        lambda w: [{"apiId": "license:1", "status": 4, "serverId": "1"}],
        lambda w: "UNIT STATUS UPDATED",
        unit_has(1, status=4),
        sdk=False,
    ),
    Case(
        "UNIT_PANIC sdk",
        "/emergency/unit_panic",
        "UNIT_PANIC",
        lambda w: [{"apiId": "license:0", "isPanic": True}],
        lambda w: "UNIT PANIC UPDATED",
        then(unit_has(0, isPanic=True), unit_has(1, isPanic=False)),
    ),
    Case(
        "UNIT_PANIC resource",
        "/emergency/unit_panic",
        "UNIT_PANIC",
        lambda w: [{"isPanic": True, "apiId": "license:1"}],
        lambda w: "UNIT PANIC UPDATED",
        unit_has(1, isPanic=True),
        sdk=False,
    ),
    Case(
        "UNIT_LOCATION sdk nested",
        "/emergency/unit_location",
        "UNIT_LOCATION",
        lambda w: [[{"apiId": "license:0", "location": "Legion Square"}]],
        lambda w: "UNIT LOCATION UPDATED",
        unit_has(0, location="Legion Square", coordinates=None),
    ),
    Case(
        "UNIT_LOCATION resource",
        "/emergency/unit_location",
        "UNIT_LOCATION",
        lambda w: [
            {"apiId": "license:0", "location": "Route 68", "coordinates": {"x": 1.5, "y": -2.5, "z": 30.0}},
            {"apiId": "license:1", "location": "Paleto Bay", "coordinates": [10.0, 20.0, 5.0]},
            {"apiId": "steam:nobody", "location": "Nowhere"},
        ],
        lambda w: "UNIT LOCATION UPDATED",
        then(
            unit_has(0, location="Route 68", coordinates={"x": 1.5, "y": -2.5, "z": 30.0, "w": None}),
            unit_has(1, location="Paleto Bay", coordinates={"x": 10.0, "y": 20.0, "z": 5.0, "w": None}),
        ),
        sdk=False,
    ),
    Case(
        "GET_ACTIVE_UNITS sdk",
        "/emergency/get_active_units",
        "GET_ACTIVE_UNITS",
        lambda w: [{"serverId": 1, "includeOffline": True, "onlyUnits": True}],
        None,
        v1_units_listed(online_only=False),
    ),
    Case(
        "GET_ACTIVE_UNITS resource",
        "/emergency/get_active_units",
        "GET_ACTIVE_UNITS",
        lambda w: [{"serverId": "1", "unitsOnly": False}],
        None,
        v1_units_listed(online_only=True),
        sdk=False,
    ),
    # general -------------------------------------------------------------------------------------------
    Case("GET_VERSION sdk", "/general/get_version", "GET_VERSION", lambda w: [], lambda w: "4", plan_digit),
    Case(
        "GET_VERSION resource",
        "/general/get_version",
        "GET_VERSION",
        lambda w: [],
        lambda w: "4",
        plan_digit,
        sdk=False,
    ),
    Case("GET_SERVERS sdk", "/general/get_servers", "GET_SERVERS", lambda w: [], None, servers_listed),
    Case(
        "GET_SERVERS resource",
        "/general/get_servers",
        "GET_SERVERS",
        lambda w: [],
        None,
        servers_listed,
        sdk=False,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_each_type_answers_its_exact_text_and_changes_what_v2_shows(world: World, case: Case) -> None:
    if case.type == "GET_ACTIVE_UNITS":
        # One unit OFFLINE, so "active" and "all" differ.
        on_duty = world.v2.patch(
            f"{S1}/units/status", json={"communityUserIds": ["license:1"], "status": 100}
        )
        assert on_duty.status_code == 200, on_duty.text
    answer = world.post(case.path, case.body(world))
    assert answer.status_code == 200, answer.text
    if case.answer is not None:
        assert answer.headers["content-type"] == "text/plain; charset=utf-8"
        assert answer.text == case.answer(world)
    case.effect(world, answer)


def test_every_type_of_the_issue_has_a_row_and_the_resource_forms_are_covered() -> None:
    issue = {
        "CALL_911",
        "911_CALL",
        "REMOVE_911",
        "GET_CALLS",
        "NEW_DISPATCH",
        "EDIT_DISPATCH",
        "ATTACH_UNIT",
        "DETACH_UNIT",
        "ADD_CALL_NOTE",
        "CLOSE_CALL",
        "SET_CALL_POSTAL",
        "SET_CALL_PRIMARY",
        "UNIT_STATUS",
        "UNIT_PANIC",
        "UNIT_LOCATION",
        "GET_ACTIVE_UNITS",
        "GET_VERSION",
        "GET_SERVERS",
    }
    assert {case.type for case in CASES} == issue
    # Every type the SDK has, as the SDK sends it (it says 911_CALL where the reference says CALL_911) ...
    assert {case.type for case in CASES if case.sdk} == issue - {"CALL_911"}
    # ... and every type the older in-game resource sends, as it sends it.
    resource = issue - {"911_CALL", "EDIT_DISPATCH", "CLOSE_CALL", "SET_CALL_PRIMARY"}
    assert {case.type for case in CASES if not case.sdk} == resource


def test_a_body_with_a_utf8_byte_order_mark_is_read(world: World) -> None:
    body = b"\xef\xbb\xbf" + json.dumps(envelope(world.community, "GET_VERSION", [])).encode()
    answer = world.v1.post("/general/get_version", content=body)
    assert (answer.status_code, answer.text) == (200, "4")


def test_v1_changes_are_kept_in_the_history_under_the_key(world: World) -> None:
    # Changes made through v1 are kept in the history like any other, by the same key actor.
    note = [{"serverId": 1, "callId": world.dispatch_id, "note": "x"}]
    answer = world.post("/emergency/add_call_note", sdk_body(world.community, "ADD_CALL_NOTE", note))
    assert answer.status_code == 200, answer.text
    history = world.v2.get(f"{S1}/dispatch-calls/{world.dispatch_id}/history").json()
    assert [entry["action"] for entry in history["entries"]][-1] == "note_added"
    assert {entry["actor"]["type"] for entry in history["entries"]} == {"apiKey"}
