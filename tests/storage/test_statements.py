"""Inserts a batch holds back (``Prepared.defer``): read back where needed, and a refusal stays its own.

In a batch without savepoints, the rows of a create's three inserts wait and go in one executemany per
table before the next statement or the commit. What a client must not notice: a write reads what it just
stored, a later write of the batch reads it too, and a row the database refuses when the held rows go
fails its own request only, whichever request's statement sent them. Checks read over a separate
connection, so they see only what was committed.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Awaitable
from typing import Any, TypeVar

import psycopg
import pytest
from sqlalchemy import Connection, event, func, insert, select
from sqlalchemy.exc import IntegrityError

from opendispatch.calls.models import emergency_calls
from opendispatch.calls.schemas import EmergencyCall, NewEmergencyCall
from opendispatch.calls.service import open_emergency_call
from opendispatch.communities.models import communities
from opendispatch.events import service as events
from opendispatch.events.schemas import EventType
from opendispatch.history.schemas import Actor
from opendispatch.storage.database import Database
from tests.storage.support import committed, new_community, run

T = TypeVar("T")
ACTOR = Actor("api_key", "test")
NEW_CALL = NewEmergencyCall(isEmergency=True, caller="Jane", location="Legion Square", description="Fire")


@pytest.fixture
def community_id(database_url: str) -> str:
    return new_community(database_url, "Held", servers=1)


def create(database: Database, community_id: str) -> Awaitable[EmergencyCall]:
    return database.write(
        open_emergency_call, community_id=community_id, server_id=1, call=NEW_CALL, now=1, actor=ACTOR
    )


def calls_seen(conn: Connection, community_id: str) -> int:
    """How many 911 calls the unit of work's own transaction sees."""
    return int(
        conn.execute(
            select(func.count())
            .select_from(emergency_calls)
            .where(emergency_calls.c.community_id == community_id)
        ).scalar_one()
    )


def create_and_count(conn: Connection, community_id: str) -> int:
    open_emergency_call(conn, community_id=community_id, server_id=1, call=NEW_CALL, now=1, actor=ACTOR)
    return calls_seen(conn, community_id)


class Taken:
    """An event number already in use: the event's row is refused when it goes (a duplicate number)."""

    def row(self) -> tuple[int, None, None]:
        return (1, None, None)


def emit_a_taken_number(conn: Connection, community_id: str) -> str:
    events.emit(
        conn,
        community_id=community_id,
        server_id=1,
        type=EventType.EVENT_911,
        data={},
        now=1,
        number=Taken(),  # type: ignore[arg-type]
    )
    return "emitted"


def test_a_write_and_the_later_writes_of_its_batch_read_the_calls_it_stored(
    database_url: str, community_id: str
) -> None:
    async def body(database: Database) -> list[Any]:
        return await asyncio.gather(
            create(database, community_id),
            database.write(create_and_count, community_id),
            create(database, community_id),
            database.write(calls_seen, community_id),
        )

    results, _commits = run(database_url, body)
    assert results[1] == 2
    assert results[3] == 3
    stored = committed(database_url, "SELECT call_id FROM emergency_calls ORDER BY call_id")
    assert [row[0] for row in stored] == [1, 2, 3]


@pytest.mark.parametrize("creates", [1, 23, 100])
def test_every_row_of_a_large_batch_is_stored_once_and_in_order(
    database_url: str, community_id: str, creates: int
) -> None:
    # On SQLite the held rows go as multi-row INSERTs of 64, 32, ... rows: 100 is 64 + 32 + 4. The bound
    # on open calls is off, as its count (a statement) would send the rows held so far before each create.
    traced: list[str] = []

    async def body(database: Database) -> list[EmergencyCall]:
        database.engine.update_execution_options(open_call_bounds=False)
        if database.is_sqlite:  # every statement the writer's connection runs, as SQLite runs it

            @event.listens_for(database.engine, "connect")
            def trace(dbapi_connection: Any, _record: Any) -> None:
                dbapi_connection.set_trace_callback(traced.append)

        return await asyncio.gather(*(create(database, community_id) for _ in range(creates)))

    results, commits = run(database_url, body)
    assert commits == 1
    assert [call.callId for call in results] == list(range(1, creates + 1))
    calls = committed(database_url, "SELECT call_id, caller FROM emergency_calls ORDER BY call_id")
    assert [tuple(row) for row in calls] == [(n, "Jane") for n in range(1, creates + 1)]
    # History and events in the order the creates ran: ids assigned by the database rise with them.
    history = committed(database_url, "SELECT call_id FROM call_history ORDER BY entry_id")
    assert [row[0] for row in history] == list(range(1, creates + 1))
    stream = committed(database_url, "SELECT seq, data FROM events ORDER BY event_id")
    assert [row[0] for row in stream] == list(range(1, creates + 1))
    assert [json.loads(row[1])["call"]["callId"] for row in stream] == list(range(1, creates + 1))
    if database_url.startswith("sqlite"):
        inserts = [sql for sql in traced if sql.startswith("INSERT INTO emergency_calls")]
        expected = {1: [1], 23: [16, 4, 2, 1], 100: [64, 32, 4]}[creates]
        assert [sql.count("), (") + 1 for sql in inserts] == expected


def add_community_or_say_taken(conn: Connection, new_id: str) -> str:
    """A unit of work that handles the database's refusal itself, as account creation does."""
    try:
        with conn.begin_nested():
            conn.execute(
                insert(communities).values(
                    community_id=new_id, name=new_id, plan=4, api_enabled=True, last_call_id=0, created_at=0
                )
            )
    except IntegrityError:
        return "taken"
    return new_id


@pytest.mark.parametrize("refused_at", ["the commit", "a later statement", "a later request's savepoint"])
def test_a_held_row_the_database_refuses_fails_its_own_request_only(
    database_url: str, community_id: str, refused_at: str
) -> None:
    # A later request's savepoint sends the held rows inside its own try: it must not take the refusal
    # for its own (and the batch must not commit without the refused request's rows, acknowledged).
    async def body(database: Database) -> list[Any]:
        after: list[Awaitable[Any]] = []
        if refused_at == "a later statement":
            after = [database.write(calls_seen, community_id)]
        elif refused_at == "a later request's savepoint":
            after = [database.write(add_community_or_say_taken, "fresh")]
        return await asyncio.gather(
            create(database, community_id),
            database.write(emit_a_taken_number, community_id),
            create(database, community_id),
            *after,
            return_exceptions=True,
        )

    results, _commits = run(database_url, body)
    # Held rows go straight to the driver: its own error, as a prepared statement's always was.
    assert isinstance(results[1], (IntegrityError, sqlite3.IntegrityError, psycopg.errors.UniqueViolation))
    assert [results[0].callId, results[2].callId] == [1, 2]
    if refused_at == "a later statement":
        assert results[3] == 2
    if refused_at == "a later request's savepoint":
        assert results[3] == "fresh"
    stored = committed(database_url, "SELECT seq FROM events ORDER BY seq")
    assert [row[0] for row in stored] == [1, 2]
    assert len(committed(database_url, "SELECT entry_id FROM call_history")) == 2


def test_a_refusal_sent_by_a_later_requests_savepoint_is_not_taken_for_its_own(
    database_url: str, community_id: str
) -> None:
    # Nothing but held rows before the savepoint: they go with its SAVEPOINT statement, inside the later
    # request's try. It must not answer "taken", and the batch must not commit without the refused
    # request's rows while that request is told they are stored.
    async def body(database: Database) -> list[Any]:
        await create(database, community_id)  # event number 1, in a batch of its own
        return await asyncio.gather(
            database.write(emit_a_taken_number, community_id),
            database.write(add_community_or_say_taken, "fresh"),
            return_exceptions=True,
        )

    results, _commits = run(database_url, body)
    assert isinstance(results[0], (IntegrityError, sqlite3.IntegrityError, psycopg.errors.UniqueViolation))
    assert results[1] == "fresh"
    assert [row[0] for row in committed(database_url, "SELECT seq FROM events")] == [1]
