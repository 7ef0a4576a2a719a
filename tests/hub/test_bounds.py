"""The hub's bounds: sockets per process, sockets per API key, and the time a socket has to authenticate."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from opendispatch.hub import routes as hub_routes
from opendispatch.hub.protocol import RECORD_SEPARATOR, HubConnection
from opendispatch.settings import Settings
from tests.hub.test_protocol import frames, hub, read_records
from tests.support import Community, LiveServer, ManualClock, live_server

HANDSHAKE = json.dumps({"protocol": "json", "version": 1}) + RECORD_SEPARATOR


def invoke(websocket: ClientConnection, invocation_id: str, target: str, *arguments: Any) -> Any:
    """Invoke a hub method and return its completion (pings skipped)."""
    message = {"type": 1, "invocationId": invocation_id, "target": target, "arguments": list(arguments)}
    websocket.send(json.dumps(message) + RECORD_SEPARATOR)
    while True:
        for record in read_records(websocket, 1):
            if record.get("type") == 3 and record.get("invocationId") == invocation_id:
                return record


@contextmanager
def handshaken(url: str) -> Iterator[ClientConnection]:
    with connect(frames(url)) as websocket:
        websocket.send(HANDSHAKE)
        assert read_records(websocket, 1) == [{}]
        yield websocket


def admitted(connection: HubConnection) -> bool:
    return "note" in connection.state  # the test hub's ``remember`` stands for authenticating


def test_a_process_holds_at_most_its_bound_of_sockets_and_takes_one_again_when_one_closes() -> None:
    with hub(max_connections=2) as url, ExitStack() as stack:  # type: ignore[arg-type]
        first = stack.enter_context(handshaken(url))
        stack.enter_context(handshaken(url))
        with pytest.raises(InvalidStatus) as refused:
            connect(frames(url))
        assert refused.value.response.status_code == 403
        negotiation = httpx.post(url + "/negotiate?negotiateVersion=1")
        assert negotiation.status_code == 503
        # The two held still answer; once one closes, a new socket is taken.
        assert invoke(first, "1", "echo", "still here")["result"] == ["still here"]
        first.close()
        for _ in range(200):  # the server notices the close as soon as its read returns
            try:
                with handshaken(url) as again:
                    assert invoke(again, "1", "echo", 1)["result"] == [1]
                break
            except InvalidStatus:
                continue
        else:
            pytest.fail("no socket was taken after one closed")


def test_a_socket_that_does_not_authenticate_in_time_is_closed_and_one_that_does_stays() -> None:
    with (
        hub(admitted=admitted, admit_within=0.5) as url,  # type: ignore[arg-type]
        handshaken(url) as idle,
        handshaken(url) as working,
    ):
        assert invoke(working, "1", "remember", "authenticated")["type"] == 3
        closing = [record for record in read_records(idle, 1) if record.get("type") == 7]
        while not closing:
            closing = [record for record in read_records(idle, 1) if record.get("type") == 7]
        assert closing[0]["error"] == "Not authenticated within 0.5 seconds of connecting."
        # The idle socket was closed after the deadline; the authenticated one, opened with it, answers.
        assert invoke(working, "2", "echo", "still here")["result"] == ["still here"]


def test_the_real_hub_is_bounded() -> None:
    """The application's hub route carries the documented bounds."""
    assert hub_routes.MAX_CONNECTIONS == 800
    assert hub_routes.MAX_CONNECTIONS_PER_KEY == 50
    assert hub_routes.AUTHENTICATE_WITHIN_SECONDS == 30.0


@pytest.fixture
def hub_server(uncached_settings: Settings, clock: ManualClock) -> Iterator[LiveServer]:
    with live_server(uncached_settings, clock) as running:
        yield running


def test_one_key_holds_at_most_its_bound_of_authenticated_sockets(
    hub_server: LiveServer, community: Community, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub_routes, "MAX_CONNECTIONS_PER_KEY", 2)
    url = f"{hub_server.url}/apiWsHub"
    arguments = (community.community_id, community.api_key, 1)
    with ExitStack() as stack:
        held = [stack.enter_context(handshaken(url)) for _ in range(3)]
        assert invoke(held[0], "1", "authenticatev2", *arguments)["result"]["success"] is True
        assert invoke(held[1], "1", "authenticatev2", *arguments)["result"]["success"] is True
        # Authenticating again on a socket that holds the key is no new socket.
        assert invoke(held[1], "2", "authenticatev2", *arguments)["result"]["success"] is True
        refused = invoke(held[2], "1", "authenticatev2", *arguments)["result"]
        assert refused == {
            "success": False,
            "error": "This API key has 2 hub connections open, the most it may (hub connections per API "
            "key: 2); close one first.",
            "count": 0,
        }
        # Refused, the third socket is not authenticated: it may not report positions.
        located = invoke(held[2], "2", "unitLocation", [{"identId": 1, "location": "Legion Square"}])
        assert located["result"]["error"] == hub_routes.UNAUTHENTICATED
        held[0].close()
        for attempt in range(200):  # the first socket counts until the server has seen it close
            answered = invoke(held[2], str(3 + attempt), "authenticatev2", *arguments)["result"]
            if answered["success"]:
                break
        else:
            pytest.fail("the key's socket that closed still counts")
