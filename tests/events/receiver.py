"""A real push receiver on a loopback port that records what arrives and can fail, hang or vanish."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Arrival:
    """One request the receiver got."""

    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """Serves POSTs on 127.0.0.1; ``status`` is what it answers, ``delay`` how long it hangs first."""

    def __init__(self, port: int = 0) -> None:
        self.arrivals: list[Arrival] = []
        self.attempts = 0
        self.status = 200
        self.delay = 0.0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver._lock:
                    receiver.attempts += 1
                    status, delay = receiver.status, receiver.delay
                if delay:
                    time.sleep(delay)
                if status < 300:
                    with receiver._lock:
                        receiver.arrivals.append(
                            Arrival({k.lower(): v for k, v in self.headers.items()}, body, time.monotonic())
                        )
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/sonorancad/event"
        # serve_forever notices shutdown() only between polls: at 0.5 s by default, stopping took that long.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Arrival]:
        """Wait until ``count`` events arrived (fails the test otherwise)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.arrivals) >= count:
                    return list(self.arrivals)
            time.sleep(0.01)
        raise AssertionError(f"{len(self.arrivals)} of {count} events arrived within {timeout} s")
