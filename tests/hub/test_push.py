"""Push events over the game server's hub socket first, HTTP when it has none, exactly the HTTP body."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from opendispatch.events import service as events
from opendispatch.settings import Settings
from tests.events.receiver import Receiver
from tests.hub.node import run_client
from tests.legacy.v1 import SDK_HEADERS, sdk_body
from tests.support import Community, LiveServer, Provisioner, live_server, new_911


@pytest.fixture
def hub_server(uncached_settings: Settings, provision: Provisioner) -> Iterator[LiveServer]:
    fast = uncached_settings.model_copy(update={"push_poll_seconds": 0.1})
    with live_server(fast) as running:
        yield running


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


def create_911(server: LiveServer, community: Community, caller: str) -> int:
    with server.client(community.api_key) as http:
        answer = http.post("/v2/emergency/servers/1/calls/911", json=new_911(caller=caller))
    assert answer.status_code == 200, answer.text
    return int(answer.json()["callId"])


def test_a_connected_game_server_gets_each_push_event_over_its_socket_with_its_key(
    hub_server: LiveServer, community: Community
) -> None:
    created: list[int] = []

    def place_calls() -> None:
        created.append(create_911(hub_server, community, "Over v2"))
        with hub_server.client() as http:
            http.headers.update(SDK_HEADERS)
            item = {
                "serverId": 1,
                "isEmergency": True,
                "caller": "Over v1",
                "location": "L",
                "description": "D",
            }
            answer = http.post("/emergency/911_call", json=sdk_body(community, "911_CALL", [item]))
            assert answer.status_code == 200, answer.text

    steps = [
        {"op": "start"},
        {"op": "invoke", "method": "authenticatev2", "args": [community.community_id, community.api_key, 1]},
        {"op": "pause"},
        {"op": "event", "name": "pushEvent", "timeoutMs": 10000},
        {"op": "event", "name": "pushEvent", "timeoutMs": 10000},
    ]
    outcomes = run_client(f"{hub_server.url}/apiWsHub", steps, during_pause=place_calls)
    assert outcomes[1]["result"]["success"] is True
    pushed: list[dict[str, Any]] = [outcome["result"][0] for outcome in outcomes[3:]]
    assert all(outcome["ok"] for outcome in outcomes[3:]), outcomes
    # The HTTP body exactly: the key the game server authenticated with, the type, data as an object.
    assert [event["key"] for event in pushed] == [community.api_key] * 2
    assert [event["type"] for event in pushed] == ["EVENT_911"] * 2
    assert [event["data"]["call"]["caller"] for event in pushed] == ["Over v2", "Over v1"]
    assert pushed[0]["data"]["call"]["callId"] == created[0]


def test_with_a_socket_the_event_is_not_posted_and_without_one_it_is(
    hub_server: LiveServer, provision: Provisioner, community: Community, receiver: Receiver
) -> None:
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
    steps = [
        {"op": "start"},
        {"op": "invoke", "method": "authenticatev2", "args": [community.community_id, community.api_key, 1]},
        {"op": "pause"},
        {"op": "event", "name": "pushEvent", "timeoutMs": 10000},
        {"op": "stop"},
    ]
    outcomes = run_client(
        f"{hub_server.url}/apiWsHub", steps, during_pause=lambda: create_911(hub_server, community, "Socket")
    )
    assert outcomes[3]["ok"] and outcomes[3]["result"][0]["data"]["call"]["caller"] == "Socket", outcomes
    # The socket is gone: the next event is POSTed. Events of a server go one at a time and in order, so
    # once it arrived, the first one had been settled over the socket, never POSTed.
    create_911(hub_server, community, "Posted")
    receiver.wait_for(1)
    assert [arrival.json["data"]["call"]["caller"] for arrival in receiver.arrivals] == ["Posted"]


def test_a_socket_of_another_community_never_hears_this_communitys_events(
    hub_server: LiveServer, provision: Provisioner, community: Community
) -> None:
    other = provision.community("Beta")
    steps = [
        {"op": "start"},
        {"op": "invoke", "method": "authenticatev2", "args": [other.community_id, other.api_key, 1]},
        {"op": "pause"},
        {"op": "event", "name": "pushEvent", "timeoutMs": 10000},
    ]

    def both() -> None:
        create_911(hub_server, community, "Alpha's")
        create_911(hub_server, other, "Beta's")

    outcomes = run_client(f"{hub_server.url}/apiWsHub", steps, during_pause=both)
    # Alpha's call was placed first; Beta's socket hears Beta's only.
    assert outcomes[3]["result"][0]["data"]["call"]["caller"] == "Beta's"
    assert outcomes[3]["result"][0]["key"] == other.api_key
