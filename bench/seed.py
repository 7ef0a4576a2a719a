"""Closed dispatch calls written straight into a stopped server's database: a SQLite file, or PostgreSQL.

Creating 100 000 closed calls through the API takes minutes; one transaction of ``executemany`` (SQLite)
or ``COPY`` (PostgreSQL) takes a second. The rows look like calls created with ``"status": 2`` (columns
of ``opendispatch.calls.models.dispatch_calls``), the community's call id counter moves past them, and the
server's ``closed_call_count`` counter grows by as many, as the server itself would do.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import psycopg

_COLUMNS = (
    "community_id",
    "call_id",
    "server_id",
    "origin",
    "status",
    "priority",
    "block",
    "address",
    "postal",
    "title",
    "code",
    "description",
    "primary_ident",
    "track_primary",
    "meta_data",
    "created_at",
    "updated_at",
    "closed_at",
    "delete_at",
    "removed_at",
)
_INSERT = f"INSERT INTO dispatch_calls ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
CLOSED = 2


def _closed_calls(
    community_id: str, server_id: int, last_call_id: int, count: int
) -> Iterator[tuple[Any, ...]]:
    """The rows of ``count`` closed calls after ``last_call_id``, closed one second apart, newest now."""
    now = time.time_ns() // 1_000_000
    for n in range(1, count + 1):
        closed_at = now - (count - n) * 1000
        yield (
            community_id,
            last_call_id + n,
            server_id,
            0,  # RADIO_DISPATCH
            CLOSED,
            2,
            "Block 7",
            f"{n} Alta St",
            "9001",
            "Traffic stop",
            "10-38",
            f"Closed call {n}",
            -1,
            False,
            '{"x":"425.1","y":"-979.2"}',
            closed_at - 600_000,
            closed_at,
            closed_at,
            None,
            None,
        )


def seed_closed_calls(path: str, *, community_id: str, server_id: int, count: int) -> None:
    """Add ``count`` CLOSED dispatch calls to the server in a SQLite file, closed one second apart."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        (last_call_id,) = connection.execute(
            "SELECT last_call_id FROM communities WHERE community_id = ?", (community_id,)
        ).fetchone()
        connection.executemany(_INSERT, _closed_calls(community_id, server_id, last_call_id, count))
        connection.execute(
            "UPDATE communities SET last_call_id = last_call_id + ? WHERE community_id = ?",
            (count, community_id),
        )
        changed = connection.execute(
            "UPDATE servers SET closed_call_count = closed_call_count + ? "
            "WHERE community_id = ? AND server_id = ?",
            (count, community_id, server_id),
        ).rowcount
        if changed != 1:
            raise RuntimeError(f"community {community_id} has no server {server_id}")
        connection.execute("COMMIT")
    finally:
        connection.close()


def seed_closed_calls_postgresql(conninfo: str, *, community_id: str, server_id: int, count: int) -> None:
    """Add ``count`` CLOSED dispatch calls to the server in a PostgreSQL database, then VACUUM ANALYZE it.

    Autovacuum would have vacuumed and analyzed a table that grew to this size over weeks; right after a
    bulk load it has not yet, and the planner would guess without statistics.
    """
    # Autocommit: transaction() is then the one transaction, and VACUUM (never in one) may follow.
    with psycopg.connect(conninfo, autocommit=True) as connection:
        with connection.transaction():
            row = connection.execute(
                "SELECT last_call_id FROM communities WHERE community_id = %s FOR UPDATE", (community_id,)
            ).fetchone()
            if row is None:
                raise RuntimeError(f"no community {community_id}")
            with connection.cursor().copy(f"COPY dispatch_calls ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
                for values in _closed_calls(community_id, server_id, int(row[0]), count):
                    copy.write_row(values)
            connection.execute(
                "UPDATE communities SET last_call_id = last_call_id + %s WHERE community_id = %s",
                (count, community_id),
            )
            changed = connection.execute(
                "UPDATE servers SET closed_call_count = closed_call_count + %s "
                "WHERE community_id = %s AND server_id = %s",
                (count, community_id, server_id),
            ).rowcount
            if changed != 1:
                raise RuntimeError(f"community {community_id} has no server {server_id}")
        connection.execute("VACUUM ANALYZE dispatch_calls")
