"""Fixtures: each test gets its own SQLite file, a provisioner on it and the application over it: in
process (``server``), or on a real loopback socket (``live``) for the tests that need one."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from opendispatch.settings import Settings
from tests.support import (
    Community,
    InProcessServer,
    LiveServer,
    ManualClock,
    Provisioner,
    in_process_server,
    live_server,
    sqlite_file,
)

pytest_plugins = ["tests.services"]  # real PostgreSQL and Redis: postgresql_url, redis_url


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'opendispatch.db'}"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, expiry_interval_seconds=0.2)


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database file with every migration applied, made once per run."""
    path = tmp_path_factory.mktemp("migrated") / "opendispatch.db"
    Provisioner(f"sqlite:///{path}").close()  # closing the last connection folds the WAL into the file
    assert not path.with_name(f"{path.name}-wal").exists()
    return path


@pytest.fixture
def provision(database_url: str, migrated_database: Path) -> Iterator[Provisioner]:
    # A copy of the migrated file: far quicker than running every migration per test. The app's own
    # upgrade at startup still runs (and finds nothing to do); the provisioner need not run it too.
    shutil.copyfile(migrated_database, sqlite_file(database_url))
    provisioner = Provisioner(database_url, migrate=False)
    yield provisioner
    provisioner.close()


@pytest.fixture
def community(provision: Provisioner) -> Community:
    return provision.community("Alpha", servers=2)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def server(settings: Settings, provision: Provisioner, clock: ManualClock) -> Iterator[InProcessServer]:
    with in_process_server(settings, clock) as running:
        yield running


@pytest.fixture
def live(settings: Settings, provision: Provisioner, clock: ManualClock) -> Iterator[LiveServer]:
    """The server on a real socket, for a URL given to an SDK or a browser, and for SSE streams."""
    with live_server(settings, clock) as running:
        yield running


@pytest.fixture
def uncached_settings(settings: Settings) -> Settings:
    """Settings with the API-key cache off, so a revoked key is refused on the very next request."""
    return settings.model_copy(update={"key_cache_seconds": 0})


@pytest.fixture
def uncached_server(
    uncached_settings: Settings, provision: Provisioner, clock: ManualClock
) -> Iterator[InProcessServer]:
    with in_process_server(uncached_settings, clock) as running:
        yield running
