"""The load balancer's probes: /healthz from the process alone, /readyz from named checks, never a 500."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from opendispatch.ops.health import Check, NotReady
from opendispatch.settings import Settings
from tests.ops.support import running
from tests.services import RedisServer
from tests.support import Provisioner, sqlite_file


@pytest.fixture
def migrated(settings: Settings, provision: Provisioner) -> Settings:
    """Settings over a database every migration has been applied to."""
    return settings


def stamp(database_url: str, revision: str) -> None:
    """Record ``revision`` as the schema's, as a process of another version would leave it."""
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :revision"), {"revision": revision})
    finally:
        engine.dispose()


def scramble(database_url: str) -> None:
    """Overwrite the database file and its WAL and index with noise, as a failing disk might."""
    for suffix in ("", "-wal", "-shm"):
        path = Path(sqlite_file(database_url) + suffix)
        size = path.stat().st_size
        with path.open("r+b") as file:
            file.write(os.urandom(max(size, 4096)))


def assert_unavailable(answer: httpx.Response, failed: list[str]) -> dict[str, dict[str, object]]:
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "5"
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["status"] == "unavailable"
    assert body["failed"] == failed
    checks: dict[str, dict[str, object]] = body["checks"]
    return checks


@pytest.mark.sqlite_only  # it breaks the database by overwriting SQLite's file
def test_healthz_answers_without_a_key_and_without_the_database(migrated: Settings) -> None:
    async def probe() -> None:
        async with running(migrated) as (_app, http):
            scramble(migrated.database_url)
            answer = await http.get("/healthz")
            assert answer.status_code == 200
            assert answer.json() == {"status": "alive"}
            assert answer.headers["cache-control"] == "no-store"
            # The same database really is gone: readiness says so.
            assert (await http.get("/readyz")).status_code == 503

    asyncio.run(probe())


def test_readyz_is_200_on_a_migrated_database_with_each_check_named(migrated: Settings) -> None:
    async def probe() -> None:
        async with running(migrated) as (_app, http):
            answer = await http.get("/readyz")
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["status"] == "ready"
            assert body["failed"] == []
            assert body["checks"]["database"] == {"ok": True, "detail": "answers"}
            assert body["checks"]["schema"]["ok"] is True
            assert body["checks"]["schema"]["detail"].startswith("at 0")

    asyncio.run(probe())


def test_readyz_is_503_naming_the_schema_while_it_is_behind_and_200_once_it_is_current(
    migrated: Settings,
) -> None:
    async def probe() -> None:
        async with running(migrated) as (_app, http):
            current = (await http.get("/readyz")).json()["checks"]["schema"]["detail"].removeprefix("at ")
            stamp(migrated.database_url, "0003")
            checks = assert_unavailable(await http.get("/readyz"), ["schema"])
            assert checks["database"]["ok"] is True
            assert checks["schema"] == {
                "ok": False,
                "detail": f"at 0003, behind {current}; run `opendispatch migrate`",
            }
            stamp(migrated.database_url, current)
            assert (await http.get("/readyz")).status_code == 200

    asyncio.run(probe())


def test_readyz_is_503_when_a_newer_version_migrated_the_database(migrated: Settings) -> None:
    async def probe() -> None:
        async with running(migrated) as (_app, http):
            stamp(migrated.database_url, "9999_from_the_future")
            checks = assert_unavailable(await http.get("/readyz"), ["schema"])
            assert "9999_from_the_future, which this version does not know" in str(checks["schema"]["detail"])

    asyncio.run(probe())


@pytest.mark.sqlite_only  # SQLite's file; a PostgreSQL that is down is the storage tests' business
def test_readyz_is_503_naming_the_database_when_its_file_is_unreadable(migrated: Settings) -> None:
    async def probe() -> None:
        async with running(migrated) as (_app, http):
            scramble(migrated.database_url)
            checks = assert_unavailable(await http.get("/readyz"), ["database", "schema"])
            # Which of SQLite's two words for it depends on what the reading connection had cached.
            assert checks["database"]["ok"] is False
            assert checks["database"]["detail"] in {
                "file is not a database",
                "database disk image is malformed",
            }

    asyncio.run(probe())


def test_a_plugged_in_check_that_hangs_or_breaks_fails_by_name_and_never_with_a_500(
    migrated: Settings,
) -> None:
    async def hangs() -> str:
        await asyncio.sleep(60)
        return "never"

    async def breaks() -> str:
        raise ConnectionRefusedError(111, "Connection refused")

    async def refuses() -> str:
        raise NotReady("read-only replica")

    async def probe() -> None:
        async with running(migrated) as (app, http):
            app.state.readiness.add(Check("redis", hangs, timeout_seconds=0.05))
            app.state.readiness.add(Check("cache", breaks))
            app.state.readiness.add(Check("replica", refuses))
            with pytest.raises(ValueError, match="already named 'redis'"):
                app.state.readiness.add(Check("redis", breaks))
            checks = assert_unavailable(await http.get("/readyz"), ["redis", "cache", "replica"])
            assert checks["redis"] == {"ok": False, "detail": "no answer within 0.05 s"}
            assert checks["cache"] == {
                "ok": False,
                "detail": "ConnectionRefusedError: [Errno 111] Connection refused",
            }
            assert checks["replica"] == {"ok": False, "detail": "read-only replica"}
            assert checks["database"]["ok"] is True

    asyncio.run(probe())


def test_readyz_checks_redis_when_one_is_configured(
    migrated: Settings, own_redis_server: RedisServer
) -> None:
    with_redis = migrated.model_copy(update={"redis_url": own_redis_server.url})

    async def probe() -> None:
        async with running(with_redis) as (_app, http):
            ready = await http.get("/readyz")
            assert ready.status_code == 200
            assert ready.json()["checks"]["redis"] == {"ok": True, "detail": "answers"}
            own_redis_server.stop()
            checks = assert_unavailable(await http.get("/readyz"), ["redis"])
            assert checks["redis"]["ok"] is False

    asyncio.run(probe())
