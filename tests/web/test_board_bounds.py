"""The board is bounded: the newest calls of the queue and the open calls, the units by id, each list
saying how many more there are, and a limit on reads per console session."""

from __future__ import annotations

import orjson
import pytest

from opendispatch.calls import service as calls
from opendispatch.calls.schemas import NewDispatchCall, NewEmergencyCall
from opendispatch.history.schemas import Actor
from opendispatch.web import board
from tests.support import Community, ManualClock, Provisioner, Server, new_911, new_dispatch
from tests.web.support import C1, Console, dispatcher

SEEDER = Actor("apiKey", "key#seed")


def test_the_board_lists_the_newest_calls_and_units_and_counts_the_rest(
    server: Server,
    community: Community,
    provision: Provisioner,
    alice: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(board, "MAX_CALLS_ON_BOARD", 3)
    monkeypatch.setattr(board, "MAX_UNITS_ON_BOARD", 2)
    with provision.db.transaction() as conn:
        for number in range(5):
            for kind, body in (
                (
                    calls.open_emergency_call,
                    NewEmergencyCall.model_validate(new_911(caller=f"Caller {number}")),
                ),
                (
                    calls.open_dispatch_call,
                    NewDispatchCall.model_validate(new_dispatch(title=f"Call {number}")),
                ),
            ):
                kind(
                    conn,
                    community_id=community.community_id,
                    server_id=1,
                    call=body,  # type: ignore[arg-type]
                    now=provision.now(),
                    actor=SEEDER,
                )
    for number in range(3):
        account = provision.account(community, f"officer{number}", f"license:{number}")
        provision.unit(community, account["uuid"])
    console = Console(server, community)
    read = console.get(f"{C1}/board").json()
    assert [call["caller"] for call in read["emergencyCalls"]] == ["Caller 4", "Caller 3", "Caller 2"]
    assert read["emergencyMore"] == 2
    assert [call["title"] for call in read["activeCalls"]] == ["Call 4", "Call 3", "Call 2"]
    assert read["activeMore"] == 2
    assert len(read["units"]) == 2 and read["unitsMore"] == 1
    # Nothing over the cap: nothing more to tell.
    monkeypatch.setattr(board, "MAX_CALLS_ON_BOARD", 50)
    monkeypatch.setattr(board, "MAX_UNITS_ON_BOARD", 500)
    whole = console.get(f"{C1}/board").json()
    assert (whole["emergencyMore"], whole["activeMore"], whole["unitsMore"]) == (0, 0, 0)
    assert len(whole["emergencyCalls"]) == len(whole["activeCalls"]) == 5


def test_the_board_answer_of_a_full_server_stays_under_its_documented_size(
    server: Server, community: Community, provision: Provisioner, alice: dict[str, str]
) -> None:
    """The documented maximum of one board read holds for a server full of the fattest calls."""
    fat_911 = NewEmergencyCall.model_validate(new_911(description="d" * 10_000, metaData={"k": "m" * 1000}))
    notes = [{"label": "", "type": "text", "content": "n" * 5_000} for _ in range(4)]
    fat_call = NewDispatchCall.model_validate(new_dispatch(description="d" * 10_000, notes=notes))
    with provision.db.transaction() as conn:
        for _ in range(board.MAX_CALLS_ON_BOARD + 5):
            calls.open_emergency_call(
                conn,
                community_id=community.community_id,
                server_id=1,
                call=fat_911,
                now=provision.now(),
                actor=SEEDER,
            )
            calls.open_dispatch_call(
                conn,
                community_id=community.community_id,
                server_id=1,
                call=fat_call,
                now=provision.now(),
                actor=SEEDER,
            )
    console = Console(server, community)
    answer = console.get(f"{C1}/board", params={"closedLimit": board.MAX_CLOSED_ON_BOARD})
    assert answer.status_code == 200
    assert len(answer.json()["activeCalls"]) == board.MAX_CALLS_ON_BOARD
    assert len(answer.content) <= board.MAX_BOARD_BYTES
    assert len(orjson.loads(answer.content)["emergencyCalls"]) == board.MAX_CALLS_ON_BOARD


def test_a_console_session_reads_the_board_at_most_its_limit_a_minute(
    server: Server, community: Community, provision: Provisioner, clock: ManualClock, alice: dict[str, str]
) -> None:
    dispatcher(provision, community, "bob")
    alice_console, bob_console = Console(server, community), Console(server, community, "bob")
    for _ in range(board.BOARD_READS_PER_MINUTE):
        assert alice_console.get(f"{C1}/board").status_code == 200
    refused = alice_console.get(f"{C1}/board")
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60
    # Another dispatcher's console has its own allowance; the API's limits are not touched.
    assert bob_console.get(f"{C1}/board").status_code == 200
    clock.advance(seconds=int(refused.headers["Retry-After"]))
    assert alice_console.get(f"{C1}/board").status_code == 200
