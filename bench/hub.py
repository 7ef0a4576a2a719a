"""Live positions through the hub: game servers sending the documented maximum, consoles watching.

    python -m bench.hub                        # 20 and 80 game servers, then higher until a goal fails
    python -m bench.hub --connections 20 --seconds 5

Each game server is one SignalR connection to ``/apiWsHub`` (the JSON protocol, without negotiation, as
the official client does with ``skipNegotiation``), authenticated on a server of its own, sending 25
positions every 200 ms (125 updates/s, the hub's limit) for 25 players, each position's ``location`` the
wall-clock time it was sent. Twenty live-stream subscribers (as consoles) follow the first twenty servers
and time each position from its send to its arrival in a ``unit_positions`` frame. Beside them a client
creates one 911 call every 100 ms and times the answers. The server's CPU and peak memory are read from
/proc, as bench/run.py does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import websockets
from sqlalchemy import create_engine, select

from bench.pace import percentile
from bench.processes import HOST, Service, free_port, install_cleanup, stop_all
from opendispatch.communities import service as communities
from opendispatch.communities.models import servers as servers_table
from opendispatch.units import service as units

_CLI = [sys.executable, "-m", "opendispatch.cli"]
RS = "\x1e"  # SignalR's record separator
PLAYERS = 25  # positions per call: the hub's maximum
INTERVAL = 0.2  # seconds between two calls of one connection: the hub's minimum
CATCH_UP = 0.17  # the closest two calls go: the hub takes one 50 ms early, the rest is network jitter
SUBSCRIBERS = 20
CREATE_INTERVAL = 0.1  # one 911 call every 100 ms
CREATE_911 = {"isEmergency": True, "caller": "c", "location": "Alta St", "description": "bench"}
POSITION_P99_TARGET = 0.250
CREATE_P99_TARGET = 0.050
MEMORY_TARGET = 150_000_000


@dataclass
class Step:
    """What one number of game servers measured."""

    connections: int
    seconds: float = 0.0
    calls: int = 0
    refused: int = 0
    latencies: list[float] = field(default_factory=list)
    creates: list[float] = field(default_factory=list)
    create_failures: int = 0
    server_cpu: float = 0.0
    peak_rss: int = 0

    @property
    def updates_per_second(self) -> float:
        return self.calls * PLAYERS / self.seconds if self.seconds else 0.0

    def passed(self) -> bool:
        return (
            bool(self.latencies)
            and percentile(self.latencies, 0.99) < POSITION_P99_TARGET
            and bool(self.creates)
            and percentile(self.creates, 0.99) < CREATE_P99_TARGET
            and self.peak_rss < MEMORY_TARGET
            and not self.refused
        )


def player(server_id: int, n: int) -> str:
    return f"license:bench-{server_id}-{n}"


SERVERS_PER_COMMUNITY = 100  # a community's most servers: beyond, the next community's
GameServer = tuple[str, str, int]  # community id, its API key, server id


def seed(url: str, community_ids: list[str], count: int) -> list[GameServer]:
    """``count`` game servers over the communities, each with a key of its own and PLAYERS on duty."""
    engine = create_engine(url)
    now = int(time.time() * 1000)
    game_servers: list[GameServer] = []
    with engine.begin() as conn:
        for n in range(count):
            community_id = community_ids[n // SERVERS_PER_COMMUNITY]
            server_id = n % SERVERS_PER_COMMUNITY + 1
            existing = conn.execute(
                select(servers_table.c.server_id).where(
                    servers_table.c.community_id == community_id, servers_table.c.server_id == server_id
                )
            ).first()
            if existing is None:
                communities.add_server(conn, community_id=community_id, now=now, server_id=server_id)
            # A key per game server: the hub takes at most 50 sockets per key.
            key = communities.create_api_key(conn, community_id=community_id, now=now)
            game_servers.append((community_id, key, server_id))
            for p in range(PLAYERS):
                account = units.create_account(
                    conn,
                    community_id=community_id,
                    username=f"s{server_id}p{p}",
                    now=now,
                    community_user_id=player(server_id, p),
                )
                units.create_unit(
                    conn,
                    community_id=community_id,
                    account_uuid=account.account_uuid,
                    server_id=server_id,
                    now=now,
                    unit_num=f"{server_id}-{p}",
                )
    engine.dispose()
    return game_servers


async def game_server(url: str, game: GameServer, until: float, step: Step | None) -> None:
    """One connection: authenticate on its server, then 25 positions every 200 ms until ``until``."""
    community_id, key, server_id = game
    loop = asyncio.get_running_loop()
    async with websockets.connect(url.replace("http", "ws", 1) + "/apiWsHub", max_size=1 << 20) as socket:
        await socket.send(json.dumps({"protocol": "json", "version": 1}) + RS)
        await socket.recv()
        auth = {
            "type": 1,
            "invocationId": "0",
            "target": "authenticatev2",
            "arguments": [community_id, key, server_id],
        }
        await socket.send(json.dumps(auth) + RS)

        async def read() -> None:
            async for message in socket:
                for record in str(message).split(RS):
                    if not record:
                        continue
                    answer = json.loads(record)
                    completion = answer.get("type") == 3 and answer.get("invocationId") != "0"
                    if completion and step is not None and not (answer.get("result") or {}).get("success"):
                        step.refused += 1

        reader = asyncio.create_task(read())
        await asyncio.sleep((server_id % 20) * 0.01)  # spread the connections over the 200 ms
        next_at = loop.time()
        n = 1
        try:
            while loop.time() < until:
                updates = [
                    {
                        "communityUserId": player(server_id, p),
                        "location": f"t{time.time_ns()}",
                        "coordinates": {"x": float(n), "y": float(p), "z": 30.0, "w": float(n % 360)},
                    }
                    for p in range(PLAYERS)
                ]
                await socket.send(
                    json.dumps(
                        {"type": 1, "invocationId": str(n), "target": "unitLocation", "arguments": [updates]}
                    )
                    + RS
                )
                if step is not None:
                    step.calls += 1
                n += 1
                # On a fixed schedule, one call every 200 ms: the hub's limit, which allows 50 ms of jitter.
                # After a late call, catching up never brings two calls closer than the limit allows.
                sent_at = loop.time()
                next_at += INTERVAL
                await asyncio.sleep(max(0.0, next_at - loop.time(), sent_at + CATCH_UP - loop.time()))
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


async def subscriber(url: str, key: str, server_id: int, step: Step, ready: asyncio.Event) -> None:
    """A console: follow one server's live stream, timing each position from its send."""
    headers = {"Authorization": f"Bearer {key}"}
    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(10, read=None)) as client,
        client.stream("GET", f"{url}/v2/emergency/servers/{server_id}/events", headers=headers) as answer,
    ):
        ready.set()
        event = ""
        async for line in answer.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "unit_positions":
                arrived = time.time_ns()
                for unit in json.loads(line[6:])["units"]:
                    step.latencies.append((arrived - int(unit["location"][1:])) / 1e9)


async def creates(url: str, key: str, until: float, step: Step) -> None:
    """One 911 call every 100 ms, each answer timed."""
    loop = asyncio.get_running_loop()
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as client:
        next_at = loop.time()
        while loop.time() < until:
            started = loop.time()
            answer = await client.post("/v2/emergency/servers/1/calls/911", json=CREATE_911)
            if answer.status_code == 200:
                step.creates.append(loop.time() - started)
            else:
                step.create_failures += 1
            next_at += CREATE_INTERVAL
            await asyncio.sleep(max(0.0, next_at - loop.time()))


async def run_step(
    server: Service, games: list[GameServer], key: str, connections: int, seconds: float, warmup: float
) -> Step:
    """Warm up, then measure ``connections`` game servers for ``seconds``."""
    loop = asyncio.get_running_loop()
    warm = Step(connections)
    step = Step(connections)
    readies = [asyncio.Event() for _ in range(min(SUBSCRIBERS, connections))]
    watchers = [
        asyncio.create_task(subscriber(server.url, key, n + 1, step, ready))
        for n, ready in enumerate(readies)
    ]
    await asyncio.wait_for(asyncio.gather(*(ready.wait() for ready in readies)), 10)
    until = loop.time() + warmup + seconds
    senders = [
        asyncio.create_task(game_server(server.url, game, until, warm)) for game in games[:connections]
    ]
    await asyncio.sleep(warmup)
    step.latencies.clear()
    warm_calls, warm_refused = warm.calls, warm.refused
    server.reset_peak_rss()
    cpu = server.cpu_seconds()
    started = loop.time()
    create = asyncio.create_task(creates(server.url, key, until, step))
    await asyncio.gather(*senders, create)
    step.seconds = loop.time() - started
    step.server_cpu = (server.cpu_seconds() - cpu) / step.seconds
    step.peak_rss = server.peak_rss()
    step.calls = warm.calls - warm_calls
    step.refused = warm.refused - warm_refused
    await asyncio.sleep(0.5)  # the last frames
    for watcher in watchers:
        watcher.cancel()
    await asyncio.gather(*watchers, return_exceptions=True)
    return step


def render(steps: list[Step]) -> str:
    lines = [
        "| game servers (hub connections) | updates/s | position p50 / p99 | create 911 at 10/s p99 "
        "| server CPU | peak RSS | refused calls | goals |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for step in steps:
        latencies = step.latencies or [float("nan")]
        creates = step.creates or [float("nan")]
        lines.append(
            f"| {step.connections} | {step.updates_per_second:,.0f} | "
            f"{percentile(latencies, 0.5) * 1000:.0f} / {percentile(latencies, 0.99) * 1000:.0f} ms | "
            f"{percentile(creates, 0.99) * 1000:.1f} ms | {step.server_cpu:.0%} | "
            f"{step.peak_rss / 1e6:.0f} MB | {step.refused} | {'met' if step.passed() else 'not met'} |"
        )
    return "\n".join(lines)


def measure(
    workdir: Path, connections: list[int], beyond: list[int], *, seconds: float, warmup: float
) -> list[Step]:
    """Start a server over a seeded SQLite file in ``workdir``; one Step per number of game servers.

    ``beyond`` are tried after ``connections``, in order, until one misses a goal.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENDISPATCH_")}
    env["OPENDISPATCH_RATE_LIMITS_ENABLED"] = "false"
    # Ten 911 calls a second for minutes pass the 500 open ones a server may hold (bench only).
    env["OPENDISPATCH_OPEN_CALL_BOUNDS"] = "false"
    url = f"sqlite:///{workdir}/hub.db"
    most = max([*connections, *beyond])
    created = [
        json.loads(
            subprocess.run(
                [*_CLI, "community", "create", "--name", f"Bench {n}", "--database", url, "--json"],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            ).stdout
        )
        for n in range(-(-most // SERVERS_PER_COMMUNITY))
    ]
    # The consoles and the 911 client are the first community's, on its servers 1 to 20.
    key = created[0]["apiKey"]
    print(f"seeding {most} servers of {PLAYERS} players …", file=sys.stderr)
    games = seed(url, [each["communityId"] for each in created], most)
    port = free_port()
    argv = [*_CLI, "serve", "--host", HOST, "--port", str(port), "--database", url]
    steps: list[Step] = []
    with Service("opendispatch", argv, port=port, log=workdir / "server.log", env=env) as server:
        for count in [*connections, *beyond]:
            step = asyncio.run(run_step(server, games, key, count, seconds, warmup))
            steps.append(step)
            print(render([step]).splitlines()[-1], file=sys.stderr)
            if count in beyond and not step.passed():
                break
    return steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hub", description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, nargs="+", default=[20, 80])
    parser.add_argument(
        "--beyond", type=int, nargs="*", default=[120, 160, 200], help="Tried after, until a goal fails."
    )
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    args = parser.parse_args(argv)
    install_cleanup()
    with tempfile.TemporaryDirectory(prefix="opendispatch-hub-bench-") as workdir:
        try:
            steps = measure(
                Path(workdir), args.connections, args.beyond, seconds=args.seconds, warmup=args.warmup
            )
        finally:
            stop_all()
    print(render(steps))
    return 0 if all(step.passed() for step in steps if step.connections in args.connections) else 1


if __name__ == "__main__":
    sys.exit(main())
