"""A batch of writes whose requests fail in every way: each failure stays with its request.

On PostgreSQL a batch runs in pipeline mode, first without savepoints: a request that fails sends the
batch round again with savepoints, and a statement the database refused sends it round once more,
request by request. On SQLite the same promises hold on its own path. Every check of what is stored
goes through a separate connection, so it sees only what was committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

import psycopg
import pytest
from sqlalchemy import Connection, insert, update
from sqlalchemy.exc import IntegrityError

from opendispatch.calls.schemas import EmergencyCall, NewEmergencyCall
from opendispatch.calls.service import open_emergency_call
from opendispatch.communities import service as communities_service
from opendispatch.communities.models import communities
from opendispatch.errors import NotFound
from opendispatch.events import service as events
from opendispatch.events.schemas import EventType
from opendispatch.history.schemas import Actor
from opendispatch.storage.database import Database
from opendispatch.storage.migrate import upgrade
from tests.storage.support import committed, new_community, run, stored_911_calls

T = TypeVar("T")
ACTOR = Actor("api_key", "test")
NEW_CALL = NewEmergencyCall(isEmergency=True, caller="Jane", location="Legion Square", description="Fire")


class Refused(Exception):
    """A unit of work that fails on purpose, after it has written."""


@pytest.fixture
def community_id(database_url: str) -> str:
    return new_community(database_url, "Pipeline", servers=2)


def create(database: Database, community_id: str, server_id: int = 1) -> Awaitable[EmergencyCall]:
    return database.write(
        open_emergency_call, community_id=community_id, server_id=server_id, call=NEW_CALL, now=1, actor=ACTOR
    )


def stored_events(database_url: str, community_id: str) -> list[tuple[int, int]]:
    """(server, seq) of every stored event, and the call id each EVENT_911 names."""
    rows = committed(
        database_url,
        "SELECT server_id, seq FROM events WHERE community_id = :c ORDER BY server_id, seq",
        c=community_id,
    )
    return [(row[0], row[1]) for row in rows]


def emit_then_refuse(conn: Connection, community_id: str) -> None:
    """Write an event on server 2, then fail: neither the event nor its notification may survive."""
    events.emit(conn, community_id=community_id, server_id=2, type=EventType.EVENT_911, data={}, now=1)
    raise Refused("after writing")


def add_community(conn: Connection, new_id: str) -> str:
    conn.execute(
        insert(communities).values(
            community_id=new_id, name=new_id, plan=4, api_enabled=True, last_call_id=0, created_at=0
        )
    )
    return new_id


def add_community_or_say_taken(conn: Connection, new_id: str) -> str:
    """A unit of work that handles the database's refusal itself, as account creation does."""
    try:
        with conn.begin_nested():
            add_community(conn, new_id)
    except IntegrityError:
        return "taken"
    return new_id


def test_requests_that_fail_on_their_own_roll_back_alone_and_take_no_call_id(
    database_url: str, community_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def body(database: Database) -> list[Any]:
        return await asyncio.gather(
            *(create(database, community_id) for _ in range(5)),
            create(database, community_id, server_id=99),  # no such server
            *(create(database, community_id) for _ in range(5)),
            database.write(emit_then_refuse, community_id),
            create(database, community_id),
            return_exceptions=True,
        )

    with caplog.at_level(logging.INFO, logger="opendispatch.storage.database"):
        results, commits = run(database_url, body)
    assert isinstance(results[5], NotFound)
    assert isinstance(results[11], Refused)
    created = [result.callId for result in results if isinstance(result, EmergencyCall)]
    # Failed requests took no call id and no event number: both stay gap-free.
    assert created == list(range(1, 12))
    assert stored_911_calls(database_url, community_id) == created
    assert stored_events(database_url, community_id) == [(1, seq) for seq in range(1, 12)]
    assert commits == 1
    # A request's own failure needs no statement-by-statement rerun.
    assert "request by request" not in caplog.text


def test_a_statement_the_database_refuses_fails_its_request_only(
    database_url: str, community_id: str
) -> None:
    async def body(database: Database) -> list[Any]:
        return await asyncio.gather(
            *(create(database, community_id) for _ in range(3)),
            database.write(add_community, community_id),  # the community exists: a duplicate key
            *(create(database, community_id) for _ in range(3)),
            database.write(add_community, "another"),
            return_exceptions=True,
        )

    results, _commits = run(database_url, body)
    assert isinstance(results[3], IntegrityError)
    assert results[7] == "another"
    created = [result.callId for result in results if isinstance(result, EmergencyCall)]
    assert created == list(range(1, 7))
    assert stored_911_calls(database_url, community_id) == created
    assert stored_events(database_url, community_id) == [(1, seq) for seq in range(1, 7)]
    names = committed(database_url, "SELECT community_id FROM communities WHERE community_id = 'another'")
    assert len(names) == 1


def test_a_request_that_handles_the_refusal_itself_gets_its_own_answer(
    database_url: str, community_id: str
) -> None:
    async def body(database: Database) -> list[Any]:
        return await asyncio.gather(
            create(database, community_id),
            database.write(add_community_or_say_taken, community_id),
            create(database, community_id),
            database.write(add_community_or_say_taken, "fresh"),
            return_exceptions=True,
        )

    results, _commits = run(database_url, body)
    assert results[1] == "taken"
    assert results[3] == "fresh"
    assert [results[0].callId, results[2].callId] == [1, 2]
    assert stored_911_calls(database_url, community_id) == [1, 2]


def test_a_deadlocked_request_is_run_again_and_its_neighbours_are_stored(
    database_url: str, community_id: str
) -> None:
    attempts = 0

    def deadlock_twice(conn: Connection) -> str:
        nonlocal attempts
        attempts += 1
        conn.execute(
            update(communities).where(communities.c.community_id == community_id).values(name="Renamed")
        )
        if attempts <= 2:
            raise psycopg.errors.DeadlockDetected("deadlock detected")
        return "renamed"

    async def body(database: Database) -> list[Any]:
        return await asyncio.gather(
            create(database, community_id),
            database.write(deadlock_twice),
            create(database, community_id),
            return_exceptions=True,
        )

    results, _commits = run(database_url, body)
    assert results[1] == "renamed"
    assert [results[0].callId, results[2].callId] == [1, 2]
    assert stored_911_calls(database_url, community_id) == [1, 2]
    names = committed(database_url, "SELECT name FROM communities WHERE community_id = :c", c=community_id)
    assert names[0][0] == "Renamed"


def test_the_batches_after_a_failure_and_a_lone_failure_store_what_they_should(
    database_url: str, community_id: str
) -> None:
    async def body(database: Database) -> list[Any]:
        first = await asyncio.gather(
            create(database, community_id),
            create(database, community_id, server_id=99),
            return_exceptions=True,
        )
        alone = await asyncio.gather(create(database, community_id, server_id=99), return_exceptions=True)
        later = [await create(database, community_id) for _ in range(20)]  # each its own batch
        return [*first, *alone, *later]

    results, _commits = run(database_url, body)
    assert isinstance(results[1], NotFound)
    assert isinstance(results[2], NotFound)
    created = [result.callId for result in results if isinstance(result, EmergencyCall)]
    assert created == list(range(1, 22))
    assert stored_911_calls(database_url, community_id) == created
    assert stored_events(database_url, community_id) == [(1, seq) for seq in range(1, 22)]


@pytest.mark.own_database
def test_a_batch_notifies_other_processes_once_per_server_and_never_for_a_failed_request(
    postgresql_url: str,
) -> None:
    database = Database(postgresql_url)
    upgrade(database.engine)
    with database.transaction() as conn:
        new_id = communities_service.create_community(conn, name="Heard", now=0, servers_count=2).community_id
    database.close()
    conninfo = postgresql_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as listener:
        listener.execute(f"LISTEN {events.EVENTS_CHANNEL}")
        listener.execute(f"LISTEN {events.DELIVERIES_CHANNEL}")

        async def body(database: Database) -> list[Any]:
            return await asyncio.gather(
                *(create(database, new_id) for _ in range(10)),
                database.write(emit_then_refuse, new_id),
                return_exceptions=True,
            )

        results, commits = run(postgresql_url, body)
        assert commits == 1
        assert isinstance(results[10], Refused)
        heard = [(notice.channel, notice.payload) for notice in listener.notifies(timeout=1.0)]
    # No push target: nothing for the delivery workers; server 2's event was rolled back.
    assert heard == [(events.EVENTS_CHANNEL, f"{new_id}\t1")]
