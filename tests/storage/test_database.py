"""The database handle: group commit, one failing unit of work rolls back alone, a 2xx means stored.

Every check of what is stored goes through a separate plain ``sqlite3`` connection to the file, so it
sees only what was really committed.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import Connection, insert, text
from sqlalchemy.exc import IntegrityError

from opendispatch.calls import service as calls_service
from opendispatch.communities.models import communities
from opendispatch.settings import Settings
from opendispatch.storage.database import Database, StorageUnavailable
from opendispatch.storage.migrate import upgrade
from tests.ops.support import running
from tests.storage import support
from tests.storage.support import run
from tests.support import (
    Community,
    Provisioner,
    Server,
    free_port,
    lift_limits,
    new_911,
    new_dispatch,
    sqlite_file,
)

T = TypeVar("T")


class Refused(Exception):
    """A unit of work that fails on purpose, after it has written."""


@pytest.fixture
def db_url(database_url: str) -> Iterator[str]:
    database = Database(database_url)
    upgrade(database.engine)
    database.close()
    yield database_url


def committed(database_url: str, sql: str, **params: Any) -> list[Any]:
    """The first column of each committed row."""
    return [row[0] for row in support.committed(database_url, sql, **params)]


def stored_ids(database_url: str) -> list[str]:
    return committed(database_url, "SELECT community_id FROM communities ORDER BY community_id")


def add_community(conn: Connection, community_id: str, *, fail: bool = False) -> str:
    conn.execute(
        insert(communities).values(
            community_id=community_id, name=community_id, plan=4, api_enabled=True, last_call_id=0
        ),
        {"created_at": 0},
    )
    if fail:
        raise Refused(community_id)
    return community_id


def test_concurrent_writes_are_all_committed_and_share_commits(db_url: str) -> None:
    names = [f"c{n:03d}" for n in range(200)]

    async def body(database: Database) -> list[str]:
        return await asyncio.gather(*(database.write(add_community, name) for name in names))

    results, commits = run(db_url, body)
    assert results == names
    assert stored_ids(db_url) == names
    # Group commit: two hundred writes in flight together do not cost two hundred commits.
    assert 1 <= commits <= 2


def test_writes_beyond_the_batch_size_are_committed_in_later_batches(db_url: str) -> None:
    names = [f"c{n:02d}" for n in range(10)]

    async def body(database: Database) -> list[str]:
        return await asyncio.gather(*(database.write(add_community, name) for name in names))

    results, commits = run(db_url, body, batch_size=3)
    assert results == names
    assert stored_ids(db_url) == names
    assert commits >= 4


def clients_writing_in_rounds(clients: int, rounds: int) -> Callable[[Database], Awaitable[list[str]]]:
    """Clients that each write ``rounds`` times, coming back after a different short pause each time."""

    async def client(database: Database, number: int) -> list[str]:
        stored = []
        for round_ in range(rounds):
            stored.append(await database.write(add_community, f"c{number:02d}-{round_}"))
            # The next request arrives a little later, at a different moment for each client.
            await asyncio.sleep(0.001 * ((number * 7 + round_ * 3) % 11))
        return stored

    async def body(database: Database) -> list[str]:
        results = await asyncio.gather(*(client(database, number) for number in range(clients)))
        return [name for stored in results for name in stored]

    return body


def test_clients_coming_back_after_an_answer_are_gathered_into_one_commit_per_round(db_url: str) -> None:
    # A gather time far above the clients' pauses: every round of the twelve clients is one commit, and
    # each starts as soon as the last of them is back, not when the gather time is up.
    rounds = clients_writing_in_rounds(12, 4)

    async def timed(database: Database) -> tuple[list[str], float]:
        started = asyncio.get_running_loop().time()
        stored = await rounds(database)
        return stored, asyncio.get_running_loop().time() - started

    (results, elapsed), commits = run(db_url, timed, gather_seconds=2.0)
    assert sorted(results) == stored_ids(db_url)
    assert len(results) == 48
    assert commits == 4
    assert elapsed < 2.0  # all four rounds in less than one gather time


def test_without_gathering_the_same_clients_need_more_commits(db_url: str) -> None:
    results, commits = run(db_url, clients_writing_in_rounds(12, 4), gather_seconds=0.0)
    assert sorted(results) == stored_ids(db_url)
    assert commits > 4


def test_a_lone_client_never_waits_for_the_gather_time(db_url: str) -> None:
    async def body(database: Database) -> float:
        started = asyncio.get_running_loop().time()
        for number in range(5):
            await database.write(add_community, f"c{number}")
        return asyncio.get_running_loop().time() - started

    elapsed, commits = run(db_url, body, gather_seconds=30.0)
    assert commits == 5
    assert elapsed < 10.0  # five commits, not five gather times
    assert stored_ids(db_url) == [f"c{number}" for number in range(5)]


def test_a_client_that_does_not_come_back_delays_the_next_batch_by_the_gather_time_only(
    db_url: str,
) -> None:
    async def body(database: Database) -> float:
        await asyncio.gather(database.write(add_community, "a"), database.write(add_community, "b"))
        started = asyncio.get_running_loop().time()
        await database.write(add_community, "c")  # its batch waited for a second client, in vain
        return asyncio.get_running_loop().time() - started

    elapsed, commits = run(db_url, body, gather_seconds=0.2)
    assert commits == 2
    assert 0.15 <= elapsed < 10.0
    assert stored_ids(db_url) == ["a", "b", "c"]


def test_one_failing_unit_of_work_in_a_batch_rolls_back_alone(db_url: str) -> None:
    async def body(database: Database) -> list[Any]:
        return await asyncio.gather(
            database.write(add_community, "a"),
            database.write(add_community, "b", fail=True),
            database.write(add_community, "c"),
            database.write(add_community, "a"),  # duplicate key: refused by the database itself
            database.write(add_community, "d"),
            return_exceptions=True,
        )

    results, commits = run(db_url, body)
    assert results[0] == "a"
    assert isinstance(results[1], Refused)
    assert results[2] == "c"
    assert isinstance(results[3], IntegrityError)
    assert results[4] == "d"
    assert commits == 1
    assert stored_ids(db_url) == ["a", "c", "d"]


def test_a_failing_unit_of_work_alone_rolls_back_and_the_next_one_commits(db_url: str) -> None:
    async def body(database: Database) -> str:
        with pytest.raises(Refused):
            await database.write(add_community, "lost", fail=True)
        return await database.write(add_community, "kept")

    result, _ = run(db_url, body)
    assert result == "kept"
    assert stored_ids(db_url) == ["kept"]


def test_a_write_has_reached_the_file_when_it_returns(db_url: str) -> None:
    seen: list[list[str]] = []

    async def body(database: Database) -> None:
        for name in ("first", "second"):
            await database.write(add_community, name)
            seen.append(stored_ids(db_url))  # another connection, before anything is drained

    run(db_url, body)
    assert seen == [["first"], ["first", "second"]]


def test_reads_see_every_committed_write(db_url: str) -> None:
    def count(conn: Connection) -> int:
        return int(conn.exec_driver_sql("SELECT count(*) FROM communities").scalar_one())

    async def body(database: Database) -> list[int]:
        counts = [await database.read(count)]
        await asyncio.gather(*(database.write(add_community, f"c{n}") for n in range(5)))
        counts.append(await database.read(count))
        return counts

    counts, _ = run(db_url, body)
    assert counts == [0, 5]


def test_a_synchronous_transaction_that_raises_stores_nothing(db_url: str) -> None:
    database = Database(db_url)
    try:
        with pytest.raises(Refused), database.transaction() as conn:
            add_community(conn, "half", fail=True)
        with database.transaction() as conn:
            add_community(conn, "whole")
    finally:
        database.close()
    assert stored_ids(db_url) == ["whole"]


# -- over HTTP: a 2xx answer means the row is in the file -------------------------------------------------


def stored_calls(database_url: str, community_id: str) -> dict[str, set[int]]:
    return {
        table: set(
            committed(database_url, f"SELECT call_id FROM {table} WHERE community_id = :c", c=community_id)
        )
        for table in ("emergency_calls", "dispatch_calls")
    }


def test_a_2xx_answer_means_the_call_is_in_the_file(
    server: Server, provision: Provisioner, community: Community, database_url: str
) -> None:
    cid = community.community_id
    with server.client(community.api_key) as http:
        emergency = http.post("/v2/emergency/servers/1/calls/911", json=new_911())
        assert emergency.status_code == 200
        assert emergency.json()["callId"] in stored_calls(database_url, cid)["emergency_calls"]
        dispatch = http.post("/v2/emergency/servers/1/dispatch-calls", json=new_dispatch())
        assert dispatch.status_code == 200
        assert dispatch.json()["callId"] in stored_calls(database_url, cid)["dispatch_calls"]


def test_every_2xx_answer_of_a_concurrent_burst_is_in_the_file(
    server: Server, provision: Provisioner, community: Community, database_url: str
) -> None:
    lift_limits(provision, community)

    def create(n: int) -> tuple[str, int]:
        with server.client(community.api_key) as http:
            if n % 2:
                response = http.post("/v2/emergency/servers/1/dispatch-calls", json=new_dispatch())
                table = "dispatch_calls"
            else:
                response = http.post("/v2/emergency/servers/1/calls/911", json=new_911(caller=f"c{n}"))
                table = "emergency_calls"
            assert response.status_code == 200, response.text
            # Checked by the thread that got the answer, the moment it got it.
            assert response.json()["callId"] in stored_calls(database_url, community.community_id)[table]
            return table, response.json()["callId"]

    with ThreadPoolExecutor(16) as pool:
        answered = list(pool.map(create, range(64)))
    ids = [call_id for _, call_id in answered]
    assert len(set(ids)) == 64
    stored = stored_calls(database_url, community.community_id)
    assert {call_id for table, call_id in answered if table == "emergency_calls"} == stored["emergency_calls"]
    assert {call_id for table, call_id in answered if table == "dispatch_calls"} == stored["dispatch_calls"]


@pytest.mark.sqlite_only  # SQLite's one write lock; PostgreSQL locks rows
def test_another_process_holding_the_write_lock_delays_writes_only(
    server: Server, provision: Provisioner, community: Community, database_url: str
) -> None:
    lift_limits(provision, community)
    with server.client(community.api_key) as http:
        assert http.post("/v2/emergency/servers/1/calls/911", json=new_911()).status_code == 200
        # Another process takes SQLite's write lock and keeps it.
        holder = sqlite3.connect(sqlite_file(database_url), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(http.post, "/v2/emergency/servers/1/calls/911", json=new_911(caller="Held"))
            try:
                # Reads, the API document and the console page are answered while the lock is held...
                assert http.get("/openapi.json").status_code == 200
                listed = http.get("/v2/emergency/servers/1/calls")
                assert listed.status_code == 200
                assert [call["caller"] for call in listed.json()["emergencyCalls"]] == ["911 Caller"]
                assert http.get("/console").status_code == 200
                # ...and the write waits for it: still unanswered now.
                assert not pending.done()
            finally:
                holder.execute("ROLLBACK")
                holder.close()
            written = pending.result(timeout=30)
        assert written.status_code == 200, written.text
        assert (
            written.json()["callId"] in stored_calls(database_url, community.community_id)["emergency_calls"]
        )


@pytest.mark.parametrize("clients", [256, 1024])
def test_a_burst_larger_than_the_pool_queues_and_every_request_finishes(
    settings: Settings,
    provision: Provisioner,
    community: Community,
    database_url: str,
    clients: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # On PostgreSQL the pool has 10 connections: a thousand requests at once must wait their turn, never
    # deadlock; on SQLite they queue for the writer thread.
    lift_limits(provision, community, per_minute=100_000)
    # A queue of a thousand 911 calls is past the bound on one server's (calls.schemas); the burst is
    # about queueing for the database, so the bound is lifted for it.
    monkeypatch.setattr(calls_service, "MAX_OPEN_EMERGENCY_CALLS", clients)

    async def burst() -> list[httpx.Response]:
        async with running(settings) as (_app, http):
            headers = {"Authorization": f"Bearer {community.api_key}"}
            return await asyncio.wait_for(
                asyncio.gather(
                    *(
                        http.post(
                            "/v2/emergency/servers/1/calls/911", json=new_911(caller=f"c{n}"), headers=headers
                        )
                        for n in range(clients)
                    )
                ),
                timeout=120,
            )

    answers = asyncio.run(burst())
    assert [answer.status_code for answer in answers] == [200] * clients
    ids = {answer.json()["callId"] for answer in answers}
    assert len(ids) == clients
    assert ids == stored_calls(database_url, community.community_id)["emergency_calls"]


@pytest.mark.own_database  # no database at all: a PostgreSQL URL where nothing listens
def test_a_database_that_cannot_be_reached_answers_every_write_and_read_with_storage_unavailable() -> None:
    # Before, the writer's failure to open its connection escaped the batch: its requests never got an answer.
    db = Database(f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/nothing")

    def touch(connection: Connection) -> int:
        return int(connection.execute(text("SELECT 1")).scalar_one())

    async def scenario() -> tuple[list[BaseException | int], BaseException | int]:
        db.start()
        try:
            async with asyncio.timeout(30):
                writes = await asyncio.gather(*(db.write(touch) for _ in range(3)), return_exceptions=True)
                read = (await asyncio.gather(db.read(touch), return_exceptions=True))[0]
            return writes, read
        finally:
            await db.drain()

    try:
        writes, read = asyncio.run(scenario())
    finally:
        db.close()
    assert all(isinstance(outcome, StorageUnavailable) for outcome in writes), writes
    assert isinstance(read, StorageUnavailable), read
