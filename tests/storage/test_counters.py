"""Call ids and event numbers continued in memory within a batch: the same numbers, no gap, rows right.

A batch of writes takes each counter's row once and counts on in memory; these check what a client
would see of that: consecutive call ids across 911 and dispatch calls, consecutive event numbers per
server, the counters' rows as a later batch (or another process) finds them, and push state changed
mid-batch applying to the events after the change. Stored rows are read over a separate connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest
from sqlalchemy import Connection

from opendispatch.calls.schemas import EmergencyCall, NewDispatchCall, NewEmergencyCall
from opendispatch.calls.service import open_dispatch_call, open_emergency_call
from opendispatch.events import service as events
from opendispatch.events.schemas import EventType
from opendispatch.history.schemas import Actor
from opendispatch.storage.database import Database
from tests.storage.support import committed, new_community, run
from tests.support import new_dispatch

T = TypeVar("T")
ACTOR = Actor("api_key", "test")
NEW_CALL = NewEmergencyCall(isEmergency=True, caller="Jane", location="Legion Square", description="Fire")
NEW_DISPATCH = NewDispatchCall.model_validate(new_dispatch())


@pytest.fixture
def community_id(database_url: str) -> str:
    return new_community(database_url, "Counters", servers=2)


def create_911(database: Database, community_id: str, server_id: int) -> Awaitable[EmergencyCall]:
    return database.write(
        open_emergency_call, community_id=community_id, server_id=server_id, call=NEW_CALL, now=1, actor=ACTOR
    )


def create_dispatch(database: Database, community_id: str, server_id: int) -> Awaitable[Any]:
    return database.write(
        open_dispatch_call,
        community_id=community_id,
        server_id=server_id,
        call=NEW_DISPATCH,
        now=1,
        actor=ACTOR,
    )


def stored_events(database_url: str, community_id: str) -> list[tuple[int, int, str, str]]:
    """(server, seq, type, state) of every stored event, in number order per server."""
    rows = committed(
        database_url,
        "SELECT server_id, seq, type, state FROM events WHERE community_id = :c ORDER BY server_id, seq",
        c=community_id,
    )
    return [(row[0], row[1], row[2], row[3]) for row in rows]


def counter_rows(database_url: str, community_id: str) -> tuple[int, dict[int, int]]:
    (last_call_id,) = committed(
        database_url, "SELECT last_call_id FROM communities WHERE community_id = :c", c=community_id
    )[0]
    seqs = committed(
        database_url,
        "SELECT server_id, last_event_seq FROM servers WHERE community_id = :c ORDER BY server_id",
        c=community_id,
    )
    return last_call_id, {server: seq for server, seq in seqs}


def test_one_batch_of_creates_on_two_servers_numbers_calls_and_events_without_a_gap(
    database_url: str, community_id: str
) -> None:
    async def body(database: Database) -> list[Any]:
        first = await asyncio.gather(
            *(
                create_911(database, community_id, 1 + n % 2)
                if n % 3
                else create_dispatch(database, community_id, 2)
                for n in range(30)
            )
        )
        # A later batch finds the rows as the first batch left them.
        later = await asyncio.gather(
            create_911(database, community_id, 1), create_911(database, community_id, 2)
        )
        return [*first, *later]

    results, commits = run(database_url, body)
    assert commits == 2
    assert [result.callId for result in results] == list(range(1, 33))
    stored = stored_events(database_url, community_id)
    for server in (1, 2):
        numbers = [seq for event_server, seq, _type, _state in stored if event_server == server]
        assert numbers == list(range(1, len(numbers) + 1))
    assert counter_rows(database_url, community_id) == (
        32,
        {server: sum(1 for row in stored if row[0] == server) for server in (1, 2)},
    )


@pytest.mark.parametrize("change", ["a push target set", "a game server's socket leased"])
def test_push_state_changed_mid_batch_applies_to_the_events_after_it(
    database_url: str, community_id: str, change: str
) -> None:
    def changed(conn: Connection) -> None:
        if change == "a push target set":
            events.set_push_target(
                conn, community_id=community_id, server_id=1, now=1, url="https://receiver.example/hook"
            )
        else:
            events.hold_sockets(conn, holder="process-a", servers={(community_id, 1)}, now=1, until=60_000)

    async def body(database: Database) -> None:
        await asyncio.gather(
            *(create_911(database, community_id, 1) for _ in range(3)),
            database.write(changed),
            *(create_911(database, community_id, 1) for _ in range(3)),
        )

    _results, commits = run(database_url, body)
    assert commits == 1
    states = [(seq, state) for _server, seq, _type, state in stored_events(database_url, community_id)]
    skipped, pushed = [(n, "skipped") for n in (1, 2, 3)], [(n, "pending") for n in (4, 5, 6)]
    assert states == skipped + pushed


def test_a_synchronous_transaction_after_a_batch_continues_from_its_rows(
    database_url: str, community_id: str
) -> None:
    async def body(database: Database) -> list[EmergencyCall]:
        return await asyncio.gather(*(create_911(database, community_id, 1) for _ in range(5)))

    results, _commits = run(database_url, body)
    assert [result.callId for result in results] == [1, 2, 3, 4, 5]
    database = Database(database_url)
    try:
        with database.transaction() as conn:
            sixth = open_emergency_call(
                conn, community_id=community_id, server_id=1, call=NEW_CALL, now=2, actor=ACTOR
            )
    finally:
        database.close()
    assert sixth.callId == 6
    assert [row[1] for row in stored_events(database_url, community_id)] == [1, 2, 3, 4, 5, 6]


def test_a_savepoint_rolled_back_mid_batch_leaves_no_gap_and_no_duplicate(
    database_url: str, community_id: str
) -> None:
    def emit(conn: Connection) -> None:
        events.emit(conn, community_id=community_id, server_id=1, type=EventType.EVENT_911, data={}, now=1)

    def emit_then_undo_one(conn: Connection) -> None:
        emit(conn)
        nested = conn.begin_nested()
        emit(conn)  # undone with its savepoint, number and all
        nested.rollback()
        emit(conn)

    async def body(database: Database) -> None:
        await asyncio.gather(database.write(emit), database.write(emit_then_undo_one), database.write(emit))

    _results, commits = run(database_url, body)
    assert commits == 1
    numbers = [seq for _server, seq, _type, _state in stored_events(database_url, community_id)]
    assert numbers == [1, 2, 3, 4]
    assert counter_rows(database_url, community_id)[1][1] == 4
