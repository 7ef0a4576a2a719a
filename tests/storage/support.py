"""What the storage tests share: a community to write to, a started database, and what was committed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Row, create_engine, event, text
from sqlalchemy.pool import NullPool

from opendispatch.communities import service as communities_service
from opendispatch.communities.schemas import Plan
from opendispatch.storage.database import Database
from opendispatch.storage.migrate import upgrade

T = TypeVar("T")


def new_community(database_url: str, name: str, *, servers: int) -> str:
    """Migrate the database and make a community with ``servers`` servers (1, 2, ...); its id."""
    database = Database(database_url)
    try:
        upgrade(database.engine)
        with database.transaction() as conn:
            created = communities_service.create_community(
                conn, name=name, now=0, servers_count=servers, plan=Plan.PRO
            )
    finally:
        database.close()
    return created.community_id


def committed(database_url: str, sql: str, **params: Any) -> list[Row[Any]]:
    """Rows as a separate connection sees them: only what was really committed."""
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as plain:
            return list(plain.execute(text(sql), params).all())
    finally:
        engine.dispose()


def stored_911_calls(database_url: str, community_id: str) -> list[int]:
    """The committed 911 call ids of a community, in order."""
    rows = committed(
        database_url,
        "SELECT call_id FROM emergency_calls WHERE community_id = :c ORDER BY call_id",
        c=community_id,
    )
    return [row[0] for row in rows]


def run(
    database_url: str,
    body: Callable[[Database], Awaitable[T]],
    *,
    batch_size: int = 256,
    gather_seconds: float = 0.0,
) -> tuple[T, int]:
    """Run ``body`` against a started database on a fresh event loop; its result and commit count."""
    database = Database(database_url, write_batch_size=batch_size, write_gather_seconds=gather_seconds)
    commits = 0

    def count(_connection: Connection) -> None:
        nonlocal commits
        commits += 1

    event.listen(database.engine, "commit", count)

    async def main() -> T:
        database.start()
        try:
            return await body(database)
        finally:
            await database.drain()

    try:
        result = asyncio.run(main())
    finally:
        database.close()
    return result, commits
