"""The live stream: Server-Sent Events per server, in order, resumable with Last-Event-ID."""

from __future__ import annotations

import json
import socket
import threading
from contextlib import suppress
from typing import Any

import httpx

from tests.support import Community, LiveServer, Provisioner, Server

NEW_911 = {"isEmergency": False, "caller": "c", "location": "l", "description": "d"}
S1 = "/v2/emergency/servers/1"


class Listener:
    """Reads an SSE stream in a thread and keeps each message as (id, event, data)."""

    def __init__(self, server: LiveServer, api_key: str, path: str, last_event_id: int | None = None) -> None:
        headers = {"Authorization": f"Bearer {api_key}"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self.messages: list[tuple[int, str, Any]] = []
        self.status: int | None = None
        self._opened = threading.Event()
        self._arrived = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(server.url + path, headers), daemon=True)
        self._thread.start()
        assert self._opened.wait(10)

    def _read(self, url: str, headers: dict[str, str]) -> None:
        with (
            httpx.Client(timeout=httpx.Timeout(10, read=None)) as client,
            client.stream("GET", url, headers=headers) as answer,
        ):
            self._answer = answer
            self.status = answer.status_code
            self._opened.set()
            with suppress(httpx.HTTPError, RuntimeError):  # raised when close() hangs up under us
                self._collect(answer)

    def _collect(self, answer: httpx.Response) -> None:
        fields: dict[str, str] = {}
        for line in answer.iter_lines():
            if self._stop.is_set():
                return
            if line == "":
                if "data" in fields:
                    with self._arrived:
                        self.messages.append((int(fields["id"]), fields["event"], json.loads(fields["data"])))
                        self._arrived.notify_all()
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")

    def wait_for(self, count: int) -> list[tuple[int, str, Any]]:
        with self._arrived:
            assert self._arrived.wait_for(lambda: len(self.messages) >= count, timeout=10), self.messages
            return list(self.messages)

    def close(self) -> None:
        """Hang up, as a browser tab closing would."""
        self._stop.set()
        # Shutting the socket down wakes the reading thread at once (closing the response does not).
        stream = self._answer.extensions["network_stream"]
        stream.get_extra_info("socket").shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)
        assert not self._thread.is_alive()


def create(server: Server, community: Community, caller: str) -> int:
    with server.client(community.api_key) as http:
        return int(http.post(f"{S1}/calls/911", json={**NEW_911, "caller": caller}).json()["callId"])


def test_stream_delivers_in_order_and_resumes_without_gaps(
    live: LiveServer, community: Community, provision: Provisioner
) -> None:
    provision.set_limit(community, "create_911", 1000)
    first = Listener(live, community.api_key, f"{S1}/events")
    calls = [create(live, community, f"caller {n}") for n in range(3)]
    messages = first.wait_for(3)
    first.close()
    assert [m[1] for m in messages] == ["EVENT_911"] * 3
    assert [m[2]["call"]["callId"] for m in messages] == calls
    ids = [m[0] for m in messages]
    assert ids == sorted(ids) and len(set(ids)) == 3

    # While nobody listens, more happens; a client resuming from the last id it saw gets exactly that.
    missed = [create(live, community, f"missed {n}") for n in range(4)]
    resumed = Listener(live, community.api_key, f"{S1}/events", last_event_id=ids[-1])
    backlog = resumed.wait_for(4)
    assert [m[2]["call"]["callId"] for m in backlog] == missed
    later = create(live, community, "live again")
    after = resumed.wait_for(5)
    resumed.close()
    assert after[-1][2]["call"]["callId"] == later
    assert len({m[0] for m in after}) == 5 and all(m[0] > ids[-1] for m in after)


def test_stream_is_per_server_and_per_community(live: LiveServer, provision: Provisioner) -> None:
    alpha = provision.community("Alpha", servers=2)
    bravo = provision.community("Bravo")
    server_two = Listener(live, alpha.api_key, "/v2/emergency/servers/2/events")
    intruder = Listener(live, bravo.api_key, f"{S1}/events")
    create(live, alpha, "server one of alpha")
    with live.client(alpha.api_key) as http:
        on_two = http.post("/v2/emergency/servers/2/calls/911", json=NEW_911).json()["callId"]
    [(_id, _event, data)] = server_two.wait_for(1)
    assert data["call"]["callId"] == on_two
    create(live, bravo, "bravo's own")
    [(_id, _event, own)] = intruder.wait_for(1)
    assert own["call"]["caller"] == "bravo's own"
    server_two.close()
    intruder.close()


def test_stream_needs_a_key_and_a_server_of_the_community(server: Server, community: Community) -> None:
    with server.client() as http:
        assert http.get(f"{S1}/events").status_code == 401
    with server.client(community.api_key) as http:
        assert http.get("/v2/emergency/servers/9/events").status_code == 404
