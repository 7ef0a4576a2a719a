"""Fixtures: each test gets its own database, a provisioner on it and the application over it: in
process (``server``), or on a real loopback socket (``live``) for the tests that need one.

The database is a SQLite file, or with ``--backend postgresql`` a database of its own on the session's
PostgreSQL (scripts/test.sh runs the service and HTTP suites on both). Tests about SQLite itself are
marked ``sqlite_only`` and left out (deselected, not skipped) on PostgreSQL.
"""

from __future__ import annotations

import gc
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from tests.services import PostgresServer

pytest_plugins = ["tests.services"]  # real PostgreSQL and Redis: postgresql_url, redis_url


BACKENDS = ("sqlite", "postgresql")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        choices=BACKENDS,
        default="sqlite",
        help="The database the tests run on (default sqlite).",
    )


# Left out of a --backend postgresql run (deselected, not skipped): tests of SQLite itself, and tests
# that bring their own database, which the default run has run already.
SQLITE_PASS_ONLY = ("sqlite_only", "own_database")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: a test of SQLite itself (its file, locks, backup API)")
    config.addinivalue_line("markers", "own_database: a test that starts its own PostgreSQL; run once")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--backend") == "sqlite":
        return

    def sqlite_pass_only(item: pytest.Item) -> bool:
        return any(item.get_closest_marker(name) for name in SQLITE_PASS_ONLY)

    left_out = [item for item in items if sqlite_pass_only(item)]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if not sqlite_pass_only(item)]


@pytest.fixture(scope="session")
def backend(pytestconfig: pytest.Config) -> str:
    """The database the tests run on: sqlite or postgresql."""
    return str(pytestconfig.getoption("--backend"))


@pytest.fixture(scope="session")
def migrated_postgresql(request: pytest.FixtureRequest) -> str:
    """A PostgreSQL database with every migration applied, made once per run, to copy per test."""
    server: PostgresServer = request.getfixturevalue("postgresql_server")
    name = server.create_database()
    Provisioner(server.url(name)).close()
    return name


def pytest_collection_finish(session: pytest.Session) -> None:
    # What is loaded by now (the app's modules, their libraries, the collected tests) lives for the whole
    # run. Moved out of the collector's sight, it is not walked again by every full collection, which
    # every test's fresh app makes frequent: about 6% of the run's CPU time.
    gc.freeze()


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> str:
    if backend == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgresql_server")
        name = server.create_database(template=request.getfixturevalue("migrated_postgresql"))
        request.addfinalizer(lambda: server.drop_database(name))
        return server.url(name)
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
def provision(database_url: str, request: pytest.FixtureRequest) -> Iterator[Provisioner]:
    # A copy of a migrated database: far quicker than running every migration per test. The app's own
    # upgrade at startup still runs (and finds nothing to do); the provisioner need not run it too.
    if database_url.startswith("sqlite"):
        shutil.copyfile(request.getfixturevalue("migrated_database"), sqlite_file(database_url))
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
