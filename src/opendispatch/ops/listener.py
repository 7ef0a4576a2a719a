"""The metrics listener: Prometheus text at ``/metrics`` on an address of its own, in the server's process.

Off unless ``OPENDISPATCH_METRICS_ADDRESS`` names an address, and never on the API port: the numbers name
communities and the listener asks for no key, so an operator opens it to Prometheus alone. It is a second
uvicorn server on the same event loop, started and stopped with the application. What a count cannot give
is read at each scrape: the outbox from the push tables (through ``Database.read``), the live streams
from the broker, and the pool from the engine.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import uvicorn
from prometheus_client import CollectorRegistry, make_asgi_app
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy.pool import QueuePool
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from opendispatch.api.limits import DEFAULT_LIMITS
from opendispatch.clock import Clock
from opendispatch.events.service import ServerBacklog, outbox_backlog
from opendispatch.ops.metrics import RATE_LIMIT_REFUSALS, REGISTRY
from opendispatch.settings import Settings
from opendispatch.storage.database import Database

log = logging.getLogger(__name__)

# A scrape is answered without the outbox rather than not at all when the database is slow.
OUTBOX_READ_SECONDS = 5.0


class ScrapedValues:
    """The values read at scrape time, as a prometheus_client collector."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        outbox_servers: int,
        subscribers: Callable[[], int] | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.outbox_servers = outbox_servers
        self.subscribers = subscribers
        self.backlog: list[ServerBacklog] | None = None

    async def refresh(self) -> None:
        """Read the outbox now; on failure the scrape goes on without it (``/readyz`` says why)."""
        try:
            async with asyncio.timeout(OUTBOX_READ_SECONDS):  # not wait_for: see DeliveryWorker
                self.backlog = await self.db.read(outbox_backlog)
        except Exception as exc:
            log.warning("metrics: reading the outbox failed: %r", exc)
            self.backlog = None

    def collect(self) -> Iterable[Metric]:
        """The outbox, the live streams and the pool, as of the last ``refresh``."""
        if self.backlog is not None:
            yield from self._outbox(self.backlog)
        if self.subscribers is not None:
            yield GaugeMetricFamily(
                "opendispatch_stream_subscribers", "Live event streams open now.", value=self.subscribers()
            )
        yield from self._pool()

    def _outbox(self, backlog: list[ServerBacklog]) -> Iterator[Metric]:
        now = self.clock.now_ms()
        yield GaugeMetricFamily(
            "opendispatch_outbox_backlog_events",
            "Events waiting for delivery, all servers together.",
            value=sum(server.pending for server in backlog),
        )
        yield GaugeMetricFamily(
            "opendispatch_outbox_backlog_servers",
            "Servers with events waiting for delivery (each has series below, up to the configured most).",
            value=len(backlog),
        )
        # Bounded: only servers with something pending, and of those the ones waiting longest first.
        worst = sorted(backlog, key=lambda server: server.oldest_created_at)[: self.outbox_servers]
        depth = GaugeMetricFamily(
            "opendispatch_outbox_pending_events",
            "Events of one server waiting for delivery.",
            labels=["community", "server"],
        )
        age = GaugeMetricFamily(
            "opendispatch_outbox_oldest_pending_age_seconds",
            "How long ago one server's oldest undelivered event was written.",
            labels=["community", "server"],
        )
        for server in worst:
            labels = [server.community_id, str(server.server_id)]
            depth.add_metric(labels, server.pending)
            age.add_metric(labels, max(0, now - server.oldest_created_at) / 1000)
        yield depth
        yield age

    def _pool(self) -> Iterator[Metric]:
        pool = self.db.engine.pool
        if not isinstance(pool, QueuePool):  # other pools keep no counts
            return
        yield GaugeMetricFamily(
            "opendispatch_db_pool_size", "Connections the pool keeps open when idle.", value=pool.size()
        )
        connections = GaugeMetricFamily(
            "opendispatch_db_pool_connections",
            "Connections of the pool: checked_out (in use, the loop's writer and reader among them), idle.",
            labels=["state"],
        )
        connections.add_metric(["checked_out"], pool.checkedout())
        connections.add_metric(["idle"], pool.checkedin())
        yield connections


class _Scrape:
    """The ``/metrics`` endpoint: refresh what is read at scrape time, then prometheus_client's exposition
    (it picks the text or OpenMetrics format from Accept, and gzips when asked)."""

    def __init__(self, scraped: ScrapedValues, registry: CollectorRegistry) -> None:
        self.scraped = scraped
        self.expose = make_asgi_app(registry)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.scraped.refresh()
        await self.expose(scope, receive, send)


class _Forward:
    """The process's instruments, shown by each listener's registry."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to the process's own server, which stops it with the app."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class MetricsListener:
    """Serves ``/metrics`` on its own address from ``start`` until ``stop``."""

    def __init__(self, host: str, port: int, scraped: ScrapedValues) -> None:
        self.host = host
        self.port = port
        self.scraped = scraped
        self.registry = CollectorRegistry()
        self.registry.register(_Forward())
        self.registry.register(scraped)
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    def app(self) -> Starlette:
        """The listener's ASGI application: ``/metrics`` and nothing else."""
        return Starlette(routes=[Route("/metrics", _Scrape(self.scraped, self.registry), methods=["GET"])])

    async def start(self) -> None:
        """Listen now, so a taken or bad address fails the start; scrapes are served from then on."""
        for operation in DEFAULT_LIMITS:
            RATE_LIMIT_REFUSALS.labels(operation)  # each series from zero
        listening = _listen(self.host, self.port)
        self.port = listening.getsockname()[1]  # the port chosen, when asked for any (0)
        config = uvicorn.Config(
            self.app(),
            lifespan="off",
            log_config=None,  # the process's server configured logging already
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[listening]))
        log.info("metrics listener on http://%s/metrics", _address(self.host, self.port))

    async def stop(self) -> None:
        """Stop listening and finish the scrapes under way."""
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        await asyncio.gather(self._task, return_exceptions=True)
        self._server = self._task = None


def _listen(host: str, port: int) -> socket.socket:
    # Bound and listening before uvicorn takes it: connections wait in the backlog, none is refused.
    family, _kind, _proto, _name, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    return socket.create_server(address[:2], family=family)


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def metrics_listener(
    settings: Settings, db: Database, clock: Clock, subscribers: Callable[[], int] | None = None
) -> MetricsListener | None:
    """The listener ``settings`` ask for, not yet started; None when metrics are off."""
    listen = settings.metrics_listen()
    if listen is None:
        return None
    scraped = ScrapedValues(
        db, clock, outbox_servers=settings.metrics_outbox_servers, subscribers=subscribers
    )
    return MetricsListener(*listen, scraped)
