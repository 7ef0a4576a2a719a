"""The hub protocol with the official JavaScript client, and on the wire for what a client may get wrong."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from websockets.sync.client import connect

from opendispatch.hub.protocol import RECORD_SEPARATOR, HubConnection, HubError, hub_routes
from tests.hub.node import run_client


async def echo(connection: HubConnection, arguments: list[Any]) -> Any:
    return arguments


async def fail(connection: HubConnection, arguments: list[Any]) -> Any:
    raise HubError("nope")


async def crash(connection: HubConnection, arguments: list[Any]) -> Any:
    raise ValueError("a bug")


async def remember(connection: HubConnection, arguments: list[Any]) -> Any:
    connection.state["note"] = arguments[0]
    return None


async def recall(connection: HubConnection, arguments: list[Any]) -> Any:
    return connection.state.get("note")


async def push(connection: HubConnection, arguments: list[Any]) -> Any:
    await connection.send("pushEvent", arguments[0])
    return True


ASKED: list[str] = []  # how each ask ended, for a test whose client is gone by then


async def ask(connection: HubConnection, arguments: list[Any]) -> Any:
    """Invoke pushEvent on the client with an id, in a task: the connection reads its answer meanwhile."""

    async def asking() -> str:
        try:
            await connection.invoke("pushEvent", arguments[0], timeout=arguments[1])
        except TimeoutError:
            outcome = "no answer"
        except ConnectionError:
            outcome = "closed"
        else:
            outcome = "answered"
        ASKED.append(outcome)
        return outcome

    connection.state["asking"] = asyncio.create_task(asking())
    return connection.answers_invocations


async def asked(connection: HubConnection, arguments: list[Any]) -> Any:
    return await connection.state["asking"]


async def drop(connection: HubConnection, arguments: list[Any]) -> Any:
    await connection.close("going away")
    return None


METHODS = {
    "echo": echo,
    "fail": fail,
    "crash": crash,
    "remember": remember,
    "recall": recall,
    "push": push,
    "ask": ask,
    "asked": asked,
}


@contextmanager
def hub(**timeouts: float) -> Iterator[str]:
    """A hub with the test methods at /hub, served by uvicorn on a free port; yields its URL."""
    app = Starlette(routes=hub_routes("/hub", {**METHODS, "drop": drop}, **timeouts))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the hub did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hub"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        listener.close()


@pytest.mark.parametrize("skip_negotiation", [False, True], ids=["negotiated", "skipNegotiation"])
def test_the_official_client_invokes_methods_and_hears_the_server(skip_negotiation: bool) -> None:
    steps = [
        {"op": "start"},
        {"op": "invoke", "method": "echo", "args": [1, "a", {"x": [1, 2]}]},
        {"op": "invoke", "method": "ECHO", "args": []},  # names match whatever their case, as ASP.NET's do
        {"op": "invoke", "method": "fail"},
        {"op": "invoke", "method": "crash"},
        {"op": "invoke", "method": "nothing"},
        {"op": "send", "method": "remember", "args": ["sent without an id"]},
        {"op": "invoke", "method": "recall"},
        {
            "op": "invoke",
            "method": "push",
            "args": [{"key": "k", "type": "EVENT_911", "data": {"callId": 7}}],
        },
        {"op": "event", "name": "pushEvent"},
    ]
    with hub() as url:
        outcomes = run_client(url, steps, skipNegotiation=skip_negotiation)
    assert [outcome["ok"] for outcome in outcomes] == [
        True,
        True,
        True,
        False,
        False,
        False,
        True,
        True,
        True,
        True,
    ]
    assert outcomes[1]["result"] == [1, "a", {"x": [1, 2]}]
    assert outcomes[2]["result"] == []
    assert outcomes[3]["error"].endswith("HubException: nope")
    assert outcomes[4]["error"].endswith("An unexpected error occurred invoking 'crash' on the server.")
    assert "a bug" not in outcomes[4]["error"]  # an unexpected error's details stay in the server's log
    assert outcomes[5]["error"].endswith("HubException: Method does not exist.")
    assert outcomes[7]["result"] == "sent without an id"
    assert outcomes[9]["result"] == [{"key": "k", "type": "EVENT_911", "data": {"callId": 7}}]


def test_the_official_client_answers_an_invocation_that_asks_for_an_answer() -> None:
    # The answer is what proves a push event arrived; under Node.js the client names its version.
    body = {"key": "k", "type": "EVENT_911", "data": {"callId": 7}}
    steps = [
        {"op": "start"},
        {"op": "invoke", "method": "ask", "args": [body, 10]},
        {"op": "event", "name": "pushEvent"},
        {"op": "invoke", "method": "asked"},
    ]
    with hub() as url:
        outcomes = run_client(url, steps)
    assert outcomes[1]["result"] is True  # it said it is a client that answers
    assert outcomes[2]["result"] == [body]
    assert outcomes[3]["result"] == "answered"


@pytest.mark.parametrize(
    ("agent", "answers"),
    [
        ("Microsoft SignalR/10.0 (10.0.0; Linux; NodeJS; 20.20.2)", True),
        ("Microsoft SignalR/7.0 (7.0.0; Windows NT; .NET; .NET 7.0)", True),
        ("Microsoft SignalR/6.0 (6.0.1; Linux; NodeJS; 16.9.1)", False),  # it would close on an id
        ("Mozilla/5.0 (X11; Linux x86_64)", False),
        (None, False),  # a browser's WebSocket sends no SignalR agent
        ("Microsoft SignalR/" + "9" * 5000 + ".0", False),
    ],
)
def test_only_clients_that_answer_invocations_are_asked_for_an_answer(
    agent: str | None, answers: bool
) -> None:
    with hub() as url, connect(frames(url), user_agent_header=agent) as websocket:
        websocket.send(json.dumps({"protocol": "json", "version": 1}) + RECORD_SEPARATOR)
        assert read_records(websocket, 1) == [{}]
        ask = {"type": 1, "invocationId": "1", "target": "ask", "arguments": [{"n": 1}, 0.2]}
        websocket.send(json.dumps(ask) + RECORD_SEPARATOR)
        records = [record for record in read_records(websocket, 2) if record.get("type") != 6]
        completion = next(record for record in records if record["type"] == 3)
        assert completion["result"] is answers
        if answers:  # this raw client never answers: the server gives up after the timeout
            pushed = next(record for record in records if record["type"] == 1)
            assert pushed["target"] == "pushEvent" and pushed["invocationId"]
            websocket.send(json.dumps({"type": 1, "invocationId": "2", "target": "asked"}) + RECORD_SEPARATOR)
            assert read_records(websocket, 1) == [{"type": 3, "invocationId": "2", "result": "no answer"}]


def test_an_invocation_unanswered_when_the_connection_closes_fails_at_once() -> None:
    ASKED.clear()
    with hub() as url, connect(frames(url), user_agent_header="Microsoft SignalR/10.0 (10.0.0)") as websocket:
        websocket.send(json.dumps({"protocol": "json", "version": 1}) + RECORD_SEPARATOR)
        assert read_records(websocket, 1) == [{}]
        ask = {"type": 1, "invocationId": "1", "target": "ask", "arguments": [{"n": 1}, 60]}
        websocket.send(json.dumps(ask) + RECORD_SEPARATOR)
        read_records(websocket, 2)
        # The invocation would wait a minute for an answer; the connection closing ends it now.
        websocket.close()
        deadline = time.monotonic() + 5
        while not ASKED:
            assert time.monotonic() < deadline, "the invocation still waits"
            time.sleep(0.01)
    assert ASKED == ["closed"]


def test_the_server_pings_so_a_quiet_client_stays_connected() -> None:
    # The client gives up on a server it has not heard from for 1 s; it stays quiet for 2.5 s.
    steps = [
        {"op": "start"},
        {"op": "sleep", "ms": 2500},
        {"op": "invoke", "method": "echo", "args": ["still here"]},
    ]
    with hub(keep_alive=0.2) as url:
        outcomes = run_client(url, steps, serverTimeoutMs=1000)
    assert outcomes[2] == {"step": "invoke", "ok": True, "result": ["still here"], "state": "Connected"}


def test_a_client_that_sends_nothing_is_dropped_after_the_client_timeout() -> None:
    steps = [{"op": "start"}, {"op": "closed", "timeoutMs": 10000}]
    with hub(keep_alive=0.2, client_timeout=0.5) as url:
        outcomes = run_client(url, steps, keepAliveMs=20000)
    assert outcomes[1]["ok"], outcomes
    assert "Server timeout elapsed without receiving a message from the client." in outcomes[1]["result"][0]


def test_a_server_close_that_allows_reconnecting_brings_the_client_back() -> None:
    steps = [
        {"op": "start"},
        {"op": "invoke", "method": "drop"},
        {"op": "reconnected", "timeoutMs": 10000},
        {"op": "invoke", "method": "echo", "args": ["back"]},
    ]
    with hub() as url:
        outcomes = run_client(url, steps, reconnect=True)
    assert not outcomes[1]["ok"]  # its connection closed under it
    assert outcomes[2]["ok"], outcomes
    assert outcomes[3]["result"] == ["back"]


def frames(url: str) -> str:
    return url.replace("http://", "ws://")


def read_records(websocket: Any, count: int) -> list[Any]:
    records: list[Any] = []
    buffer = ""
    while len(records) < count:
        buffer += websocket.recv(timeout=10)
        *complete, buffer = buffer.split(RECORD_SEPARATOR)
        records += [json.loads(record) for record in complete]
    return records


def test_records_split_across_frames_and_joined_in_one_frame_are_all_answered() -> None:
    with hub() as url, connect(frames(url)) as websocket:
        handshake = json.dumps({"protocol": "json", "version": 1}) + RECORD_SEPARATOR
        websocket.send(handshake[:10])
        websocket.send(handshake[10:])
        assert read_records(websocket, 1) == [{}]
        first = json.dumps({"type": 1, "invocationId": "1", "target": "echo", "arguments": [1]})
        second = json.dumps({"type": 1, "invocationId": "2", "target": "echo", "arguments": [2]})
        websocket.send(first + RECORD_SEPARATOR + second[:5])
        websocket.send(second[5:] + RECORD_SEPARATOR)
        answers = [record for record in read_records(websocket, 2) if record.get("type") == 3]
        assert answers == [
            {"type": 3, "invocationId": "1", "result": [1]},
            {"type": 3, "invocationId": "2", "result": [2]},
        ]


def test_a_protocol_other_than_json_is_refused_in_the_handshake() -> None:
    with hub() as url, connect(frames(url)) as websocket:
        websocket.send(json.dumps({"protocol": "messagepack", "version": 1}) + RECORD_SEPARATOR)
        assert read_records(websocket, 1) == [{"error": "The protocol 'messagepack' is not supported."}]


def test_a_message_over_32_kib_closes_the_connection_without_reconnecting() -> None:
    with hub() as url, connect(frames(url)) as websocket:
        websocket.send(json.dumps({"protocol": "json", "version": 1}) + RECORD_SEPARATOR)
        assert read_records(websocket, 1) == [{}]
        websocket.send(
            json.dumps({"type": 1, "target": "echo", "arguments": ["x" * 40_000]}) + RECORD_SEPARATOR
        )
        closing = [record for record in read_records(websocket, 1) if record.get("type") == 7]
        assert closing == [
            {"type": 7, "error": "A message was longer than 32768 characters.", "allowReconnect": False}
        ]


def test_negotiation_offers_websockets_and_a_token_but_never_stateful_reconnect() -> None:
    with hub() as url:
        answer = httpx.post(url + "/negotiate?negotiateVersion=1").json()
        old = httpx.post(url + "/negotiate").json()
    assert answer["negotiateVersion"] == 1 and answer["connectionToken"] and answer["connectionId"]
    assert answer["availableTransports"] == [{"transport": "WebSockets", "transferFormats": ["Text"]}]
    assert "useStatefulReconnect" not in answer
    assert "connectionToken" not in old and old["connectionId"]


def test_a_negotiate_version_that_is_no_number_gets_the_oldest_answer() -> None:
    with hub() as url:
        for odd in ("²", "x", "99999999999999999999"):
            answer = httpx.post(url + "/negotiate", params={"negotiateVersion": odd})
            assert answer.status_code == 200, (odd, answer.text)
            assert "connectionToken" not in answer.json()
