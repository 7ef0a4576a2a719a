"""Where events arrive: a push receiver, or N live-stream (SSE) subscribers, and when each event arrived.

One asyncio process on uvloop, whichever the mode, noting for each ``EVENT_911`` the call id and its
arrival on CLOCK_MONOTONIC (the clock bench/pace.py stamps answers with):

- ``receiver``: an HTTP/1.1 server (keep-alive) taking the server's push POSTs on ``/sonorancad/event``
  and answering 200 to each; it is one "subscriber".
- ``stream``: ``--subscribers`` connections to ``GET /v2/emergency/servers/1/events``, each read by its own
  protocol object (no threads). A stream the server closes (it fell 1000 events behind) is reopened with
  ``Last-Event-ID``, as a browser's EventSource does, and counted.

Both serve ``GET /arrivals?first=A&last=B`` on ``--port`` (the receiver on the same port as its POSTs):
for each subscriber, the first arrival of every call id from A to B, and the count of reopened streams,
duplicates and out-of-order ids; ``GET /count`` says how many call ids arrived so far, all subscribers
together.
The stream mode listens only once every subscriber's stream is open, so a bench that can connect to the
port can start.

Run it with ``python -P bench/listen.py receiver|stream --port P [...]`` (``command`` builds the line).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import orjson

HOST = "127.0.0.1"
EVENTS_PATH = "/v2/emergency/servers/1/events"
RECEIVER_PATH = "/sonorancad/event"
# A subscriber whose stream the server closes reopens it at most this often.
MAX_REOPENS = 20


def now_ns() -> int:
    """The clock every bench process stamps events with (bench/pace.py's)."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


@dataclass
class Arrivals:
    """What one subscriber (or the receiver) got: call id → first arrival (ns), and what went wrong."""

    first: dict[int, int] = field(default_factory=dict)
    duplicates: int = 0
    out_of_order: int = 0
    reopened: int = 0
    last_event_id: int = 0

    def arrived(self, call_id: int, at: int, event_id: int | None = None) -> None:
        if call_id in self.first:
            self.duplicates += 1
        else:
            self.first[call_id] = at
        if event_id is not None:
            if event_id <= self.last_event_id:
                self.out_of_order += 1
            self.last_event_id = max(self.last_event_id, event_id)

    def report(self, first: int, last: int) -> dict[str, Any]:
        chosen = {call_id: at for call_id, at in self.first.items() if first <= call_id <= last}
        return {
            "arrivals": chosen,
            "duplicates": self.duplicates,
            "outOfOrder": self.out_of_order,
            "reopened": self.reopened,
        }


# -- a small HTTP/1.1 server: the receiver's POSTs and the bench's questions ----------------------------


async def serve_http(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handle: Callable[[str, str, bytes], bytes]
) -> None:
    """Answer requests on one keep-alive connection: ``handle(method, target, body)`` gives the JSON."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _version = lines[0].split(" ", 2)
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            body = await reader.readexactly(length) if length else b""
            answer = handle(method, target, body)
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                % (len(answer), answer)
            )
    except (asyncio.IncompleteReadError, ConnectionError):
        pass  # the peer hung up (the bench's readiness probe does without sending anything)
    finally:
        writer.close()


def control(subscribers: list[Arrivals], method: str, target: str) -> bytes:
    """The answer to the bench's ``GET /count`` and ``GET /arrivals?first=A&last=B``."""
    url = urlsplit(target)
    if method == "GET" and url.path == "/count":
        # Cheap, so asking while events still arrive does not delay their time stamps.
        return orjson.dumps({"arrivals": sum(len(each.first) for each in subscribers)})
    if method == "GET" and url.path == "/arrivals":
        query = parse_qs(url.query)
        first, last = int(query["first"][0]), int(query["last"][0])
        reports = [each.report(first, last) for each in subscribers]
        return orjson.dumps(reports, option=orjson.OPT_NON_STR_KEYS)
    return b'{"error":"unknown request"}'


def call_id_of(event: Any) -> int:
    """The call id of an EVENT_911's data, in the array shape or the object shape."""
    data = event[0] if isinstance(event, list) else event
    return int(data["call"]["callId"])


async def receive(port: int) -> None:
    """The push receiver and its control endpoint, on one port, until killed."""
    received = Arrivals()

    def handle(method: str, target: str, body: bytes) -> bytes:
        if method == "POST":
            at = now_ns()
            event = orjson.loads(body)
            if event.get("type") == "EVENT_911":
                received.arrived(call_id_of(event["data"]), at)
            return b"{}"
        return control([received], method, target)

    server = await asyncio.start_server(lambda r, w: serve_http(r, w, handle), HOST, port)
    async with server:
        await server.serve_forever()


# -- live-stream subscribers ---------------------------------------------------------------------------


class Subscriber(asyncio.Protocol):
    """One SSE stream over a raw connection: HTTP/1.1 chunked body, messages split on blank lines."""

    def __init__(self, request: bytes, arrivals: Arrivals, opened: asyncio.Future[None]) -> None:
        self.request = request
        self.arrivals = arrivals
        self.opened = opened
        self.closed: asyncio.Future[None] = opened.get_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.head = b""
        self.chunked = False
        self.raw = bytearray()  # the body as it came, chunk framing included
        self.text = bytearray()  # the SSE text, framing removed

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses of it
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        at = now_ns()
        if not self.opened.done():
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            status = self.head.split(b" ", 2)[1]
            if status != b"200":
                self.opened.set_exception(RuntimeError(f"the stream answered {self.head[:end]!r}"))
                return
            self.chunked = b"transfer-encoding: chunked" in self.head[:end].lower()
            data = self.head[end + 4 :]
            self.opened.set_result(None)
        if self.chunked:
            self.raw += data
            self._unchunk()
        else:
            self.text += data
        self._messages(at)

    def _unchunk(self) -> None:
        raw = self.raw
        while (end := raw.find(b"\r\n")) >= 0:
            size = int(bytes(raw[:end]).split(b";")[0], 16)
            if size == 0:  # the last chunk: the server ends the stream
                assert self.transport is not None
                self.transport.close()
                return
            if len(raw) < end + 2 + size + 2:
                return
            self.text += raw[end + 2 : end + 2 + size]
            del raw[: end + 4 + size]

    def _messages(self, at: int) -> None:
        text = self.text
        while (end := text.find(b"\n\n")) >= 0:
            event_id = event_type = data = None
            for line in bytes(text[:end]).split(b"\n"):
                name, _, value = line.partition(b":")
                if name == b"id":
                    event_id = int(value)
                elif name == b"event":
                    event_type = value.strip()
                elif name == b"data":
                    data = value
            del text[: end + 2]
            if event_type == b"EVENT_911" and data is not None:
                self.arrivals.arrived(call_id_of(orjson.loads(data)), at, event_id)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("the stream closed before its answer"))
        if not self.closed.done():
            self.closed.set_result(None)


def stream_request(host: str, port: int, key: str, last_event_id: int) -> bytes:
    resume = f"Last-Event-ID: {last_event_id}\r\n" if last_event_id else ""
    return (
        f"GET {EVENTS_PATH} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {key}\r\n"
        f"Accept: text/event-stream\r\n{resume}\r\n"
    ).encode()


async def subscribe(host: str, port: int, key: str, arrivals: Arrivals, ready: asyncio.Future[None]) -> None:
    """Keep one subscriber's stream open, reopening it where it left off when the server closes it."""
    loop = asyncio.get_running_loop()
    while True:
        opened: asyncio.Future[None] = loop.create_future()
        request = stream_request(host, port, key, arrivals.last_event_id)
        _transport, protocol = await loop.create_connection(
            functools.partial(Subscriber, request, arrivals, opened), host, port
        )
        await opened
        if not ready.done():
            ready.set_result(None)
        await protocol.closed
        if arrivals.reopened == MAX_REOPENS:
            raise RuntimeError(f"the server closed one subscriber's stream {MAX_REOPENS + 1} times")
        arrivals.reopened += 1


async def stream(port: int, target: str, key: str, subscribers: int) -> None:
    """Open every subscriber's stream, then serve the control endpoint until killed."""
    url = urlsplit(target)
    assert url.hostname is not None and url.port is not None
    loop = asyncio.get_running_loop()
    everyone = [Arrivals() for _ in range(subscribers)]
    readies = [loop.create_future() for _ in everyone]
    tasks = [
        asyncio.create_task(subscribe(url.hostname, url.port, key, arrivals, ready))
        for arrivals, ready in zip(everyone, readies, strict=True)
    ]
    # All streams open (or the first failure raised) before the bench may connect.
    await asyncio.wait_for(asyncio.gather(*readies), timeout=30)
    server = await asyncio.start_server(
        lambda r, w: serve_http(r, w, lambda method, target, _body: control(everyone, method, target)),
        HOST,
        port,
    )
    async with server:
        serving = asyncio.create_task(server.serve_forever())
        # A subscriber that gives up ends the process: the bench sees it go.
        done, _pending = await asyncio.wait([serving, *tasks], return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()


def command(mode: str, port: int, *, server: str = "", key: str = "", subscribers: int = 0) -> list[str]:
    """The command line of a listener: this file as a script (``-P``: bench/ stays off sys.path)."""
    argv = [sys.executable, "-P", str(Path(__file__).resolve()), mode, "--port", str(port)]
    if mode == "stream":
        argv += ["--server", server, "--key", key, "--subscribers", str(subscribers)]
    return argv


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["receiver", "stream"])
    parser.add_argument("--port", type=int, required=True, help="Port of the receiver / control endpoint.")
    parser.add_argument("--server", help="stream: the OpenDispatch server's URL, http://127.0.0.1:PORT.")
    parser.add_argument("--key", help="stream: the API key.")
    parser.add_argument("--subscribers", type=int, default=1, help="stream: how many streams to open.")
    args = parser.parse_args(argv)
    import uvloop

    if args.mode == "receiver":
        uvloop.run(receive(args.port))
    else:
        uvloop.run(stream(args.port, args.server, args.key, args.subscribers))


if __name__ == "__main__":
    main()
