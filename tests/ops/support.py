"""The real application in process over a real SQLite file, its lifespan run; reading a scrape; a push
target that does not answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from opendispatch.app import create_app
from opendispatch.events import service as events
from opendispatch.settings import Settings
from tests.support import Community, Provisioner, free_port


@asynccontextmanager
async def running(settings: Settings, clock: Any = None) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app with its lifespan started (migrations, writer, worker, listener), and a client over ASGI."""
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield app, http


def metrics_url(app: FastAPI) -> str:
    """Where the app's metrics listener serves."""
    return f"http://127.0.0.1:{app.state.metrics.port}/metrics"


def sample(exposition: str, name: str, **labels: str) -> float | None:
    """The value of one series of a Prometheus text exposition, or None when it is not there."""
    for family in text_string_to_metric_families(exposition):
        for found in family.samples:
            if found.name == name and found.labels == labels:
                return float(found.value)
    return None


def listening_ports() -> set[int]:
    """The TCP ports this process listens on now (Linux: its socket inodes in /proc/net/tcp{,6})."""
    fds = Path("/proc/self/fd")
    inodes = set()
    for fd in fds.iterdir():
        try:
            target = fd.readlink().name
        except OSError:  # closed since listed
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:  # 0A: LISTEN
                ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


def point_at_nothing(provision: Provisioner, community: Community, server_id: int) -> None:
    """Give the server a push target on a port where nothing answers."""
    with provision.db.transaction() as conn:
        events.set_push_target(
            conn,
            community_id=community.community_id,
            server_id=server_id,
            now=provision.now(),
            url=f"http://127.0.0.1:{free_port()}/sonorancad/event",
            body_key=community.api_key,
        )
