"""Test support: the real application over a real SQLite file, in process or on a loopback port, and
provisioning helpers."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import socket
import threading
import time
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy import func, inspect, select, table

from opendispatch.api.limits import DEFAULT_LIMITS
from opendispatch.app import create_app
from opendispatch.communities import service as communities
from opendispatch.settings import Settings
from opendispatch.storage.database import Database
from opendispatch.storage.migrate import upgrade
from opendispatch.units import service as units

log = logging.getLogger(__name__)


class ManualClock:
    """A clock that moves only when the test says so."""

    def __init__(self, start_ms: int | None = None) -> None:
        self.ms = start_ms if start_ms is not None else time.time_ns() // 1_000_000

    def now_ms(self) -> int:
        return self.ms

    def monotonic(self) -> float:
        return self.ms / 1000

    def advance(self, *, minutes: float = 0, seconds: float = 0) -> None:
        self.ms += int(minutes * 60_000 + seconds * 1000)


class Server(Protocol):
    """What the tests use of a running server, whether in process or on a socket."""

    settings: Settings
    app: FastAPI

    @property
    def origin(self) -> str:
        """What a browser on the server's pages sends as Origin: the scheme, host and port clients use."""
        ...

    def client(self, api_key: str | None = None) -> httpx.Client: ...


class _AppTransport(httpx.BaseTransport):
    """Hands each request of a sync ``httpx.Client`` to the app on the server's event loop, no socket.

    The whole response is read before it is returned, so an endless stream (the SSE endpoints) never
    returns: it ends in ``httpx.ReadTimeout`` after the client's read timeout. Tests of streams use
    ``LiveServer``.
    """

    def __init__(self, app: FastAPI, loop: asyncio.AbstractEventLoop, state: dict[str, Any]) -> None:
        self._loop = loop

        async def served(scope: Any, receive: Any, send: Any) -> None:
            try:
                await app({**scope, "state": state.copy()}, receive, send)  # as uvicorn passes it on
            except Exception:
                log.exception("Exception in ASGI application")  # logged as uvicorn logs it
                raise

        # Exceptions become 500s, as a real server answers them.
        self._asgi = httpx.ASGITransport(app=served, raise_app_exceptions=False, client=("127.0.0.1", 50000))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # a sync body (even a generator's chunks) becomes bytes the loop can send
        future = asyncio.run_coroutine_threadsafe(self._send(request), self._loop)
        timeouts = request.extensions.get("timeout", {})
        try:
            return future.result(timeouts.get("read"))
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise httpx.ReadTimeout("the app did not answer in time", request=request) from None

    async def _send(self, request: httpx.Request) -> httpx.Response:
        answer = await self._asgi.handle_async_request(request)
        body = b"".join([part async for part in answer.aiter_raw()])
        # The body as sent (still encoded): the client decodes it, as it would off a socket.
        return httpx.Response(answer.status_code, headers=answer.headers.raw, stream=httpx.ByteStream(body))


class InProcessServer:
    """The real application, with no socket: its lifespan runs on an event loop in a background thread,
    as under uvicorn (migrations, the DB writer and the background tasks start; shutdown drains writes),
    and its clients' requests reach it through ``_AppTransport``. Much cheaper to start and stop than
    ``LiveServer``, which is for what needs a real socket: a URL for an SDK or a browser, SSE streams.
    """

    origin = "http://127.0.0.1"

    def __init__(self, settings: Settings, clock: Any = None) -> None:
        self.settings = settings
        self.app = create_app(settings, clock=clock)
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)
        self._ready = threading.Event()
        self._failure: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._state: dict[str, Any] = {}  # what the lifespan leaves for every request

    def start(self) -> InProcessServer:
        self._thread.start()
        if not self._ready.wait(20) or self._failure is not None:
            self._thread.join(timeout=20)
            raise RuntimeError(f"the app did not start: {self._failure}")
        return self

    def stop(self) -> None:
        """Run the lifespan's shutdown and wait for it; a failed shutdown fails the test."""
        if self._loop is not None and self._stopping is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout=20)
        if self._thread.is_alive() or self._failure is not None:
            raise RuntimeError(f"the app did not shut down cleanly: {self._failure}")

    def __enter__(self) -> InProcessServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def client(self, api_key: str | None = None) -> httpx.Client:
        assert self._loop is not None, "start the server first"
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        transport = _AppTransport(self.app, self._loop, self._state)
        return httpx.Client(base_url=self.origin, headers=headers, timeout=30, transport=transport)

    async def _serve(self) -> None:
        """The ASGI lifespan protocol, as uvicorn speaks it: startup, then shutdown once ``stop`` asks."""
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        inbox: asyncio.Queue[MutableMapping[str, Any]] = asyncio.Queue()
        outbox: asyncio.Queue[MutableMapping[str, Any]] = asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self._state}
        lifespan = asyncio.create_task(self.app(scope, inbox.get, outbox.put))

        async def step(name: str) -> bool:
            await inbox.put({"type": f"lifespan.{name}"})
            reply = asyncio.ensure_future(outbox.get())
            await asyncio.wait({reply, lifespan}, return_when=asyncio.FIRST_COMPLETED)
            if reply.done() and reply.result()["type"] == f"lifespan.{name}.complete":
                return True
            reply.cancel()
            self._failure = reply.result().get("message") if reply.done() else repr(lifespan.exception())
            return False

        try:
            if await step("startup"):
                self._ready.set()
                await self._stopping.wait()
                await step("shutdown")
        finally:
            self._ready.set()
            await asyncio.gather(lifespan, return_exceptions=True)


@contextmanager
def in_process_server(settings: Settings, clock: Any = None) -> Iterator[InProcessServer]:
    with InProcessServer(settings, clock) as server:
        yield server


class LiveServer:
    """The real application served by uvicorn on 127.0.0.1 in a background thread."""

    def __init__(self, settings: Settings, clock: Any = None) -> None:
        self.settings = settings
        self.app = create_app(settings, clock=clock)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        # An open SSE stream (a browser's) never ends by itself: on stop, uvicorn waits the graceful
        # timeout for it and then cuts it; a longer wait tells a test nothing more.
        config = uvicorn.Config(
            self.app, log_level="warning", lifespan="on", access_log=False, timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def start(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=20)
        self._socket.close()

    @property
    def origin(self) -> str:
        return self.url

    def client(self, api_key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@contextmanager
def live_server(settings: Settings, clock: Any = None) -> Iterator[LiveServer]:
    server = LiveServer(settings, clock).start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Community:
    """A provisioned community with one API key and its servers."""

    community_id: str
    api_key: str
    servers: list[int]
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)


class Provisioner:
    """Creates communities, accounts and units straight through the services, as the CLI does."""

    def __init__(self, database_url: str, *, migrate: bool = True) -> None:
        """``migrate=False`` for a file known to be migrated already (a copy of one that was)."""
        self.database_url = database_url
        self.db = Database(database_url)
        if migrate:
            upgrade(self.db.engine)

    def close(self) -> None:
        self.db.close()

    def now(self) -> int:
        return time.time_ns() // 1_000_000

    def community(self, name: str = "Test", servers: int = 1) -> Community:
        with self.db.transaction() as conn:
            created = communities.create_community(conn, name=name, now=self.now(), servers_count=servers)
        return Community(created.community_id, created.api_key, created.servers)

    def account(
        self, community: Community, username: str, community_user_id: str | None = None
    ) -> dict[str, Any]:
        with self.db.transaction() as conn:
            created = units.create_account(
                conn,
                community_id=community.community_id,
                username=username,
                now=self.now(),
                community_user_id=community_user_id,
            )
        account = {"uuid": created.account_uuid, "secret": created.secret_uuid}
        community.accounts[username] = account
        return account

    def unit(
        self, community: Community, account_uuid: str, server_id: int = 1, unit_num: str = "1A-01"
    ) -> int:
        with self.db.transaction() as conn:
            return units.create_unit(
                conn,
                community_id=community.community_id,
                account_uuid=account_uuid,
                server_id=server_id,
                now=self.now(),
                unit_num=unit_num,
            )

    def revoke(self, community: Community, api_key: str) -> None:
        with self.db.transaction() as conn:
            communities.revoke_api_key(
                conn, community_id=community.community_id, api_key=api_key, now=self.now()
            )

    def set_limit(self, community: Community, endpoint: str, per_minute: int) -> None:
        with self.db.transaction() as conn:
            communities.set_rate_limit(
                conn, community_id=community.community_id, endpoint=endpoint, per_minute=per_minute
            )

    def scalar(self, sql: str) -> Any:
        with self.db.engine.connect() as conn:
            return conn.exec_driver_sql(sql).scalar()

    def row_counts(self) -> dict[str, int]:
        """How many rows each table holds: a bad request must leave these unchanged."""
        tables = [
            "communities",
            "servers",
            "api_keys",
            "accounts",
            "identifiers",
            "emergency_calls",
            "dispatch_calls",
            "call_notes",
            "call_units",
        ]
        return {table: self.scalar(f"SELECT count(*) FROM {table}") for table in tables}


# -- helpers appended for the core test suite -----------------------------------------------------------

ENDPOINTS = ("create_911", "create_dispatch", "get_calls")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def sqlite_file(database_url: str) -> str:
    """The file path of a ``sqlite:///...`` URL, for opening it with the plain sqlite3 module."""
    return database_url.removeprefix("sqlite:///")


def new_911(**overrides: Any) -> dict[str, Any]:
    """A valid Create 911 Call body (the reference's example), with ``overrides`` applied."""
    body: dict[str, Any] = {
        "isEmergency": True,
        "caller": "911 Caller",
        "location": "Alta St / Integrity Way",
        "description": "Shots fired",
        "metaData": {"source": "integration", "x": "425.1", "y": "-979.2", "z": "30.7", "postal": "9001"},
    }
    body.update(overrides)
    return body


def new_dispatch(**overrides: Any) -> dict[str, Any]:
    """A valid Create Dispatch Call body (the reference's cURL example), with ``overrides`` applied."""
    body: dict[str, Any] = {
        "origin": 0,
        "status": 1,
        "priority": 1,
        "block": "100",
        "address": "Mission Row",
        "postal": "9001",
        "title": "Armed Robbery",
        "code": "211",
        "description": "Clerk reports a firearm.",
        "notes": [],
        "communityUserIds": [],
        "metaData": {"source": "integration", "x": "425.1", "y": "-979.2", "radius": "75"},
    }
    body.update(overrides)
    return body


def without(body: dict[str, Any], field_name: str) -> dict[str, Any]:
    """``body`` with one field left out."""
    return {key: value for key, value in body.items() if key != field_name}


def lift_limits(provision: Provisioner, community: Community, per_minute: int = 10_000) -> None:
    """Raise every endpoint's limit for the community, for tests that make many requests."""
    for endpoint in DEFAULT_LIMITS:
        provision.set_limit(community, endpoint, per_minute)


def every_row_count(provision: Provisioner) -> dict[str, int]:
    """How many rows every table of the schema holds (whatever tables later migrations add)."""
    with provision.db.engine.connect() as conn:
        names = [name for name in inspect(conn).get_table_names() if name != "alembic_version"]
        return {
            name: conn.execute(select(func.count()).select_from(table(name))).scalar_one() for name in names
        }


def lift_every_limit(provision: Provisioner, community: Community, per_minute: int = 10_000) -> None:
    """Raise the limit of every operation for the community (limits have tests of their own)."""
    for endpoint in DEFAULT_LIMITS:
        provision.set_limit(community, endpoint, per_minute)
