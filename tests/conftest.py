"""Fixtures: each test gets its own SQLite file, a provisioner on it and a live server over it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from opendispatch.settings import Settings
from tests.support import Community, LiveServer, ManualClock, Provisioner, live_server

pytest_plugins = ["tests.services"]  # real PostgreSQL and Redis: postgresql_url, redis_url


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'opendispatch.db'}"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, expiry_interval_seconds=0.2)


@pytest.fixture
def provision(database_url: str) -> Iterator[Provisioner]:
    provisioner = Provisioner(database_url)
    yield provisioner
    provisioner.close()


@pytest.fixture
def community(provision: Provisioner) -> Community:
    return provision.community("Alpha", servers=2)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def server(settings: Settings, provision: Provisioner, clock: ManualClock) -> Iterator[LiveServer]:
    with live_server(settings, clock) as running:
        yield running


@pytest.fixture
def uncached_settings(settings: Settings) -> Settings:
    """Settings with the API-key cache off, so a revoked key is refused on the very next request."""
    return settings.model_copy(update={"key_cache_seconds": 0})


@pytest.fixture
def uncached_server(
    uncached_settings: Settings, provision: Provisioner, clock: ManualClock
) -> Iterator[LiveServer]:
    with live_server(uncached_settings, clock) as running:
        yield running
