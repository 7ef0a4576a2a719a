"""Push over the hub with several ``opendispatch serve`` processes over one PostgreSQL: the process that
holds the game server's socket delivers its events, whichever process made them; when the socket closes
the next event goes over HTTP; when that process restarts, the game server reconnects and gets the events
made meanwhile; behind deploy/haproxy.cfg, from the process that survived."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from opendispatch.events import service as events
from tests.events.receiver import Receiver
from tests.hub.node import run_client
from tests.hub.proxy import TcpProxy
from tests.services import PostgresServer
from tests.support import Community, Provisioner, new_911
from tests.test_fleet import START_SECONDS, ServeProcess, start_balancer, start_serve, stop, wait_until

pytestmark = pytest.mark.own_database  # PostgreSQL whatever --backend says: run once

# Far under the times a lost event would wait: a delivery's lease (7 s here) and a socket's (60 s).
PROMPTLY_MS = 3000


@pytest.fixture
def fleet_database(request: pytest.FixtureRequest, postgresql_server: PostgresServer) -> Iterator[str]:
    """A migrated PostgreSQL database of this test's own."""
    name = postgresql_server.create_database(template=request.getfixturevalue("migrated_postgresql"))
    try:
        yield postgresql_server.url(name)
    finally:
        postgresql_server.drop_database(name)


@pytest.fixture
def pair(fleet_database: str, tmp_path: Path) -> Iterator[list[ServeProcess]]:
    """Two serve processes, A and B, over the database; B may be replaced by the test (see restart)."""
    servers = [start_serve(name, fleet_database, tmp_path) for name in ("A", "B")]
    try:
        ready(servers)
        yield servers
    finally:
        for server in servers:
            stop(server.process)


def ready(servers: list[ServeProcess]) -> None:
    wait_until(
        lambda: all(server.is_ready() for server in servers),
        START_SECONDS,
        lambda: "\n".join(f"{server.name}:\n{server.tail()}" for server in servers),
    )


@pytest.fixture
def provision(fleet_database: str) -> Iterator[Provisioner]:
    provisioner = Provisioner(fleet_database, migrate=False)
    yield provisioner
    provisioner.close()


@pytest.fixture
def community(provision: Provisioner) -> Community:
    return provision.community("Fleet")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


def create_911(server: ServeProcess, community: Community, caller: str) -> None:
    answer = httpx.post(
        f"{server.url}/v2/emergency/servers/1/calls/911",
        json=new_911(caller=caller),
        headers={"Authorization": f"Bearer {community.api_key}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text


def caller_of(outcome: dict[str, Any]) -> str:
    assert outcome["ok"], outcome
    caller: str = outcome["result"][0]["data"]["call"]["caller"]
    return caller


def attempts(provision: Provisioner) -> list[tuple[str, str | None, str]]:
    """Every delivery attempt: (caller, error, url), in the order made."""
    with provision.db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT e.data, a.error, a.url FROM delivery_attempts a JOIN events e USING (event_id)"
                " ORDER BY a.attempt_id"
            )
        ).all()
    return [(json.loads(row.data)["call"]["caller"], row.error, row.url) for row in rows]


def test_an_event_made_on_one_process_reaches_the_socket_on_another_and_then_http(
    pair: list[ServeProcess], provision: Provisioner, community: Community, receiver: Receiver
) -> None:
    a, b = pair
    with provision.db.transaction() as conn:
        events.set_push_target(
            conn,
            community_id=community.community_id,
            server_id=1,
            now=provision.now(),
            url=receiver.url,
            shape="object",
            body_key=community.api_key,
        )

    def after_the_socket_closed() -> None:
        create_911(a, community, "Posted")
        receiver.wait_for(1)

    actions = iter([lambda: create_911(a, community, "Across"), after_the_socket_closed])

    steps = [
        {"op": "start"},
        {"op": "invoke", "method": "authenticatev2", "args": [community.community_id, community.api_key, 1]},
        {"op": "pause"},
        {"op": "event", "name": "pushEvent", "timeoutMs": PROMPTLY_MS},
        {"op": "stop"},
        {"op": "pause"},
    ]
    outcomes = run_client(f"{b.url}/apiWsHub", steps, during_pause=lambda: next(actions)())
    assert outcomes[1]["result"]["success"] is True
    assert caller_of(outcomes[3]) == "Across"
    # Events of a server go one at a time and in order: once "Posted" arrived over HTTP, "Across" had been
    # settled, and over the socket alone.
    assert [arrival.json["data"]["call"]["caller"] for arrival in receiver.arrivals] == ["Posted"]
    # The delivery log, once the POST's answer is recorded.
    wait_until(lambda: len(attempts(provision)) == 2, 10, lambda: f"{attempts(provision)}")
    assert attempts(provision) == [("Across", None, "hub:/apiWsHub"), ("Posted", None, receiver.url)]


def test_after_its_process_restarts_the_game_server_reconnects_and_gets_the_events_made_meanwhile(
    pair: list[ServeProcess], fleet_database: str, community: Community, tmp_path: Path
) -> None:
    a, b = pair
    authenticate = [community.community_id, community.api_key, 1]

    def restart_b() -> None:
        b.process.send_signal(signal.SIGKILL)
        b.process.wait(timeout=10)
        create_911(a, community, "While B was down")
        pair[1] = start_serve("B2", fleet_database, tmp_path, port=b.port)
        ready([pair[1]])

    steps = [
        {"op": "start"},
        {"op": "invoke", "method": "authenticatev2", "args": authenticate},
        {"op": "pause"},
        {"op": "reconnected", "timeoutMs": 20000},
        {"op": "event", "name": "reauthenticated", "timeoutMs": 10000},
        {"op": "event", "name": "pushEvent", "timeoutMs": PROMPTLY_MS},
    ]
    started = time.monotonic()
    outcomes = run_client(
        f"{b.url}/apiWsHub",
        steps,
        during_pause=restart_b,
        reconnectDelays=[0] + [250] * 80,
        reauthenticate=authenticate,
    )
    assert outcomes[3]["ok"], (outcomes, pair[1].tail())
    assert outcomes[4]["result"][0]["success"] is True
    assert caller_of(outcomes[5]) == "While B was down"
    assert time.monotonic() - started < 20


def test_a_game_server_that_reconnects_to_another_process_gets_its_events_there_not_over_http(
    pair: list[ServeProcess], provision: Provisioner, community: Community, receiver: Receiver
) -> None:
    # Behind a balancer a reconnection usually reaches another process, while the first one lives on.
    a, b = pair
    with provision.db.transaction() as conn:
        events.set_push_target(
            conn,
            community_id=community.community_id,
            server_id=1,
            now=provision.now(),
            url=receiver.url,
            shape="object",
            body_key=community.api_key,
        )
    proxy = TcpProxy(b.port).start()
    authenticate = [community.community_id, community.api_key, 1]
    made = [f"Call {n}" for n in range(1, 6)]

    def move_to_a() -> None:
        proxy.cut()
        proxy.upstream_port = a.port
        proxy.restore()

    def make_calls() -> None:
        for n, caller in enumerate(made):
            create_911((a, b)[n % 2], community, caller)

    def after_the_socket_closed() -> None:
        create_911(b, community, "Posted")
        receiver.wait_for(1)

    actions = iter([move_to_a, make_calls, after_the_socket_closed])
    steps = [
        {"op": "start"},
        {"op": "invoke", "method": "authenticatev2", "args": authenticate},
        {"op": "pause"},
        {"op": "reconnected", "timeoutMs": 10000},
        {"op": "event", "name": "reauthenticated", "timeoutMs": 10000},
        {"op": "pause"},
        {"op": "distinct", "name": "pushEvent", "count": len(made), "timeoutMs": PROMPTLY_MS},
        {"op": "stop"},
        {"op": "pause"},
    ]
    try:
        outcomes = run_client(
            f"{proxy.url}/apiWsHub",
            steps,
            during_pause=lambda: next(actions)(),
            reconnectDelays=[0] + [100] * 50,
            reauthenticate=authenticate,
        )
    finally:
        proxy.stop()
    assert outcomes[4]["result"][0]["success"] is True, outcomes
    assert outcomes[6]["ok"], (outcomes[6], attempts(provision))
    pushed = [arguments[0]["data"]["call"]["caller"] for arguments in outcomes[6]["result"]]
    assert list(dict.fromkeys(pushed)) == made
    # Every one of them went over A's socket; then, the socket gone, the next one over HTTP.
    assert [arrival.json["data"]["call"]["caller"] for arrival in receiver.arrivals] == ["Posted"]
    assert {url for caller, _error, url in attempts(provision) if caller in made} == {"hub:/apiWsHub"}


def holding_process(servers: list[ServeProcess]) -> ServeProcess | None:
    """The process with a connection established to its port now, from /proc (Linux): with the game
    server's WebSocket the only long-lived one (haproxy's health checks close at once), the socket's."""
    inodes: dict[str, int] = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        if fields[3] == "01":  # ESTABLISHED
            inodes[f"socket:[{fields[9]}]"] = local_port
    holders = []
    for server in servers:
        if server.process.poll() is not None:
            continue
        links = set()
        for descriptor in Path(f"/proc/{server.process.pid}/fd").iterdir():
            with suppress(OSError):  # a descriptor closed while we look
                links.add(os.readlink(descriptor))
        if any(inodes.get(link) == server.port for link in links):
            holders.append(server)
    return holders[0] if len(holders) == 1 else None


def test_through_the_balancer_the_game_server_survives_its_process_being_killed(
    pair: list[ServeProcess], provision: Provisioner, community: Community, tmp_path: Path
) -> None:
    # deploy/haproxy.cfg in front of both (its third server line points at B again): negotiation and the
    # WebSocket may reach different processes, and the reconnection reaches the survivor.
    a, b = pair
    balancer = start_balancer([a, b, b], tmp_path)
    authenticate = [community.community_id, community.api_key, 1]
    killed: list[ServeProcess] = []

    def kill_the_holder() -> None:
        wait_until(lambda: holding_process(pair) is not None, 10, lambda: "no process holds the socket")
        victim = holding_process(pair)
        assert victim is not None
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(timeout=10)
        killed.append(victim)
        survivor = a if victim is b else b
        create_911(survivor, community, "While the holder was dead")

    steps = [
        {"op": "start"},
        {"op": "invoke", "method": "authenticatev2", "args": authenticate},
        {"op": "pause"},
        {"op": "reconnected", "timeoutMs": 15000},
        {"op": "event", "name": "reauthenticated", "timeoutMs": 10000},
        {"op": "event", "name": "pushEvent", "timeoutMs": PROMPTLY_MS},
    ]
    try:
        wait_until(
            lambda: set(balancer.server_states().values()) == {"UP"},
            START_SECONDS,
            lambda: f"haproxy sees {balancer.server_states()}",
        )
        outcomes = run_client(
            f"{balancer.url}/apiWsHub",
            steps,
            during_pause=kill_the_holder,
            reconnectDelays=[0] + [250] * 60,
            reauthenticate=authenticate,
        )
    finally:
        stop(balancer.process)
    assert outcomes[1]["result"]["success"] is True
    assert outcomes[3]["ok"], outcomes
    assert outcomes[4]["result"][0]["success"] is True, outcomes
    assert caller_of(outcomes[5]) == "While the holder was dead"
