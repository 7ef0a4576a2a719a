"""A game server's socket dies under it: the client reconnects by itself, authenticates again as the
in-game resource does, and then receives every push event of the outage (the server has no HTTP target,
so they wait for the socket), the one in flight when the socket died included."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from opendispatch.settings import Settings
from tests.hub.node import run_client
from tests.hub.proxy import TcpProxy
from tests.legacy.v1 import SDK_HEADERS, sdk_body
from tests.support import Community, LiveServer, Provisioner, live_server, new_911

# The client retries every 100 ms while the proxy refuses it (the resource waits 0, 2, 10, 30 s).
RECONNECT_DELAYS = [0] + [100] * 100
# A failed attempt waits half a minute: an event that arrives sooner went when the socket came back.
BACKOFF_SECONDS = 30.0
# Fewer bytes than any 911's pushEvent, even compressed; more than a ping or a completion.
PUSH_EVENT_BYTES = 150


@pytest.fixture
def hub_server(uncached_settings: Settings, provision: Provisioner) -> Iterator[LiveServer]:
    slow_retries = uncached_settings.model_copy(
        update={"push_poll_seconds": 0.1, "push_backoff_base_seconds": BACKOFF_SECONDS}
    )
    with live_server(slow_retries) as running:
        yield running


@pytest.fixture
def proxy(hub_server: LiveServer) -> Iterator[TcpProxy]:
    running = TcpProxy(hub_server.port).start()
    yield running
    running.stop()


def create_911(server: LiveServer, community: Community, caller: str) -> int:
    with server.client(community.api_key) as http:
        answer = http.post("/v2/emergency/servers/1/calls/911", json=new_911(caller=caller))
    assert answer.status_code == 200, answer.text
    return int(answer.json()["callId"])


def create_911_over_v1(server: LiveServer, community: Community, caller: str) -> None:
    item = {"serverId": 1, "isEmergency": True, "caller": caller, "location": "L", "description": "D"}
    with server.client() as http:
        http.headers.update(SDK_HEADERS)
        answer = http.post("/emergency/911_call", json=sdk_body(community, "911_CALL", [item]))
    assert answer.status_code == 200, answer.text


def game_server(community: Community, after_pause: list[dict[str, Any]]) -> tuple[list[Any], dict[str, Any]]:
    """The resource's steps: connect, authenticate with server 1, let the test act, then ``after_pause``."""
    authenticate = [community.community_id, community.api_key, 1]
    steps = [
        {"op": "start"},
        {"op": "invoke", "method": "authenticatev2", "args": authenticate},
        {"op": "pause"},
        {"op": "reconnected", "timeoutMs": 10000},
        {"op": "event", "name": "reauthenticated", "timeoutMs": 10000},
        *after_pause,
    ]
    return steps, {"reconnectDelays": RECONNECT_DELAYS, "reauthenticate": authenticate}


def callers(outcome: dict[str, Any]) -> list[str]:
    """The caller of each EVENT_911 a ``distinct`` step received, in the order they arrived."""
    assert outcome["ok"], outcome
    pushed = [arguments[0] for arguments in outcome["result"]]
    assert {event["type"] for event in pushed} == {"EVENT_911"}
    return [event["data"]["call"]["caller"] for event in pushed]


def first_arrivals(seen: list[str]) -> list[str]:
    return list(dict.fromkeys(seen))


def test_events_made_while_the_socket_is_cut_all_arrive_in_order_after_it_reconnects(
    hub_server: LiveServer, proxy: TcpProxy, community: Community
) -> None:
    made = ["First", "Second", "Third over v1", "Fourth"]

    def outage() -> None:
        proxy.cut()  # reset, not closed: neither side says goodbye
        create_911(hub_server, community, made[0])
        create_911(hub_server, community, made[1])
        create_911_over_v1(hub_server, community, made[2])
        create_911(hub_server, community, made[3])
        proxy.restore()

    steps, options = game_server(community, [{"op": "distinct", "name": "pushEvent", "count": len(made)}])
    outcomes = run_client(f"{proxy.url}/apiWsHub", steps, during_pause=outage, **options)
    assert outcomes[1]["result"]["success"] is True
    assert outcomes[3]["ok"], outcomes  # the client reconnected by itself...
    assert outcomes[4]["result"] == [{"success": True, "error": None, "count": 0}]  # ...and authenticated
    seen = callers(outcomes[5])
    # Delivery is at least once (docs/in-game.md): a copy may come twice, none may be missing, and the
    # first arrivals keep the server's order.
    assert first_arrivals(seen) == made
    assert all(event[0]["key"] == community.api_key for event in outcomes[5]["result"])


def test_the_event_in_flight_when_the_socket_dies_arrives_after_the_reconnection(
    hub_server: LiveServer, proxy: TcpProxy, provision: Provisioner, community: Community
) -> None:
    def act() -> None:
        if proxy.cuts == 0:
            # The server writes the event to its socket; the proxy drops those bytes and resets both sides.
            proxy.cut_on_message(PUSH_EVENT_BYTES)
            create_911(hub_server, community, "In flight")
        else:
            create_911(hub_server, community, "After")

    steps, options = game_server(
        community,
        [
            {"op": "distinct", "name": "pushEvent", "count": 1},
            {"op": "pause"},
            {"op": "event", "name": "pushEvent", "timeoutMs": 10000},
        ],
    )
    outcomes = run_client(f"{proxy.url}/apiWsHub", steps, during_pause=act, **options)
    assert proxy.cuts == 1, outcomes
    assert outcomes[4]["result"][0]["success"] is True, outcomes
    assert first_arrivals(callers(outcomes[5])) == ["In flight"]
    # The socket after the reconnection is the game server's receiver now: the next event goes there.
    assert outcomes[7]["ok"] and outcomes[7]["result"][0]["data"]["call"]["caller"] == "After", outcomes
    # The server's log: the write that never arrived failed for want of an answer, the next one went.
    with provision.db.engine.connect() as conn:
        attempts = conn.execute(
            text("SELECT event_id, url, error FROM delivery_attempts ORDER BY attempt_id")
        ).all()
    first = [attempt for attempt in attempts if attempt.event_id == attempts[0].event_id]
    assert [attempt.url for attempt in first] == ["hub:/apiWsHub"] * 2
    assert [attempt.error is None for attempt in first] == [False, True], first
