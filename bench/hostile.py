"""The hostile row: a fat call edited without pause while slow readers hold live streams open.

    python -m bench.hostile                 # 20 s measured
    python -m bench.hostile --seconds 5

One client fills a dispatch call up to its bound (notes of 10,000 characters until the server refuses
one more) and then edits its title as fast as the server answers, each edit an EVENT_DISPATCH_EDIT of
the whole call; twenty live-stream subscribers connect and never read a byte; rate limits are off, so
nothing but the server's own bounds holds them back. Meanwhile a normal client creates one 911 call
every 100 ms and times the answers. Reported: the server's peak RSS (goal < 250 MB) and the normal
client's p99 (goal < 50 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.pace import percentile
from bench.processes import HOST, Service, free_port, install_cleanup, stop_all

_CLI = [sys.executable, "-m", "opendispatch.cli"]
S1 = "/v2/emergency/servers/1"
SLOW_READERS = 20
NOTE = "n" * 10_000
RSS_TARGET = 250_000_000
P99_TARGET = 0.050


@dataclass
class Hostile:
    """What the row measured."""

    seconds: float = 0.0
    notes_stored: int = 0
    edits: int = 0
    normal: list[float] = field(default_factory=list)
    normal_failures: int = 0
    peak_rss: int = 0
    server_cpu: float = 0.0

    def passed(self) -> bool:
        return (
            bool(self.normal)
            and percentile(self.normal, 0.99) < P99_TARGET
            and self.peak_rss < RSS_TARGET
            and not self.normal_failures
        )


async def fat_call_edits(url: str, key: str, until: float, row: Hostile) -> None:
    """Fill a dispatch call to its bound, then edit its title until ``until``."""
    loop = asyncio.get_running_loop()
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
        body = {
            "origin": 0,
            "status": 1,
            "priority": 1,
            "block": "100",
            "address": "Alta St",
            "postal": "9001",
            "title": "Fat",
            "code": "10-99",
            "description": NOTE,
            "notes": [],
            "communityUserIds": [],
            "metaData": {},
        }
        created = await client.post(f"{S1}/dispatch-calls", json=body)
        created.raise_for_status()
        call_id = created.json()["callId"]
        while True:
            added = await client.post(
                f"{S1}/dispatch-calls/{call_id}/notes", json={"label": "log", "note": NOTE}
            )
            if added.status_code != 200:
                break  # the call's bound: the server refused one more
            row.notes_stored += 1
        n = 0
        while loop.time() < until:
            n += 1
            edited = await client.patch(f"{S1}/dispatch-calls/{call_id}", json={"title": f"Fat {n}"})
            if edited.status_code == 200:
                row.edits += 1


def slow_readers(port: int, key: str) -> list[socket.socket]:
    """Live-stream subscribers that send their request and never read."""
    readers = []
    for _ in range(SLOW_READERS):
        reader = socket.create_connection((HOST, port))
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        request = f"GET {S1}/events HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {key}\r\n\r\n"
        reader.sendall(request.encode())
        readers.append(reader)
    return readers


async def normal_client(url: str, key: str, until: float, row: Hostile) -> None:
    """One 911 call every 100 ms, each answer timed."""
    loop = asyncio.get_running_loop()
    headers = {"Authorization": f"Bearer {key}"}
    body = {"isEmergency": False, "caller": "c", "location": "Alta St", "description": "normal"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as client:
        next_at = loop.time()
        while loop.time() < until:
            started = loop.time()
            answer = await client.post(f"{S1}/calls/911", json=body)
            if answer.status_code == 200:
                row.normal.append(loop.time() - started)
            else:
                row.normal_failures += 1
            next_at += 0.1
            await asyncio.sleep(max(0.0, next_at - loop.time()))


async def run(server: Service, key: str, seconds: float) -> Hostile:
    row = Hostile()
    loop = asyncio.get_running_loop()
    readers = slow_readers(server.port, key)
    try:
        server.reset_peak_rss()
        cpu = server.cpu_seconds()
        started = loop.time()
        until = started + seconds
        await asyncio.gather(
            fat_call_edits(server.url, key, until, row), normal_client(server.url, key, until, row)
        )
        row.seconds = loop.time() - started
        row.server_cpu = (server.cpu_seconds() - cpu) / row.seconds
        row.peak_rss = server.peak_rss()
    finally:
        for reader in readers:
            reader.close()
    return row


def measure(workdir: Path, seconds: float) -> Hostile:
    """Start a server over a fresh SQLite file in ``workdir`` and run the hostile workload on it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENDISPATCH_")}
    env["OPENDISPATCH_RATE_LIMITS_ENABLED"] = "false"
    url = f"sqlite:///{workdir}/hostile.db"
    created = json.loads(
        subprocess.run(
            [*_CLI, "community", "create", "--name", "Bench", "--database", url, "--json"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout
    )
    port = free_port()
    argv = [*_CLI, "serve", "--host", HOST, "--port", str(port), "--database", url]
    with Service("opendispatch", argv, port=port, log=workdir / "server.log", env=env) as server:
        return asyncio.run(run(server, created["apiKey"], seconds))


def render(row: Hostile) -> str:
    normal = row.normal or [float("nan")]
    return "\n".join(
        [
            "| workload | fat-call edits/s | normal create p50 / p99 | server CPU | peak RSS | goals |",
            "|---|---|---|---|---|---|",
            f"| call at its bound ({row.notes_stored} notes of 10,000 chars), {SLOW_READERS} readers that "
            f"never read | {row.edits / row.seconds:,.0f} | {percentile(normal, 0.5) * 1000:.1f} / "
            f"{percentile(normal, 0.99) * 1000:.1f} ms | {row.server_cpu:.0%} | {row.peak_rss / 1e6:.0f} MB "
            f"| {'met' if row.passed() else 'not met'} |",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hostile", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    install_cleanup()
    with tempfile.TemporaryDirectory(prefix="opendispatch-hostile-") as workdir:
        try:
            row = measure(Path(workdir), args.seconds)
        finally:
            stop_all()
    print(render(row))
    return 0 if row.passed() else 1


if __name__ == "__main__":
    sys.exit(main())
