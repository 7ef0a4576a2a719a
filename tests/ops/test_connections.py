"""Slow clients cannot take the server down: 1,100 connections that never finish their headers, against
a server whose descriptor limit is 1,024, while a normal client keeps getting answers."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.services import launcher
from tests.support import free_port
from tests.test_fleet import wait_until

ROOT = Path(__file__).resolve().parents[2]
SLOW = 1100


def limit_descriptors() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))


@pytest.fixture
def room_for_slow_clients() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < SLOW + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, SLOW + 500), hard))


@pytest.mark.sqlite_only  # a test of the HTTP server, whatever the database
def test_slow_clients_are_shed_and_timed_out_while_a_normal_client_is_answered(
    tmp_path: Path, room_for_slow_clients: None
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
        "OPENDISPATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'od.db'}",
        "OPENDISPATCH_HEADER_TIMEOUT_SECONDS": "3",
    }
    log = tmp_path / "serve.log"
    with log.open("ab") as out:
        server = subprocess.Popen(
            [*launcher("KILL"), sys.executable, "-m", "opendispatch.cli", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=limit_descriptors,
        )
    url = f"http://127.0.0.1:{port}"
    slow: list[socket.socket] = []
    try:

        def ready() -> bool:
            try:
                return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, 30, log.read_text)
        answered: list[float] = []
        with httpx.Client(base_url=url, timeout=5) as normal:
            for n in range(SLOW):
                client = socket.create_connection(("127.0.0.1", port))
                client.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never the blank line
                slow.append(client)
                if n % 100 == 99:
                    # A new connection for each check: a normal client arriving while the slow ones pile up.
                    started = time.monotonic()
                    check = normal.get("/healthz", headers={"Connection": "close"})
                    assert check.status_code == 200, (n, check.status_code, check.text)
                    answered.append(time.monotonic() - started)
        assert len(answered) == SLOW // 100 and max(answered) < 2.0, answered

        # The slow ones are told and closed: the shed at once with 503, the rest after their 3 s.
        def closed(client: socket.socket) -> bytes:
            client.settimeout(10)
            try:
                return client.recv(200)
            except OSError:
                return b""

        replies = [closed(client) for client in slow]
        assert all(not reply or reply.startswith((b"HTTP/1.1 503", b"HTTP/1.1 408")) for reply in replies)
        assert sum(reply.startswith(b"HTTP/1.1 408") for reply in replies) > 0
        assert sum(reply.startswith(b"HTTP/1.1 503") for reply in replies) > 0
        text = log.read_text()
        assert "closing the slowest" in text and "did not arrive in time" in text
        assert server.poll() is None  # still up
    finally:
        for client in slow:
            client.close()
        server.kill()
        server.wait(10)
