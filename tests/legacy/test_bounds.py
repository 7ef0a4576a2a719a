"""The bounds of what is stored hold for v1 as for v2: at the bound stored, one over a plain-text refusal
naming the bound, nothing kept; and GET_VERSION and GET_SERVERS count against their v2 twins' limits."""

from __future__ import annotations

from typing import Any

from opendispatch.calls import service as calls
from opendispatch.calls.schemas import (
    MAX_CALL_NOTES,
    MAX_CALL_UNITS,
    MAX_OPEN_DISPATCH_CALLS,
    MAX_OPEN_EMERGENCY_CALLS,
    NewCallNote,
    NewDispatchCall,
    NewEmergencyCall,
)
from opendispatch.history.schemas import Actor
from opendispatch.maps import service as maps
from opendispatch.maps.schemas import MAX_BLIPS_PER_SERVER, MAX_POSTALS, NewBlip
from opendispatch.units import service as units
from opendispatch.units.schemas import MAX_IDENTIFIERS_PER_ACCOUNT, NewIdentifier
from tests.legacy.v1 import S1, World, sdk_body
from tests.maps.support import blip_body
from tests.support import ManualClock, new_911, new_dispatch

SEEDER = Actor("apiKey", "key#seed")


def v1(world: World, area: str, type: str, data: Any) -> tuple[int, str]:
    answer = world.post(f"/{area}/{type.lower()}", sdk_body(world.community, type, data))
    return answer.status_code, answer.text


def over(answer: tuple[int, str], bound: str) -> None:
    status, text = answer
    assert status == 400, text[:300]
    assert text.startswith("CONFLICT: data[0]") and bound in text, text[:300]


def test_call_911_past_the_open_911_calls_of_a_server(world: World) -> None:
    body = NewEmergencyCall.model_validate(new_911())
    with world.provision.db.transaction() as conn:
        for _ in range(MAX_OPEN_EMERGENCY_CALLS - 2):  # the world holds one already
            calls.open_emergency_call(
                conn,
                community_id=world.community.community_id,
                server_id=1,
                call=body,
                now=world.provision.now(),
                actor=SEEDER,
            )
    item = {"serverId": 1, "isEmergency": True, "caller": "Last", "location": "Pier", "description": "Help"}
    status, text = v1(world, "emergency", "CALL_911", [item])
    assert status == 200 and text.startswith("EMERGENCY CALL ADDED ID: "), text
    over(v1(world, "emergency", "CALL_911", [{**item, "caller": "Too many"}]), "open 911 calls per server")
    queue = world.board()["emergencyCalls"]
    assert len(queue) == MAX_OPEN_EMERGENCY_CALLS and "Too many" not in {c["caller"] for c in queue}


def test_new_dispatch_past_the_open_dispatch_calls_of_a_server(world: World) -> None:
    body = NewDispatchCall.model_validate(new_dispatch())
    with world.provision.db.transaction() as conn:
        for _ in range(MAX_OPEN_DISPATCH_CALLS - 2):
            calls.open_dispatch_call(
                conn,
                community_id=world.community.community_id,
                server_id=1,
                call=body,
                now=world.provision.now(),
                actor=SEEDER,
            )
    item = {**new_dispatch(title="Last"), "serverId": 1}
    status, text = v1(world, "emergency", "NEW_DISPATCH", [item])
    assert status == 200 and text.startswith("NEW DISPATCH CREATED - ID: "), text
    refused = v1(world, "emergency", "NEW_DISPATCH", [{**item, "title": "Too many"}])
    over(refused, "open dispatch calls per server")
    active = world.board()["activeCalls"]
    assert len(active) == MAX_OPEN_DISPATCH_CALLS and "Too many" not in {c["title"] for c in active}


def test_add_call_note_past_the_notes_of_a_call(world: World) -> None:
    with world.provision.db.transaction() as conn:
        for number in range(MAX_CALL_NOTES - 1):
            calls.add_note(
                conn,
                community_id=world.community.community_id,
                server_id=1,
                call_id=world.dispatch_id,
                note=NewCallNote(note=f"note {number}"),
                now=world.provision.now(),
                actor=SEEDER,
            )
    item = {"serverId": 1, "callId": world.dispatch_id, "note": "the last one"}
    status, text = v1(world, "emergency", "ADD_CALL_NOTE", [item])
    assert status == 200, text
    over(v1(world, "emergency", "ADD_CALL_NOTE", [{**item, "note": "one too many"}]), "notes per call")
    notes = world.dispatch()["notes"]
    assert len(notes) == MAX_CALL_NOTES and notes[-1]["content"] == "the last one"


def test_edit_dispatch_past_the_size_of_a_call(world: World) -> None:
    for _ in range(3):
        note = world.v2.post(f"{S1}/dispatch-calls/{world.dispatch_id}/notes", json={"note": "n" * 9_000})
        assert note.status_code == 200, note.text[:300]
    before = world.dispatch()
    edit = {"serverId": 1, "callId": world.dispatch_id, "description": "d" * 10_000}
    over(v1(world, "emergency", "EDIT_DISPATCH", [edit]), "size of a call")
    assert world.dispatch() == before
    fits = {"serverId": 1, "callId": world.dispatch_id, "description": "d" * 4_000}
    assert v1(world, "emergency", "EDIT_DISPATCH", [fits]) == (
        200,
        f"DISPATCH CALL {world.dispatch_id} UPDATED",
    )


def test_attach_unit_past_the_units_of_a_call(world: World) -> None:
    # The world's officer 0 is on the call; officers 2.. join until the call holds its bound.
    named = []
    for number in range(2, MAX_CALL_UNITS + 2):
        account = world.provision.account(world.community, f"officer{number}", f"license:{number}")
        world.provision.unit(world.community, account["uuid"])
        named.append(f"license:{number}")
    item = {"serverId": 1, "callId": world.dispatch_id, "units": named[:-1]}
    assert v1(world, "emergency", "ATTACH_UNIT", [item]) == (200, "UNITS ATTACHED")
    assert len(world.dispatch()["idents"]) == MAX_CALL_UNITS
    refused = v1(world, "emergency", "ATTACH_UNIT", [{**item, "units": named[-1:]}])
    over(refused, f"units per call ({MAX_CALL_UNITS})")
    assert len(world.dispatch()["idents"]) == MAX_CALL_UNITS


def test_modify_identifier_past_the_identifiers_of_an_account(world: World) -> None:
    with world.provision.db.transaction() as conn:
        for _ in range(MAX_IDENTIFIERS_PER_ACCOUNT - 2):  # officer 1 holds one already
            units.create_identifier(
                conn,
                community_id=world.community.community_id,
                account_uuid=world.accounts[1],
                fields=NewIdentifier(),
                now=world.provision.now(),
            )
    add = {"apiId": "license:1", "action": 0, "identifier": {"unitNum": "LAST"}}
    status, text = v1(world, "emergency", "MODIFY_IDENTIFIER", [add])
    assert status == 200, text
    add["identifier"] = {"unitNum": "OVER"}
    over(v1(world, "emergency", "MODIFY_IDENTIFIER", [add]), "identifiers per account")
    listed = world.v2.get(f"/v2/emergency/accounts/{world.accounts[1]}/identifiers").json()["identifiers"]
    assert len(listed) == MAX_IDENTIFIERS_PER_ACCOUNT and "OVER" not in {i["unitNum"] for i in listed}


def test_add_blip_past_the_blips_of_a_server(world: World) -> None:
    with world.provision.db.transaction() as conn:
        maps.create_blips(
            conn,
            community_id=world.community.community_id,
            server_id=1,
            new=[NewBlip.model_validate(blip_body())] * (MAX_BLIPS_PER_SERVER - 1),
            now=world.provision.now(),
        )
    status, text = v1(world, "emergency", "ADD_BLIP", [[{**blip_body(tooltip="last"), "serverId": 1}]])
    assert status == 200, text
    refused = v1(world, "emergency", "ADD_BLIP", [[{**blip_body(tooltip="over"), "serverId": 1}]])
    over(refused, "blips per server")
    listed = world.v2.get(f"{S1}/blips").json()
    assert len(listed) == MAX_BLIPS_PER_SERVER and "over" not in {blip["tooltip"] for blip in listed}


def test_set_postals_past_the_postals_of_a_community(world: World) -> None:
    postals = [{"code": str(n), "x": float(n), "y": 0.0} for n in range(MAX_POSTALS + 1)]
    status, text = v1(world, "general", "SET_POSTALS", [postals])
    assert status == 400 and text.startswith("INVALID DATA") and str(MAX_POSTALS) in text, text[:300]
    assert world.provision.scalar("SELECT count(*) FROM postals") == 0


def test_get_version_and_get_servers_count_against_their_v2_twins(world: World, clock: ManualClock) -> None:
    for endpoint in ("version", "get_servers"):
        world.provision.set_limit(world.community, endpoint, 2)
    clock.advance(minutes=1)  # past the key cache, which remembers the limits the world was made with
    for type in ("GET_VERSION", "GET_SERVERS"):
        assert v1(world, "general", type, [])[0] == 200
        assert v1(world, "general", type, [])[0] == 200
        status, text = v1(world, "general", type, [])
        assert (status, text) == (429, "API RATE LIMIT EXCEEDED"), type
    # One bucket for both doors: v2's twin is spent too.
    assert world.v2.get("/v2/general/version").status_code == 429
    assert world.v2.get("/v2/general/servers").status_code == 429
