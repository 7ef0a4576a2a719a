"""A fleet: three ``opendispatch serve`` processes over one PostgreSQL behind Debian's haproxy, one of them
killed with SIGKILL while the real ``sonoran-py`` SDK creates calls through the balancer.

What must hold (SPEC section 8, invariant 1, for a fleet): every call the SDK was told is stored is stored;
every one of their ``EVENT_911`` reaches the push receiver at least once, first arrivals in the server's
order, though the process killed was the one delivering; every live stream sees every event of the server
once, without a gap, the killed process's stream after resuming through the balancer with Last-Event-ID.
The balancer runs ``deploy/haproxy.cfg`` itself, its addresses from the environment.
"""

from __future__ import annotations

import csv
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sonoran import Instance, productEnums
from sqlalchemy import text

from opendispatch.events import service as events
from tests.events.receiver import Receiver
from tests.services import launcher
from tests.support import Community, Provisioner, free_port, lift_limits

ROOT = Path(__file__).resolve().parent.parent
HAPROXY = Path("/usr/sbin/haproxy")
HAPROXY_CONFIG = ROOT / "deploy" / "haproxy.cfg"
PROCESSES = 3
SDK_THREADS = 4
BEFORE_KILL = 120  # creates the SDK is told succeeded before the kill, and again after it
AFTER_KILL = 120
MOST_CALLS_PER_THREAD = 1000  # a bound on the load, should the waits below never be satisfied
START_SECONDS = 30.0
LOAD_SECONDS = 30.0
# The killed process held the lease of the event it was delivering: another process takes the event when
# the lease ends (twice the push timeout plus five seconds: seven here), then the backlog drains.
DELIVERY_SECONDS = 30.0
PUSH_TIMEOUT_SECONDS = 1.0


def wait_until(ready: Callable[[], bool], seconds: float, what: Callable[[], str]) -> None:
    """Poll ``ready`` until it says yes; fail with ``what()`` when ``seconds`` pass first."""
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what()}")
        time.sleep(0.02)


# -- the processes -----------------------------------------------------------------------------------------


@dataclass
class ServeProcess:
    """One ``opendispatch serve`` subprocess on its own loopback port, logging to its own file."""

    name: str
    port: int
    log: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def is_ready(self) -> bool:
        """Whether /readyz answers 200; fails with the log if the process has exited."""
        if self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited ({self.process.returncode}):\n{self.tail()}")
        try:
            return httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def start_serve(name: str, database_url: str, folder: Path, port: int | None = None) -> ServeProcess:
    """Start one ``opendispatch serve`` with its push worker on, quick to retry, without waiting for it.

    ``port``: the port of a process that was stopped, to start it again where its clients reconnect.
    """
    port = port or free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
        "OPENDISPATCH_DATABASE_URL": database_url,
        "OPENDISPATCH_PUSH_WORKER": "true",
        "OPENDISPATCH_PUSH_TIMEOUT_SECONDS": str(PUSH_TIMEOUT_SECONDS),
        "OPENDISPATCH_PUSH_BACKOFF_BASE_SECONDS": "0.05",
        "OPENDISPATCH_PUSH_BACKOFF_MAX_SECONDS": "0.2",
        "OPENDISPATCH_PUSH_POLL_SECONDS": "0.2",
    }
    log = folder / f"{name}.log"
    with log.open("ab") as out:
        # setpriv's death signal: a killed pytest leaves no server behind.
        process = subprocess.Popen(
            [*launcher("TERM"), sys.executable, "-m", "opendispatch.cli", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=folder,
        )
    return ServeProcess(name, port, log, process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and SIGKILL if it has not exited within twenty seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Balancer:
    """Debian's haproxy running ``deploy/haproxy.cfg`` in the foreground, with a stats socket to read."""

    port: int
    stats: Path
    log: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def server_states(self) -> dict[str, str]:
        """Each backend server's status as haproxy sees it (UP, DOWN, "UP 1/2" on the way down, ...)."""
        if self.process.poll() is not None:
            raise AssertionError(f"haproxy exited:\n{self.log.read_text(errors='replace')[-3000:]}")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stats:
                stats.settimeout(2)
                stats.connect(str(self.stats))
                stats.sendall(b"show stat\n")
                answer = b"".join(iter(lambda: stats.recv(65536), b""))
        except OSError:
            return {}  # not listening yet
        lines = answer.decode().removeprefix("# ").splitlines()
        return {
            row["svname"]: row["status"]
            for row in csv.DictReader(lines)
            if row["pxname"] == "opendispatch" and row["svname"] not in {"FRONTEND", "BACKEND"}
        }


def start_balancer(servers: list[ServeProcess], folder: Path) -> Balancer:
    """haproxy on a free loopback port in front of ``servers``, as an ordinary user (no chroot)."""
    if not HAPROXY.exists():
        pytest.fail("haproxy is not installed: run scripts/test.sh once, it installs Debian's package")
    port = free_port()
    stats = folder / "haproxy.sock"
    env = {
        **os.environ,
        "OPENDISPATCH_LB_UNPRIVILEGED": "1",
        "OPENDISPATCH_LB_LOG": "stdout",
        "OPENDISPATCH_LB_STATS_SOCKET": str(stats),
        "OPENDISPATCH_LB_BIND": f"127.0.0.1:{port}",
    }
    env.update({f"OPENDISPATCH_APP{n}": f"127.0.0.1:{server.port}" for n, server in enumerate(servers, 1)})
    log = folder / "haproxy.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [*launcher("TERM"), str(HAPROXY), "-db", "-f", str(HAPROXY_CONFIG)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=folder,
        )
    return Balancer(port, stats, log, process)


def delivering_process(servers: list[ServeProcess], receiver_port: int) -> ServeProcess | None:
    """The process with a connection open to the receiver now, from /proc (Linux).

    The receiver speaks HTTP/1.0 and closes each connection after its answer, and only one delivery of a
    server is in flight fleet-wide: while the receiver holds a request, that one connection is the only
    one established to it.
    """
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote_port = int(fields[2].split(":")[1], 16)
        if fields[3] == "01" and remote_port == receiver_port:  # 01: ESTABLISHED
            inodes.add(f"socket:[{fields[9]}]")
    for server in servers:
        with suppress(OSError):  # a descriptor closed while we look
            for descriptor in Path(f"/proc/{server.process.pid}/fd").iterdir():
                with suppress(OSError):
                    if os.readlink(descriptor) in inodes:
                        return server
    return None


# -- the clients ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What the SDK said about one create: success and the call id, or why not."""

    caller: str
    succeeded: bool
    call_id: int | None
    reason: Any


class Load:
    """Threads creating 911 calls through the balancer with the real SDK, each call with its own caller."""

    def __init__(self, url: str, community: Community, threads: int) -> None:
        self.url = url
        self.community = community
        self.outcomes: list[Outcome] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._threads = [
            threading.Thread(target=self._create, args=(n,), daemon=True) for n in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def succeeded(self) -> int:
        """How many creates the SDK was told succeeded so far."""
        with self._lock:
            return sum(outcome.succeeded for outcome in self.outcomes)

    def stop(self) -> list[Outcome]:
        """Let each thread finish its create in flight; every outcome."""
        self._done.set()
        for thread in self._threads:
            thread.join(timeout=30)
        assert not any(thread.is_alive() for thread in self._threads)
        return list(self.outcomes)

    def _create(self, thread: int) -> None:
        cad = Instance(
            apiKey=self.community.api_key,
            communityId=self.community.community_id,
            product=productEnums.CAD,
            serverId=1,
            cadApiUrl=self.url,
            timeout=10,
        ).cad
        assert cad is not None
        for n in range(MOST_CALLS_PER_THREAD):
            if self._done.is_set():
                return
            caller = f"fleet {thread}-{n}"
            request = {"serverId": 1, "isEmergency": n % 2 == 0, "caller": caller, "location": "Alta St"}
            try:
                answer = cad.createEmergencyCallV2({**request, "description": "Structure fire"})
                call_id = answer.data["callId"] if answer.success else None
                outcome = Outcome(caller, answer.success, call_id, answer.reason)
            except (OSError, http.client.HTTPException) as exc:  # no answer at all: haproxy never does this
                outcome = Outcome(caller, False, None, repr(exc))
            with self._lock:
                self.outcomes.append(outcome)


class Subscriber:
    """Reads server 1's live stream in a thread, keeping (id, callId) of each event.

    When the stream drops, it resumes from ``resume_url`` (the balancer: another process) with the
    Last-Event-ID of the last event it saw, as a browser's EventSource does.
    """

    MOST_CONNECTIONS = 20

    def __init__(self, url: str, api_key: str, resume_url: str | None = None) -> None:
        self.url = url
        self.resume_url = resume_url
        self.api_key = api_key
        self.events: list[tuple[int, int]] = []
        self.types: set[str] = set()
        self.connections = 0
        self._arrived = threading.Condition()
        self._opened = threading.Event()
        self._stop = threading.Event()
        self._answer: httpx.Response | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._opened.wait(10), f"the stream of {url} did not open"

    def _run(self) -> None:
        url = self.url
        for _connection in range(self.MOST_CONNECTIONS):
            headers = {"Authorization": f"Bearer {self.api_key}"}
            with self._arrived:
                if self.events:
                    headers["Last-Event-ID"] = str(self.events[-1][0])
            with (
                suppress(httpx.HTTPError, RuntimeError),  # RuntimeError: close() hung up under us
                httpx.Client(timeout=httpx.Timeout(5, read=30)) as client,
                client.stream("GET", url + "/v2/emergency/servers/1/events", headers=headers) as answer,
            ):
                if answer.status_code == 200:
                    self._answer = answer
                    self.connections += 1
                    self._opened.set()
                    self._collect(answer)
            if self._stop.is_set() or self.resume_url is None:
                return
            url = self.resume_url
            self._stop.wait(0.1)  # paces reconnections while the balancer has no process to offer

    def _collect(self, answer: httpx.Response) -> None:
        fields: dict[str, str] = {}
        for line in answer.iter_lines():
            if self._stop.is_set():
                return
            if line == "":
                if "data" in fields:
                    with self._arrived:
                        self.types.add(fields["event"])
                        call_id = json.loads(fields["data"])["call"]["callId"]
                        self.events.append((int(fields["id"]), call_id))
                        self._arrived.notify_all()
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")

    def wait_for(self, last_id: int, seconds: float) -> list[tuple[int, int]]:
        """The events seen once the one numbered ``last_id`` has arrived (fails after ``seconds``)."""

        def caught_up() -> bool:
            return bool(self.events) and self.events[-1][0] >= last_id

        with self._arrived:
            arrived = self._arrived.wait_for(caught_up, seconds)
            assert arrived, f"{self.url}: last event {self.events[-1:]} of {last_id} after {seconds} s"
            return list(self.events)

    def close(self) -> None:
        """Hang up (shutting the socket down wakes the reading thread at once)."""
        self._stop.set()
        if self._answer is not None:
            with suppress(OSError, KeyError):
                self._answer.extensions["network_stream"].get_extra_info("socket").shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)


# -- the test ----------------------------------------------------------------------------------------------


@pytest.fixture
def fleet(postgresql_url: str, tmp_path: Path) -> Iterator[list[ServeProcess]]:
    """Three serve processes started at once on an empty database: they migrate it under the lock."""
    servers: list[ServeProcess] = []
    try:
        for n in range(1, PROCESSES + 1):
            servers.append(start_serve(f"serve{n}", postgresql_url, tmp_path))
        wait_until(
            lambda: all(server.is_ready() for server in servers),
            START_SECONDS,
            lambda: "\n".join(f"{server.name}:\n{server.tail()}" for server in servers),
        )
        yield servers
    finally:
        for server in servers:
            stop(server.process)


@pytest.fixture
def balancer(fleet: list[ServeProcess], tmp_path: Path) -> Iterator[Balancer]:
    """haproxy in front of the fleet, once it sees every process ready."""
    balancer = start_balancer(fleet, tmp_path)
    try:
        wait_until(
            lambda: set(balancer.server_states().values()) == {"UP"},
            START_SECONDS,
            lambda: f"haproxy sees {balancer.server_states()}",
        )
        yield balancer
    finally:
        stop(balancer.process)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def fleet_community(
    postgresql_url: str, fleet: list[ServeProcess], receiver: Receiver
) -> Iterator[Community]:
    """A community whose server 1 pushes to the receiver, its limits lifted (each process counts alone:
    no Redis here)."""
    provision = Provisioner(postgresql_url)
    try:
        community = provision.community("Fleet")
        lift_limits(provision, community)
        with provision.db.transaction() as conn:
            events.set_push_target(
                conn,
                community_id=community.community_id,
                server_id=1,
                now=provision.now(),
                url=receiver.url,
                body_key=community.api_key,
            )
        yield community
    finally:
        provision.close()


@dataclass(frozen=True)
class ServerEvent:
    """One event of server 1 as the database holds it."""

    seq: int
    uid: str
    call_id: int


def stored(database_url: str, community: Community) -> tuple[dict[str, int], list[ServerEvent]]:
    """The community's 911 calls (caller to call id) and server 1's events in their order."""
    provision = Provisioner(database_url, migrate=False)
    try:
        with provision.db.engine.connect() as conn:
            where = {"c": community.community_id}
            calls = conn.execute(
                text("SELECT caller, call_id FROM emergency_calls WHERE community_id = :c"), where
            ).all()
            rows = conn.execute(
                text(
                    "SELECT seq, uid, data FROM events WHERE community_id = :c AND server_id = 1 ORDER BY seq"
                ),
                where,
            ).all()
    finally:
        provision.close()
    call_ids = {caller: call_id for caller, call_id in calls}
    assert len(call_ids) == len(calls), "a caller stored twice: a create was replayed"
    return call_ids, [ServerEvent(row.seq, row.uid, json.loads(row.data)["call"]["callId"]) for row in rows]


@pytest.mark.own_database  # it runs on a PostgreSQL database whatever --backend says
def test_a_fleet_loses_nothing_when_a_process_is_killed_under_load(
    postgresql_url: str,
    fleet: list[ServeProcess],
    balancer: Balancer,
    receiver: Receiver,
    fleet_community: Community,
) -> None:
    subscribers = [
        Subscriber(server.url, fleet_community.api_key, resume_url=balancer.url) for server in fleet
    ]
    try:
        load = Load(balancer.url, fleet_community, SDK_THREADS)
        try:
            wait_until(
                lambda: load.succeeded() >= BEFORE_KILL, LOAD_SECONDS, lambda: f"{load.succeeded()} made"
            )
            victim = kill_the_delivering_process(fleet, receiver)
            at_kill = load.succeeded()
            name = f"app{fleet.index(victim) + 1}"
            wait_until(
                lambda: balancer.server_states()[name].startswith("DOWN"),
                10,
                lambda: f"haproxy sees {balancer.server_states()}",
            )
            wait_until(
                lambda: load.succeeded() >= at_kill + AFTER_KILL,
                LOAD_SECONDS,
                lambda: f"{load.succeeded()} made",
            )
        finally:
            outcomes = load.stop()
        # Only a request in flight on the killed process may fail (haproxy answers 502): one per thread.
        failures = [outcome for outcome in outcomes if not outcome.succeeded]
        assert len(failures) <= SDK_THREADS, failures

        # (a) Every call the SDK was told is stored is stored (once: haproxy never replays a create).
        call_ids, server_events = stored(postgresql_url, fleet_community)
        told = [outcome for outcome in outcomes if outcome.succeeded]
        assert [call_ids.get(outcome.caller) for outcome in told] == [outcome.call_id for outcome in told]
        # One EVENT_911 per stored call, numbered 1..n in the order the calls were created.
        last = len(server_events)
        assert [event.seq for event in server_events] == list(range(1, last + 1))
        event_calls = [event.call_id for event in server_events]
        assert event_calls == sorted(call_ids.values())

        # (b) Every event reached the receiver at least once, first arrivals in the server's order, though
        # the killed process was delivering one (it arrived, was never recorded, and was sent again).
        seq_of = {event.uid: event.seq for event in server_events}

        def pushed() -> set[str]:
            return {arrival.headers["webhook-id"] for arrival in list(receiver.arrivals)}

        wait_until(
            lambda: pushed() >= set(seq_of), DELIVERY_SECONDS, lambda: f"{len(pushed())} of {last} pushed"
        )
        first_arrivals: list[int] = []
        for arrival in list(receiver.arrivals):
            seq = seq_of[arrival.headers["webhook-id"]]
            assert arrival.json["data"][0]["call"]["callId"] == event_calls[seq - 1]
            if seq not in first_arrivals:
                first_arrivals.append(seq)
        assert first_arrivals == list(range(1, last + 1))
        assert len(receiver.arrivals) > last, "the killed process's delivery was not sent again"

        # (c) Every stream saw every event once and in order: the survivors' on their one connection, the
        # killed process's resumed through haproxy from the last event it saw.
        for subscriber in subscribers:
            seen = subscriber.wait_for(last, DELIVERY_SECONDS)
            assert [seq for seq, _call in seen] == list(range(1, last + 1)), subscriber.url
            assert [call for _seq, call in seen] == event_calls, subscriber.url
            assert subscriber.types == {"EVENT_911"}
            assert subscriber.connections == (2 if subscriber.url == victim.url else 1), subscriber.url

        # The survivors stop promptly on SIGTERM once their streams are gone (haproxy would hold the resumed
        # one open until its next write): a shutdown never waits on the push worker, whatever wakes it.
        for subscriber in subscribers:
            subscriber.close()
        stop(balancer.process)
        survivors = [server for server in fleet if server is not victim]
        for server in survivors:
            server.process.terminate()
        for server in survivors:
            # uvicorn ends by raising the signal again once it has shut down.
            assert server.process.wait(timeout=10) in {0, -signal.SIGTERM}, server.tail()
            assert "timeout graceful shutdown exceeded" not in server.tail(), server.tail()
    finally:
        for subscriber in subscribers:
            subscriber.close()


def kill_the_delivering_process(fleet: list[ServeProcess], receiver: Receiver) -> ServeProcess:
    """SIGKILL the process delivering a push event right now, so it dies holding the event's lease.

    The receiver holds the next request long enough to find who sent it.
    """
    for _try in range(5):
        receiver.delay = 2.0
        held = receiver.attempts  # a request counted after this read saw the delay set above
        wait_until(lambda: receiver.attempts > held, 10, lambda: "no delivery reached the receiver")  # noqa: B023
        victim = delivering_process(fleet, receiver.port)
        receiver.delay = 0.0
        if victim is not None:
            victim.process.send_signal(signal.SIGKILL)
            victim.process.wait(timeout=10)
            return victim
    raise AssertionError("no process was caught delivering")
