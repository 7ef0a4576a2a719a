"""OpenDispatch benchmark: one command, one table.

    python -m bench.run            # the full run, about seven minutes
    python -m bench.run --quick    # a smoke run, a few seconds per scenario

Each row starts the server (``opendispatch serve``, rate limits off) on 127.0.0.1 over a fresh SQLite file,
checks that the endpoint answers as it should, loads it with ``wrk`` (a separate process, one thread, so
one core) for a warm-up and then a measured run, and stops it. The event rows (push delivery, live stream)
load it with bench/pace.py instead, 911 calls at a steady rate, and time each event from the API's answer
to its arrival at bench/listen.py: a push receiver, or the live stream's subscribers.

Rows 7 to 9 run the server on PostgreSQL (bench/postgres.py: a cluster of the bench's own, fsync on),
one or two ``opendispatch serve`` processes over one database; two processes are loaded by one wrk each,
side by side. Row 6 is the bare stack (bench/bare.py): the server's application with create 911 answered
without a database, which row 1's CPU per request is compared with.

Peak memory is per row: the server process's VmHWM, which the bench reads once the process has started
and then resets, so the table shows the peak under that row's load and the targets also name the peak
while starting.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

import opendispatch
from bench import listen
from bench import postgres as bench_postgres
from bench.floor import SERVER_STACK
from bench.floor import command as floor_command
from bench.pace import Paced, percentile, run_pace
from bench.postgres import Postgres, start_postgres
from bench.processes import (
    HOST,
    Service,
    free_port,
    install_cleanup,
    others_cpu_seconds,
    running,
    stop_all,
)
from bench.seed import seed_closed_calls, seed_closed_calls_postgresql
from bench.wrk import WrkResult, combine, ensure_wrk, run_wrk_together

# `opendispatch serve` and the provisioning commands, run by the Python running the bench.
_CLI = [sys.executable, "-m", "opendispatch.cli"]
CREATE_911_PATH = "/v2/emergency/servers/1/calls/911"
GET_CALLS_PATH = "/v2/emergency/servers/1/calls?closedLimit=10&closedOffset=0&type=100"
CREATE_911_BODY = {
    "isEmergency": True,
    "caller": "Jane Doe",
    "location": "Alta St / Integrity Way",
    "description": "Two-car collision, one driver trapped",
    "metaData": {"x": "425.1", "y": "-979.2", "z": "30.7", "postal": "9001"},
}
CREATE_911_CLIENTS = (1, 32, 256)
CLOSED_CALLS = (10, 10_000, 100_000)
GET_CALLS_CLIENTS = 4
FLOOR_CLIENTS = 32
# Rows 6 and 7 load as many clients as the case of row 1 they are compared with.
BARE_CLIENTS = 32
POSTGRES_CLIENTS = 32
POSTGRES_PROCESSES = (1, 2)
POSTGRES_CLOSED_CALLS = (10, 100_000)  # the two ends of row 2, which the target compares
SETTLE_SECONDS = 1.0
EVENT_RATE = 100  # 911 calls (so EVENT_911 events) created per second in the event rows
STREAM_SUBSCRIBERS = 200
# How long the bench waits, after the last answer, for the events still on their way.
ARRIVAL_WAIT_SECONDS = 30.0

# Targets from the issue; figures of the benchmark, not timed tests.
FLOOR_SHARE_TARGET = 0.7
FLOOR_P99_TARGET = 2.0  # create 911's p99 at 32 clients at most this many times the floor's
BARE_CPU_TARGET = 1.3  # create 911's CPU per request at most this many times the bare stack's
POSTGRES_SHARE_TARGET = 0.5  # create 911 on PostgreSQL at least this share of row 1's throughput
GET_CALLS_P99_GROWTH_TARGET = 1.5
PEAK_MEMORY_TARGET = 150_000_000
PUSH_P99_TARGET = 0.100
STREAM_P99_TARGET = 0.250
CROSS_PROCESS_P99_TARGET = 0.250
# Share of one core other processes may use during a measured run before the report warns about it.
OTHER_CPU_WARNING = 0.1


@dataclass(frozen=True)
class EventLoad:
    """A paced run's events as they arrived: latency from the API's answer to each arrival, seconds."""

    paced: Paced
    subscribers: int  # the receiver counts as one
    latencies: list[float]  # one per (subscriber, event) that arrived, sorted
    missing: int  # (subscriber, event) pairs that never arrived
    reopened: int = 0  # streams the server closed and the subscriber reopened
    duplicates: int = 0
    out_of_order: int = 0
    listener_cpu_seconds: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.paced.answers)

    @property
    def duration(self) -> float:
        return self.paced.duration

    @property
    def requests_per_second(self) -> float:
        return self.paced.rate

    @property
    def p50(self) -> float:
        return percentile(self.latencies, 0.50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 0.99)

    @property
    def errors(self) -> int:
        """Creates that failed plus events that did not arrive."""
        return len(self.paced.failures) + self.missing

    @property
    def cpu_share(self) -> float:
        """The load process's and the listener's CPU time over the run's wall time."""
        return (self.paced.cpu_seconds + self.listener_cpu_seconds) / self.duration if self.duration else 0.0


def event_load(paced: Paced, reports: list[dict[str, Any]], listener_cpu_seconds: float) -> EventLoad:
    """Match every answered create with its arrival at every subscriber."""
    latencies, missing = [], 0
    for report in reports:
        arrivals = {int(call_id): at for call_id, at in report["arrivals"].items()}
        for call_id, answered in paced.answers.items():
            arrived = arrivals.get(call_id)
            if arrived is None:
                missing += 1
            else:
                latencies.append((arrived - answered) / 1e9)
    latencies.sort()
    return EventLoad(
        paced=paced,
        subscribers=len(reports),
        latencies=latencies,
        missing=missing,
        reopened=sum(report["reopened"] for report in reports),
        duplicates=sum(report["duplicates"] for report in reports),
        out_of_order=sum(report["outOfOrder"] for report in reports),
        listener_cpu_seconds=listener_cpu_seconds,
    )


@dataclass
class Row:
    """One line of the table."""

    scenario: str
    case: str
    load: WrkResult | EventLoad | None = None
    warmup_requests: int = 0
    startup_rss: int | None = None  # peak while the fresh process started, before any load
    peak_rss: int | None = None  # peak from the warm-up to the end of the measured run
    server_cpu: float | None = None  # share of one core during the measured run, all server processes
    postgres_cpu: float | None = None  # PostgreSQL's share of one core meanwhile (rows on PostgreSQL)
    other_cpu: float = 0.0  # share of one core other user-space processes used meanwhile
    note: str = ""

    def cpu_per_request(self) -> float | None:
        """Server CPU seconds per request answered in the measured run."""
        if self.load is None or self.server_cpu is None or not self.load.requests_per_second:
            return None
        return self.server_cpu / self.load.requests_per_second


@dataclass(frozen=True)
class Database:
    """A fresh database with one community (server 1) provisioned through the CLI: a SQLite file
    (``path``), or a database on the bench's PostgreSQL (``conninfo``)."""

    url: str
    community_id: str
    api_key: str
    path: Path | None = None
    conninfo: str | None = None

    def count(self, table: str) -> int:
        """The rows in ``table``."""
        if self.path is not None:
            connection = sqlite3.connect(self.path)
            try:
                (count,) = connection.execute(f"SELECT count(*) FROM {table}").fetchone()
            finally:
                connection.close()
            return int(count)
        assert self.conninfo is not None
        with psycopg.connect(self.conninfo) as pg:
            row = pg.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(row[0]) if row else 0


@dataclass(frozen=True)
class CpuSample:
    """CPU seconds so far: the row's server processes, PostgreSQL, and every other process."""

    servers: float
    postgres: float
    others: float


class Bench:
    """What every scenario uses: a work directory, wrk, server processes and the measurement itself."""

    def __init__(self, workdir: Path, wrk: str, *, seconds: int, warmup: int) -> None:
        self.workdir = workdir
        self.wrk = wrk
        self.seconds = seconds
        self.warmup = warmup  # 0: no warm-up (the smoke tests)
        self.create_911_body = workdir / "create-911.json"
        self.create_911_body.write_text(json.dumps(CREATE_911_BODY))
        # The server reads only what the bench sets: no OPENDISPATCH_* from the caller's shell.
        self.env = {key: value for key, value in os.environ.items() if not key.startswith("OPENDISPATCH_")}
        self.env["OPENDISPATCH_RATE_LIMITS_ENABLED"] = "false"
        # Thousands of 911 calls a second on one server: far past the queue a server may hold.
        self.env["OPENDISPATCH_OPEN_CALL_BOUNDS"] = "false"
        self._postgres: Postgres | None = None
        # The provisioned database each PostgreSQL row copies: its name, community and key.
        self._template: tuple[str, str, str] | None = None
        self.postgres_version: str | None = None

    def close(self) -> None:
        """Stop PostgreSQL, if a row started it, and remove its cluster."""
        if self._postgres is not None:
            self._postgres.stop()
            self._postgres = self._template = None

    def cli(self, *args: str, stdin: str | None = None) -> Any:
        """Run one ``opendispatch`` command with ``--json`` (``stdin`` piped in); its decoded answer."""
        done = subprocess.run(
            [*_CLI, *args, "--json"],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"opendispatch {' '.join(args[:2])} failed: {done.stderr.strip()}")
        return json.loads(done.stdout)

    def fresh_database(self, name: str) -> Database:
        path = self.workdir / f"{name}.db"
        url = f"sqlite:///{path}"
        answer = self.cli("community", "create", "--name", "Bench", "--database", url)
        return Database(url, answer["communityId"], answer["apiKey"], path=path)

    def postgres(self) -> Postgres:
        """The PostgreSQL the PostgreSQL rows share, started on first use."""
        if self._postgres is None:
            progress("starting PostgreSQL …")
            self._postgres = start_postgres(self.workdir / "postgres.log", self.env)
            self.postgres_version = self._postgres.version()
        return self._postgres

    @contextmanager
    def postgres_database(self, name: str) -> Iterator[Database]:
        """A fresh database on the bench's PostgreSQL, dropped after the row.

        Each is a copy (CREATE DATABASE … TEMPLATE) of one database provisioned through the CLI on first
        use: the same community and key, fresh tables, a second quicker than provisioning each. Dropped,
        and a checkpoint taken, so the next rows do not share the machine with autovacuum working through
        this row's tables or with this row's dirty pages being written out.
        """
        pg = self.postgres()
        if self._template is None:
            template = pg.create_database("template")
            answer = self.cli("community", "create", "--name", "Bench", "--database", pg.url(template))
            self._template = (template, answer["communityId"], answer["apiKey"])
        template, community_id, api_key = self._template
        database = pg.create_database(name, template=template)
        try:
            yield Database(pg.url(database), community_id, api_key, conninfo=pg.conninfo(database))
        finally:
            pg.drop_database(database)

    def opendispatch(self, database: Database) -> Service:
        port = free_port()
        argv = [*_CLI, "serve", "--host", HOST, "--port", str(port), "--database", database.url]
        return Service("opendispatch", argv, port=port, log=self.workdir / "server.log", env=self.env)

    def listener(self, mode: str, **options: Any) -> Service:
        """bench/listen.py: the push receiver, or the live stream's subscribers (``server``, ``key``)."""
        port = free_port()
        argv = listen.command(mode, port, **options)
        return Service(f"listen {mode}", argv, port=port, log=self.workdir / "listen.log", env=self.env)

    def floor_app(self, path: Path) -> Service:
        port = free_port()
        return Service(
            "floor", floor_command(port, path), port=port, log=self.workdir / "floor.log", env=self.env
        )

    def bare_app(self, database: Database) -> Service:
        # Imported here: importing bench.bare builds the server's routes, which only its own process needs.
        from bench.bare import command as bare_command

        port = free_port()
        argv = bare_command(port, database.url, database.api_key)
        return Service("bare stack", argv, port=port, log=self.workdir / "bare.log", env=self.env)

    def cpu_sample(self, servers: Sequence[Service], ours: set[int], *, postgres: bool) -> CpuSample:
        """CPU time so far; ``ours`` (with their reaped children) count neither as the servers nor as others.

        With ``postgres`` the row runs on PostgreSQL: its processes are the row's, not others'. Rows on
        SQLite count them as others, so a PostgreSQL busy after its rows would show as a disturbance.
        """
        pg = self._postgres if postgres else None
        excluded = ours | {server.pid for server in servers} | ({pg.pid} if pg else set())
        return CpuSample(
            servers=sum(server.cpu_seconds() for server in servers),
            postgres=pg.cpu_seconds() if pg else 0.0,
            others=others_cpu_seconds(excluded, children_of={pg.pid} if pg else None),
        )

    def fill_cpu(
        self, row: Row, before: CpuSample, after: CpuSample, duration: float, postgres: bool
    ) -> None:
        row.server_cpu = (after.servers - before.servers) / duration
        row.other_cpu = (after.others - before.others) / duration
        if postgres:
            row.postgres_cpu = (after.postgres - before.postgres) / duration

    def measure(
        self,
        servers: Service | Sequence[Service],
        row: Row,
        path: str,
        *,
        connections: int,
        api_key: str | None = None,
        body: Path | None = None,
        postgres: bool = False,
    ) -> Row:
        """Warm up, then load the servers and fill ``row`` with wrk's figures, CPU and peak memory.

        Several servers get ``connections`` split evenly, one wrk each, side by side; their reports are
        combined (bench.wrk.combine) and their CPU added up.
        """
        services = [servers] if isinstance(servers, Service) else list(servers)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

        def load(seconds: int) -> WrkResult:
            urls = [service.url + path for service in services]
            each = connections // len(services)
            results = run_wrk_together(
                urls, connections=each, seconds=seconds, headers=headers, body=body, wrk=self.wrk
            )
            return combine(results)

        row.startup_rss = max(service.peak_rss() for service in services)
        for service in services:
            service.reset_peak_rss()
        if self.warmup:
            row.warmup_requests = load(self.warmup).requests
        # Let the warm-up's connections close first: started right away, the measured run's first
        # requests queue behind that teardown (p99 at 256 clients 0.5-1.2 s instead of 0.14-0.19 s).
        time.sleep(SETTLE_SECONDS)
        ours = {os.getpid()}  # wrk's time lands in ours once reaped
        before = self.cpu_sample(services, ours, postgres=postgres)
        row.load = load(self.seconds)
        self.fill_cpu(
            row, before, self.cpu_sample(services, ours, postgres=postgres), row.load.duration, postgres
        )
        row.peak_rss = max(service.peak_rss() for service in services)
        if row.load.errors:
            row.note = f"{row.load.errors} failed requests (non-2xx {row.load.non_2xx})"
        progress(f"{row.scenario}, {row.case}: {row.load.requests_per_second:,.0f} req/s")
        return row

    def measure_events(
        self,
        servers: Service | Sequence[Service],
        listener: Service,
        row: Row,
        *,
        api_key: str,
        subscribers: int,
        postgres: bool = False,
    ) -> Row:
        """Warm up, then create 911 calls at EVENT_RATE on the first server and time their events' arrival
        at ``listener`` (subscribed to any of them); the servers' CPU is added up."""
        services = [servers] if isinstance(servers, Service) else list(servers)

        def load(seconds: int) -> Paced:
            url = services[0].url + CREATE_911_PATH
            return run_pace(url, api_key, self.create_911_body, rate=EVENT_RATE, seconds=seconds)

        if row.startup_rss is None:  # else the scenario read it before opening its listener
            row.startup_rss = max(service.peak_rss() for service in services)
            for service in services:
                service.reset_peak_rss()
        arrived_before = arrival_count(listener)
        warmed = len(load(self.warmup).answers) if self.warmup else 0
        row.warmup_requests = warmed
        time.sleep(SETTLE_SECONDS)
        ours = {listener.pid, os.getpid()}  # the load process's time lands in ours once reaped
        listener_before = listener.cpu_seconds()
        before = self.cpu_sample(services, ours, postgres=postgres)
        paced = load(self.seconds)
        self.fill_cpu(
            row, before, self.cpu_sample(services, ours, postgres=postgres), paced.duration, postgres
        )
        listener_cpu = listener.cpu_seconds() - listener_before
        calls = (min(paced.answers, default=0), max(paced.answers, default=0))
        expected = arrived_before + (warmed + len(paced.answers)) * subscribers
        reports = wait_for_arrivals(listener, *calls, expected=expected)
        # After the last arrival: the peak of delivering them too.
        row.peak_rss = max(service.peak_rss() for service in services)
        row.load = load_result = event_load(paced, reports, listener_cpu)
        problems = []
        if paced.failures:
            problems.append(f"{len(paced.failures)} failed creates, first: {paced.failures[0]}")
        if load_result.missing:
            problems.append(
                f"{load_result.missing} of {load_result.missing + len(load_result.latencies)} events missing"
            )
        row.note = "; ".join(problems)
        progress(
            f"{row.scenario}, {row.case}: {paced.rate:.1f} creates/s (latest send {_ms(paced.max_send_lag)} "
            f"late, API p50/p99 {_ms(paced.api_p50)}/{_ms(paced.api_p99)}), arrival p50/p99 "
            f"{_ms(load_result.p50)}/{_ms(load_result.p99)}, "
            f"load CPU {paced.cpu_seconds / paced.duration:.0%}, "
            f"listener CPU {listener_cpu / paced.duration:.0%}, reopened streams {load_result.reopened}, "
            f"duplicates {load_result.duplicates}, out of order {load_result.out_of_order}"
        )
        return row


def http_json(method: str, url: str, api_key: str, body: dict[str, Any] | None = None) -> Any:
    """One request with the API key; the decoded JSON answer (raises on a non-2xx answer)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {api_key}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


def listener_json(listener: Service, path: str) -> Any:
    """A question to bench/listen.py's control endpoint."""
    try:
        with urllib.request.urlopen(listener.url + path, timeout=60) as answer:
            return json.load(answer)
    except OSError as exc:  # it ended: a subscriber gave up, or it failed
        raise RuntimeError(f"{listener.name} does not answer ({exc}):\n{listener.log_tail()}") from None


def arrival_count(listener: Service) -> int:
    """How many (subscriber, call) arrivals ``listener`` has seen since it started."""
    count: int = listener_json(listener, "/count")["arrivals"]
    return count


def wait_for_arrivals(
    listener: Service, first: int, last: int, *, expected: int, within: float = ARRIVAL_WAIT_SECONDS
) -> list[dict[str, Any]]:
    """Each subscriber's arrivals of calls ``first`` to ``last``, once ``arrival_count`` reaches
    ``expected`` or after ``within`` seconds."""
    deadline = time.monotonic() + within
    while arrival_count(listener) < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    reports: list[dict[str, Any]] = listener_json(listener, f"/arrivals?first={first}&last={last}")
    return reports


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# -- scenarios -----------------------------------------------------------------------------------------


def check_create(server: Service, database: Database) -> None:
    """One create 911 answers the call it was sent, before any load."""
    created = http_json("POST", server.url + CREATE_911_PATH, database.api_key, CREATE_911_BODY)
    if created.get("caller") != CREATE_911_BODY["caller"]:
        raise RuntimeError(f"unexpected answer to create 911 call from {server.name}: {created}")


def check_stored(database: Database, row: Row, *, checked: int) -> None:
    """Every create answered (the ``checked`` ones before the load, the warm-up's, the measured run's) is
    stored."""
    assert row.load is not None
    answered = checked + row.warmup_requests + row.load.requests
    stored = database.count("emergency_calls")
    if stored < answered:
        raise RuntimeError(f"{answered} creates answered but only {stored} calls stored")


def create_911_call(bench: Bench) -> list[Row]:
    """POST a 911 call at 1, 32 and 256 concurrent clients, each on a fresh server and database."""
    rows = []
    for clients in CREATE_911_CLIENTS:
        database = bench.fresh_database(f"create-911-{clients}")
        row = Row("1. create 911 call", f"{clients} client{'s' if clients > 1 else ''}")
        with bench.opendispatch(database) as server:
            check_create(server, database)
            bench.measure(
                server,
                row,
                CREATE_911_PATH,
                connections=clients,
                api_key=database.api_key,
                body=bench.create_911_body,
            )
        check_stored(database, row, checked=1)
        rows.append(row)
    return rows


def create_911_postgresql(bench: Bench) -> list[Row]:
    """POST a 911 call at 32 clients on PostgreSQL: one server process, then two over one database."""
    rows = []
    for processes in POSTGRES_PROCESSES:
        plural = "es" if processes > 1 else ""
        row = Row(
            "7. create 911 call, PostgreSQL", f"{POSTGRES_CLIENTS} clients, {processes} process{plural}"
        )
        with (
            bench.postgres_database(f"create_911_{processes}") as database,
            running([bench.opendispatch(database) for _ in range(processes)]) as servers,
        ):
            for server in servers:
                check_create(server, database)
            bench.measure(
                servers,
                row,
                CREATE_911_PATH,
                connections=POSTGRES_CLIENTS,
                api_key=database.api_key,
                body=bench.create_911_body,
                postgres=True,
            )
            check_stored(database, row, checked=processes)
        rows.append(row)
    return rows


def _get_calls_rows(
    bench: Bench, scenario: str, database: Database, counts: Sequence[int], seed: Callable[[int], None]
) -> list[Row]:
    """GET calls after ``seed(n)`` has added ``n`` closed calls, for each total in ``counts``."""
    rows = []
    seeded = 0
    for closed in counts:
        seed(closed - seeded)
        seeded = closed
        row = Row(scenario, f"{_thousands(closed)} closed calls, {GET_CALLS_CLIENTS} clients")
        with bench.opendispatch(database) as server:
            listing = http_json("GET", server.url + GET_CALLS_PATH, database.api_key)
            if listing["closedCallCount"] != closed or len(listing["closedCalls"]) != min(10, closed):
                raise RuntimeError(f"the server does not see the {closed} seeded closed calls")
            bench.measure(
                server,
                row,
                GET_CALLS_PATH,
                connections=GET_CALLS_CLIENTS,
                api_key=database.api_key,
                postgres=database.conninfo is not None,
            )
        rows.append(row)
    return rows


def get_calls(bench: Bench) -> list[Row]:
    """GET calls with 10, 10 000 and 100 000 closed calls, seeded while the server is stopped."""
    database = bench.fresh_database("get-calls")
    assert database.path is not None

    def seed(count: int) -> None:
        seed_closed_calls(str(database.path), community_id=database.community_id, server_id=1, count=count)

    return _get_calls_rows(bench, "2. get calls", database, CLOSED_CALLS, seed)


def get_calls_postgresql(bench: Bench) -> list[Row]:
    """GET calls on PostgreSQL with 10, then 100 000 closed calls, seeded (COPY) while the server is
    stopped."""
    with bench.postgres_database("get_calls") as database:
        conninfo = database.conninfo
        assert conninfo is not None

        def seed(count: int) -> None:
            seed_closed_calls_postgresql(
                conninfo, community_id=database.community_id, server_id=1, count=count
            )

        return _get_calls_rows(bench, "8. get calls, PostgreSQL", database, POSTGRES_CLOSED_CALLS, seed)


def push_delivery(bench: Bench) -> list[Row]:
    """911 calls at EVENT_RATE; each EVENT_911 timed from the API's answer to the receiver's arrival."""
    database = bench.fresh_database("push-delivery")
    row = Row("3. push delivery", f"{EVENT_RATE} events/s, 1 receiver")
    with bench.listener("receiver") as receiver:
        url = receiver.url + listen.RECEIVER_PATH
        community, key = database.community_id, database.api_key
        # A key is never an argument: it goes on stdin.
        bench.cli("push", "set", "--community", community, "--server", "1", "--url", url, "--shape", "object",
                  "--key", "-", "--database", database.url, stdin=key)  # fmt: skip
        with bench.opendispatch(database) as server:
            check_events_arrive(server, receiver, database.api_key, subscribers=1)
            bench.measure_events(server, receiver, row, api_key=database.api_key, subscribers=1)
    return [row]


def live_stream(bench: Bench) -> list[Row]:
    """911 calls at EVENT_RATE; each EVENT_911 timed from the API's answer to each SSE subscriber."""
    database = bench.fresh_database("live-stream")
    subscribers = STREAM_SUBSCRIBERS
    row = Row("4. live stream", f"{EVENT_RATE} events/s, {subscribers} subscribers")
    with bench.opendispatch(database) as server:
        row.startup_rss = server.peak_rss()
        server.reset_peak_rss()  # the peak under load includes opening the streams
        options = {"server": server.url, "key": database.api_key, "subscribers": subscribers}
        with bench.listener("stream", **options) as streams:
            check_events_arrive(server, streams, database.api_key, subscribers=subscribers)
            bench.measure_events(server, streams, row, api_key=database.api_key, subscribers=subscribers)
    return [row]


def live_stream_across_processes(bench: Bench) -> list[Row]:
    """911 calls at EVENT_RATE through process A; each EVENT_911 timed from A's answer to each SSE
    subscriber of process B, both over one PostgreSQL database."""
    subscribers = STREAM_SUBSCRIBERS
    row = Row("9. live stream across processes", f"{EVENT_RATE} events/s, {subscribers} subscribers")
    with (
        bench.postgres_database("live_stream") as database,
        running([bench.opendispatch(database), bench.opendispatch(database)]) as (creates, streams_server),
    ):
        row.startup_rss = max(creates.peak_rss(), streams_server.peak_rss())
        for server in (creates, streams_server):
            server.reset_peak_rss()  # the peak under load includes opening the streams
        options = {"server": streams_server.url, "key": database.api_key, "subscribers": subscribers}
        with bench.listener("stream", **options) as streams:
            check_events_arrive(creates, streams, database.api_key, subscribers=subscribers)
            bench.measure_events(
                [creates, streams_server],
                streams,
                row,
                api_key=database.api_key,
                subscribers=subscribers,
                postgres=True,
            )
    return [row]


def check_events_arrive(server: Service, listener: Service, api_key: str, *, subscribers: int) -> None:
    """The first create's event reaches every subscriber before the load starts."""
    created = http_json("POST", server.url + CREATE_911_PATH, api_key, CREATE_911_BODY)
    call_id = int(created["callId"])
    reports = wait_for_arrivals(listener, call_id, call_id, expected=subscribers, within=10)
    arrived = sum(str(call_id) in report["arrivals"] for report in reports)
    if arrived != subscribers:
        raise RuntimeError(f"call {call_id}'s event reached {arrived} of {subscribers} subscribers")


def floor(bench: Bench) -> list[Row]:
    """The minimal ASGI app (bench/floor.py) on the same stack: one SQLite insert per request."""
    row = Row("5. floor", f"{FLOOR_CLIENTS} clients")
    with bench.floor_app(bench.workdir / "floor.db") as service:
        bench.measure(service, row, CREATE_911_PATH, connections=FLOOR_CLIENTS, body=bench.create_911_body)
    return [row]


def bare_stack(bench: Bench) -> list[Row]:
    """Create 911 on the bare stack (bench/bare.py): the server's application, no database on the way."""
    database = bench.fresh_database("bare-stack")
    row = Row("6. bare stack", f"{BARE_CLIENTS} clients")
    with bench.bare_app(database) as service:
        check_create(service, database)
        bench.measure(
            service,
            row,
            CREATE_911_PATH,
            connections=BARE_CLIENTS,
            api_key=database.api_key,
            body=bench.create_911_body,
        )
    return [row]


def _thousands(number: int) -> str:
    return f"{number:,}".replace(",", " ")


@dataclass(frozen=True)
class Scenario:
    """A numbered scenario; ``measure`` is None until the feature it measures exists."""

    title: str
    measure: Callable[[Bench], list[Row]] | None


# In the order they run; the table lists them by number. Each row runs right before or after the one it
# is compared with, so both see the same machine: the floor and the bare stack before the creates, each
# PostgreSQL row after its SQLite counterpart.
SCENARIOS = (
    Scenario("5. floor", floor),
    Scenario("6. bare stack", bare_stack),
    Scenario("1. create 911 call", create_911_call),
    Scenario("7. create 911 call, PostgreSQL", create_911_postgresql),
    Scenario("2. get calls", get_calls),
    Scenario("8. get calls, PostgreSQL", get_calls_postgresql),
    Scenario("3. push delivery", push_delivery),
    Scenario("4. live stream", live_stream),
    Scenario("9. live stream across processes", live_stream_across_processes),
)


# -- report --------------------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:.2f} ms" if ms < 10 else f"{ms:.1f} ms" if ms < 100 else f"{ms:.0f} ms"


def _floor_rate(rows: list[Row]) -> float | None:
    found = [row.load.requests_per_second for row in rows if row.scenario.startswith("5.") and row.load]
    return found[0] if found else None


def render_table(rows: list[Row]) -> str:
    """The results as a Markdown table."""
    header = [
        "scenario",
        "case",
        "req/s",
        "p50",
        "p99",
        "vs floor",
        "server peak RSS",
        "server CPU",
        "load CPU",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * 2 + "---:|" * (len(header) - 2)]
    floor_rate = _floor_rate(rows)
    for row in rows:
        cells = [row.scenario, row.case] + ["—"] * (len(header) - 2)
        if row.load is not None:
            cells[2] = f"{row.load.requests_per_second:,.0f}"
            cells[3] = _ms(row.load.p50)
            cells[4] = _ms(row.load.p99)
            cells[8] = f"{row.load.cpu_share:.0%}"
        if row.load is not None and floor_rate and row.scenario.startswith("1."):
            cells[5] = f"{row.load.requests_per_second / floor_rate:.2f}×"
        if row.peak_rss is not None:
            cells[6] = f"{row.peak_rss / 1e6:.0f} MB"
        if row.server_cpu is not None:
            cells[7] = f"{row.server_cpu:.0%}"
        if row.postgres_cpu is not None:
            cells[7] += f" + PG {row.postgres_cpu:.0%}"
        if row.note:
            cells[1] += f" ({row.note})"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _find(rows: list[Row], scenario: str, case: str) -> Row | None:
    return next((r for r in rows if r.scenario.startswith(scenario) and r.case.startswith(case)), None)


def render_targets(rows: list[Row]) -> str:
    """Each target of the issue with the figure it is judged on."""

    def verdict(ok: bool) -> str:
        return "met" if ok else "not met"

    lines = ["Targets:"]
    create, floor_row, bare = _find(rows, "1.", "32 clients"), _find(rows, "5.", ""), _find(rows, "6.", "")
    if create and create.load and floor_row and floor_row.load:
        share = create.load.requests_per_second / floor_row.load.requests_per_second
        lines.append(
            f"- create 911 call at 32 clients ≥ {FLOOR_SHARE_TARGET} × floor: {share:.2f} × "
            f"→ {verdict(share >= FLOOR_SHARE_TARGET)}"
        )
        growth = create.load.p99 / floor_row.load.p99
        lines.append(
            f"- create 911 call p99 at 32 clients ≤ {FLOOR_P99_TARGET:g} × the floor's p99: "
            f"{_ms(create.load.p99)} / {_ms(floor_row.load.p99)} = {growth:.2f} × "
            f"→ {verdict(growth <= FLOOR_P99_TARGET)}"
        )
    create_cpu, bare_cpu = (
        (create.cpu_per_request() if create else None),
        (bare.cpu_per_request() if bare else None),
    )
    if create_cpu and bare_cpu:
        ratio = create_cpu / bare_cpu
        lines.append(
            f"- create 911 call CPU per request at 32 clients ≤ {BARE_CPU_TARGET} × the bare stack's: "
            f"{create_cpu * 1000:.3f} ms / {bare_cpu * 1000:.3f} ms = {ratio:.2f} × "
            f"→ {verdict(ratio <= BARE_CPU_TARGET)}"
        )
    for processes in POSTGRES_PROCESSES:
        plural = "es" if processes > 1 else ""
        on_postgres = _find(rows, "7.", f"{POSTGRES_CLIENTS} clients, {processes} process{plural}")
        if create and create.load and on_postgres and on_postgres.load:
            rate, sqlite_rate = on_postgres.load.requests_per_second, create.load.requests_per_second
            lines.append(
                f"- create 911 call at 32 clients on PostgreSQL, {processes} process{plural}, "
                f"≥ {POSTGRES_SHARE_TARGET} × on SQLite (row 1): {rate:,.0f} / {sqlite_rate:,.0f} req/s = "
                f"{rate / sqlite_rate:.2f} × → {verdict(rate / sqlite_rate >= POSTGRES_SHARE_TARGET)}"
            )
    for scenario, database in (("2.", ""), ("8.", " on PostgreSQL")):
        few, many = _find(rows, scenario, "10 closed"), _find(rows, scenario, "100 000 closed")
        if few and few.load and many and many.load:
            growth = many.load.p99 / few.load.p99
            lines.append(
                f"- get calls{database} p99 at 100 000 closed ≤ {GET_CALLS_P99_GROWTH_TARGET} × p99 at 10 "
                f"closed: {_ms(many.load.p99)} / {_ms(few.load.p99)} = {growth:.2f} × "
                f"→ {verdict(growth <= GET_CALLS_P99_GROWTH_TARGET)}"
            )
    # The floor and the bare stack are not the server as shipped.
    server = [row for row in rows if row.peak_rss and not row.scenario.startswith(("5.", "6."))]
    if server:
        under_load = max(row.peak_rss or 0 for row in server)
        starting = max(row.startup_rss or 0 for row in server)
        peak = max(under_load, starting)
        lines.append(
            f"- server peak memory < {PEAK_MEMORY_TARGET / 1e6:.0f} MB in every scenario: "
            f"{under_load / 1e6:.0f} MB at most under load, {starting / 1e6:.0f} MB at most while starting "
            f"→ {verdict(peak < PEAK_MEMORY_TARGET)}"
        )
    for scenario, name, target in (
        ("3.", "push delivery", PUSH_P99_TARGET),
        ("4.", f"live stream at {STREAM_SUBSCRIBERS} subscribers", STREAM_P99_TARGET),
        ("9.", "live stream across processes (PostgreSQL)", CROSS_PROCESS_P99_TARGET),
    ):
        found = _find(rows, scenario, "")
        if found and isinstance(found.load, EventLoad):
            events = found.load
            arrived = f"{len(events.latencies):,} of {len(events.latencies) + events.missing:,} arrived"
            lines.append(
                f"- {name} p99 < {_ms(target)}: {_ms(events.p99)}, {arrived} "
                f"→ {verdict(events.p99 < target and not events.missing)}"
            )
    busy = [row for row in rows if row.other_cpu > OTHER_CPU_WARNING]
    if busy:
        cases = ", ".join(f"{row.scenario} {row.case} ({row.other_cpu:.0%})" for row in busy)
        lines.append(f"\nWarning: other processes used CPU during: {cases}; figures there are disturbed.")
    return "\n".join(lines)


def _first_line(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = done.stdout.splitlines()  # errors go to stderr (wrk -v exits 1 but prints its version)
    return lines[0].strip() if lines else ""


def machine(wrk: str, postgres_version: str | None = None) -> str:
    """Where the figures come from: the machine, the software and the code measured."""
    info = {
        line.split(":", 1)[0].strip(): line.split(":", 1)[1].strip()
        for path in ("/proc/cpuinfo", "/proc/meminfo")
        for line in reversed(Path(path).read_text().splitlines())
        if ":" in line
    }
    source = Path(opendispatch.__file__).resolve().parent
    commit = _first_line(["git", "-C", str(source), "describe", "--always", "--dirty", "--abbrev=12"])
    stack = f"{SERVER_STACK['loop']} and {SERVER_STACK['http']}"
    database = []
    if postgres_version is not None:
        settings = ", ".join(f"{name} {value}" for name, value in bench_postgres.SETTINGS.items())
        database.append(
            f"- PostgreSQL {postgres_version} (rows 7-9), a cluster of the bench's own in TMPDIR: {settings}"
        )
    return "\n".join(
        [
            f"- machine: {os.cpu_count()} CPUs ({info.get('model name', 'unknown model')}), "
            f"{int(info['MemTotal'].split()[0]) / 1024**2:.1f} GiB memory, Linux {platform.release()}",
            f"- Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, uvicorn with {stack}",
            f"- load generator: {_first_line([wrk, '-v']).split(' Copyright')[0]}, 1 thread; for events "
            "bench/pace.py (httpx on uvloop, open loop) and bench/listen.py (asyncio on uvloop)",
            *database,
            f"- server code: {source} (git {commit or 'none'})",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Smoke run: 2 s per measurement, 1 s warm-up.")
    parser.add_argument("--seconds", type=int, help="Seconds per measured run (default 20, --quick 2).")
    parser.add_argument(
        "--only", type=int, nargs="+", metavar="N", help="Run only these scenarios (numbers of the table)."
    )
    args = parser.parse_args(argv)
    seconds = args.seconds or (2 if args.quick else 20)
    warmup = 1 if args.quick else 3

    install_cleanup()
    wrk = ensure_wrk()
    started = time.monotonic()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="opendispatch-bench-") as workdir:
        bench = Bench(Path(workdir), wrk, seconds=seconds, warmup=warmup)
        try:
            for scenario in SCENARIOS:
                if args.only and int(scenario.title.split(".")[0]) not in args.only:
                    continue
                if scenario.measure is None:
                    rows.append(Row(scenario.title, "not available yet"))
                    continue
                progress(f"{scenario.title} …")
                rows.extend(scenario.measure(bench))
        finally:
            # Before the work directory goes: PostgreSQL writes its log there, and nothing may outlive us.
            stop_all()
            bench.close()
    print(f"OpenDispatch benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(machine(wrk, bench.postgres_version))
    took = time.monotonic() - started
    print(f"- {seconds} s measured after {warmup} s warm-up per row; the run took {took:.0f} s\n")
    rows.sort(key=lambda row: int(row.scenario.split(".")[0]))  # stable: cases keep their order
    print(render_table(rows))
    print()
    print(render_targets(rows))
    return 1 if any(row.note for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
