"""The test services themselves: a real PostgreSQL with a fresh database per test, a real Redis per test."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, inspect, select

from tests import services
from tests.services import PostgresServer, RedisServer

seen_databases: list[str] = []
rows = Table("probe", MetaData(), Column("id", Integer, primary_key=True), Column("name", String(40)))


def test_a_database_takes_a_table_and_a_row_through_psycopg_3(postgresql_url: str) -> None:
    assert postgresql_url.startswith("postgresql+psycopg://")
    engine = create_engine(postgresql_url)
    try:
        with engine.begin() as conn:
            rows.create(conn)
            conn.execute(insert(rows).values(id=1, name="Alta St"))
        with engine.connect() as conn:
            assert conn.execute(select(rows.c.name)).scalar_one() == "Alta St"
            assert engine.dialect.driver == "psycopg"
            assert "PostgreSQL" in conn.exec_driver_sql("SELECT version()").scalar_one()
    finally:
        engine.dispose()


@pytest.mark.parametrize("turn", [1, 2])
def test_each_test_gets_its_own_empty_database(postgresql_url: str, turn: int) -> None:
    engine = create_engine(postgresql_url)
    try:
        with engine.begin() as conn:
            # The other turn's table (created below) is not here: it was another, since dropped, database.
            assert inspect(conn).get_table_names() == []
            rows.create(conn)
    finally:
        engine.dispose()
    seen_databases.append(postgresql_url)
    assert len(set(seen_databases)) == len(seen_databases)


def test_a_tests_database_is_dropped_after_it(postgresql_server: PostgresServer) -> None:
    with postgresql_server.admin() as conn:
        names = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
    assert not {url.rsplit("/", 1)[1] for url in seen_databases} & names


@pytest.mark.parametrize("turn", [1, 2])
def test_redis_answers_and_is_empty_for_each_test(redis_url: str, turn: int) -> None:
    with redis.Redis.from_url(redis_url) as client:
        assert client.dbsize() == 0
        client.set("probe", f"turn {turn}")
        assert client.get("probe") == f"turn {turn}".encode()


def test_a_tests_own_redis_stops_and_starts_again_empty(own_redis_server: RedisServer) -> None:
    with own_redis_server.client() as client:
        client.set("probe", "1")
    own_redis_server.stop()
    assert not own_redis_server.answers()
    own_redis_server.restart()
    with own_redis_server.client() as client:
        assert client.get("probe") is None


def test_a_missing_server_fails_naming_the_script_that_installs_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Not a skip: a suite that quietly leaves out the fleet's tests would pass while testing less.
    with pytest.raises(pytest.fail.Exception, match=r"scripts/test\.sh"):
        services.postgres_binaries(tmp_path)
    monkeypatch.setattr(services.shutil, "which", lambda _name: None)
    with pytest.raises(pytest.fail.Exception, match=r"scripts/test\.sh"):
        services.start_redis()
