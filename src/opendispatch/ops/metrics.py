"""The process's instruments: request latency, push delivery attempts and rate-limit refusals.

They live in a registry of their own (not prometheus_client's global one), so a scrape shows exactly what
docs/operations.md lists. Counting costs a lookup and an addition, so the hooks in the worker and the
limiter always count; the request timer is installed only when a metrics listener serves the numbers.
What is read at scrape time (the outbox, live streams, the pool) is in ``listener``.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# A `_created` series beside every counter and histogram doubles what Prometheus stores, for a start time
# it already has from the process metrics.
disable_created_metrics()  # type: ignore[no-untyped-call]  # unannotated upstream

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)  # memory, CPU, open files: what an operator looks at first
PlatformCollector(registry=REGISTRY)

# A create takes about 100 µs here; the default buckets start at 5 ms and would put every answer in one.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUEST_SECONDS = Histogram(
    "opendispatch_http_request_duration_seconds",
    "Time from a request's arrival to the start of its answer, by route and status class.",
    ["operation", "status_class"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
DELIVERY_ATTEMPTS = Counter(
    "opendispatch_push_delivery_attempts",
    "Push delivery attempts by result: delivered (2xx), refused (another status) or unreachable (no answer).",
    ["result"],
    registry=REGISTRY,
)
DEAD_EVENTS = Counter(
    "opendispatch_push_dead_events",
    "Events given up on after their maximum age (they wait for a redelivery).",
    registry=REGISTRY,
)
RATE_LIMIT_REFUSALS = Counter(
    "opendispatch_rate_limit_refusals",
    "Requests refused with 429, by the operation whose limit was used up.",
    ["operation"],
    registry=REGISTRY,
)

DELIVERY_RESULTS = ("delivered", "refused", "unreachable")
for _result in DELIVERY_RESULTS:
    DELIVERY_ATTEMPTS.labels(_result)  # each series from zero, so rate() sees the first one


def delivery_attempted(status_code: int | None, state: str) -> None:
    """Count one recorded delivery attempt by its result, and its event if that is now dead."""
    # Any answer but a 2xx is the receiver refusing; no answer at all (no connection, timeout): unreachable.
    failed = "unreachable" if status_code is None else "refused"
    result = "delivered" if state == "delivered" else failed
    DELIVERY_ATTEMPTS.labels(result).inc()
    if state == "dead":
        DEAD_EVENTS.inc()


def rate_limit_refused(operation: str) -> None:
    """Count one request refused because ``operation``'s limit was used up."""
    RATE_LIMIT_REFUSALS.labels(operation).inc()


UNMATCHED = "unmatched"  # no route (404), or refused before routing (413 on Content-Length)


class RequestTimer:
    """ASGI middleware timing each HTTP request to the start of its answer, labelled by the route's name.

    The route's name, not the path: paths carry ids, and a label per id would grow without bound. Time to
    the first byte, not to the last: a live stream's answer never ends.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._series: dict[tuple[str, int], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        answered = False

        async def timed_send(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start" and not answered:
                answered = True
                self._observe(scope, message["status"], time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        except Exception:
            if not answered:  # the server's error handler answers 500 outside this middleware
                self._observe(scope, 500, time.perf_counter() - started)
            raise

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        name = getattr(scope.get("route"), "name", None) or UNMATCHED
        key = (name, status // 100)
        series = self._series.get(key)
        if series is None:
            # labels() takes a lock and builds a key each time; the hot path looks its child up once.
            series = self._series[key] = REQUEST_SECONDS.labels(name, f"{status // 100}xx")
        series.observe(seconds)
