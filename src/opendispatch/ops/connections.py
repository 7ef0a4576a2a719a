"""HTTP connections under pressure: slow clients timed out, and a cap below the file-descriptor limit.

uvicorn closes an idle keep-alive connection, but it waits forever for the headers or body of a request
that trickles in, and at the process's descriptor limit it can accept nobody, not even a health check.
This protocol, uvicorn's own (httptools) with three additions, keeps the server answering:

- a request's headers must arrive within ``header_seconds`` of its first byte (or of the connection, for
  a client that sends nothing), and its body within ``body_seconds`` after them: else 408 and closed;
- at most ``max_connections`` HTTP connections are open; a new one beyond that first takes the place
  of the oldest connection still waiting for its headers (a slow client's), and when there is none it
  gets a 503 and is closed at once, so descriptors never run out;
- both are logged, at most once every ten seconds each.

WebSockets (the hub) are out of its hands once upgraded: the hub has timeouts of its own.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)

# Descriptors kept for everything that is not a client: database connections, log files, the hub's
# outgoing pushes, the metrics listener.
RESERVED_DESCRIPTORS = 128
_LOG_EVERY_SECONDS = 10.0


def connection_cap(wanted: int) -> int:
    """``wanted``, lowered to stay ``RESERVED_DESCRIPTORS`` under this process's descriptor limit."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(16, min(wanted, soft - RESERVED_DESCRIPTORS))


class _Warnings:
    """Log a warning at most once per interval per kind."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}

    def warn(self, kind: str, message: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self._last.get(kind, -_LOG_EVERY_SECONDS) >= _LOG_EVERY_SECONDS:
            self._last[kind] = now
            log.warning(message, *args)


def guarded_protocol(*, max_connections: int, header_seconds: float, body_seconds: float) -> type:
    """uvicorn's HTTP protocol class with these limits (pass it as ``http=``)."""
    warnings = _Warnings()
    cap = connection_cap(max_connections)

    class GuardedProtocol(HttpToolsProtocol):
        """One HTTP connection, timed out when slow and refused beyond the cap."""

        _timer: asyncio.TimerHandle | None = None
        _waiting_since: float | None = None  # when the headers it waits for were first due

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > cap and not self._shed_a_slow_one():
                warnings.warn(
                    "refused",
                    "%d HTTP connections open (the cap, OPENDISPATCH_MAX_CONNECTIONS or the descriptor "
                    "limit): new ones get 503",
                    cap,
                )
                self._refuse(503, "Service Unavailable", "Too many connections; try again shortly.")
                return
            self._await_headers()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_timer()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._waiting_since is None and self._timer is None and not self.transport.is_closing():
                self._await_headers()  # the first bytes of a next request on a kept-alive connection
            super().data_received(data)

        def on_headers_complete(self) -> None:
            self._stop_timer()
            super().on_headers_complete()
            if not self.parser.should_upgrade():
                self._timer = self.loop.call_later(body_seconds, self._timed_out, "body")

        def on_message_complete(self) -> None:
            self._stop_timer()
            super().on_message_complete()

        def _await_headers(self) -> None:
            self._stop_timer()
            self._waiting_since = time.monotonic()
            self._timer = self.loop.call_later(header_seconds, self._timed_out, "headers")

        def _stop_timer(self) -> None:
            self._waiting_since = None
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        def _timed_out(self, part: str) -> None:
            self._timer = None
            self._waiting_since = None
            if self.transport.is_closing():
                return
            warnings.warn("slow", "closed a connection whose request %s did not arrive in time", part)
            if self.cycle is None or not self.cycle.response_started:
                self._refuse(408, "Request Timeout", f"The request's {part} did not arrive in time.")
            else:
                self.transport.close()

        def _shed_a_slow_one(self) -> bool:
            slow = [
                other
                for other in self.connections
                if isinstance(other, GuardedProtocol)
                and other is not self
                and other._waiting_since is not None
            ]
            if not slow:
                return False
            oldest = min(slow, key=lambda other: other._waiting_since or 0.0)
            warnings.warn("shed", "at %d HTTP connections: closing the slowest to let a new one in", cap)
            oldest._stop_timer()
            oldest._refuse(503, "Service Unavailable", "Too many connections; this one was too slow.")
            return True

        def _refuse(self, status: int, reason: str, message: str) -> None:
            body = message.encode()
            self.transport.write(
                f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n"
                f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode()
                + body
            )
            self.transport.close()
            self.connections.discard(self)

    return GuardedProtocol
