"""The ASP.NET Core SignalR hub protocol (JSON, over WebSockets), as the official JavaScript client speaks it.

The wire only: negotiation, the handshake, records separated by 0x1E, invocations both ways, completions,
pings and close. What the hub's methods do lives elsewhere; they are handed in as a table of coroutines.

Written here because no well-kept Python library serves this protocol (the one server-side package found,
``aiosignalr`` 0.1, was four months old with two releases and brings its own HTTP stack). The behaviour
follows Microsoft's "SignalR Hub Protocol" and "Transport Protocols" specifications, with ASP.NET Core's
defaults: the server pings every 15 s, drops a client it has not heard for 30 s, waits 15 s for the
handshake, reads messages of at most 32 KiB, runs one invocation of a connection at a time, and offers
no stateful reconnect (the in-game resource must not be offered it).
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from enum import IntEnum
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

log = logging.getLogger(__name__)

RECORD_SEPARATOR = "\x1e"
KEEP_ALIVE_SECONDS = 15.0
CLIENT_TIMEOUT_SECONDS = 30.0
HANDSHAKE_TIMEOUT_SECONDS = 15.0
MAX_MESSAGE_CHARS = 32 * 1024
# What the official clients (JavaScript under Node.js, .NET, Java) send as User-Agent. From version 7 they
# answer an invocation that carries an id (client results); older ones close the connection on one, and
# a browser's WebSocket sends no such header: those get invocations without an id, unanswered.
CLIENT_AGENT = re.compile(r"Microsoft SignalR/(\d{1,4})\.")
FIRST_ANSWERING_VERSION = 7


class MessageType(IntEnum):
    """The ``type`` of a hub message."""

    INVOCATION = 1
    STREAM_ITEM = 2
    COMPLETION = 3
    STREAM_INVOCATION = 4
    CANCEL_INVOCATION = 5
    PING = 6
    CLOSE = 7
    ACK = 8
    SEQUENCE = 9


class HubError(Exception):
    """Raised by a hub method: the client's invocation fails with this message (a ``HubException``)."""


class ProtocolError(Exception):
    """The client broke the protocol; the connection is closed with this reason."""


HubMethod = Callable[["HubConnection", list[Any]], Awaitable[Any]]
# Whether a connection has proved who it is (the hub's methods decide how); one that has not by the
# deadline is closed, so an idle socket holds no descriptor for long.
Admitted = Callable[["HubConnection"], bool]


def negotiation(negotiate_version: int) -> dict[str, Any]:
    """The answer to ``POST <hub>/negotiate``: a new connection id, and WebSockets as the only transport.

    The token is not remembered: with several server processes the WebSocket may reach another process
    than the negotiation did, and over WebSockets the token names nothing the server needs.
    """
    answer: dict[str, Any] = {
        "connectionId": secrets.token_urlsafe(16),
        "availableTransports": [{"transport": "WebSockets", "transferFormats": ["Text"]}],
    }
    if negotiate_version >= 1:
        answer = {"negotiateVersion": 1, **answer, "connectionToken": secrets.token_urlsafe(16)}
    return answer


def encode(message: Mapping[str, Any]) -> str:
    """One record: the message as JSON followed by the record separator."""
    return orjson.dumps(message).decode() + RECORD_SEPARATOR


class RecordReader:
    """Splits the text frames of a connection into whole JSON records, however the frames cut them."""

    def __init__(self, max_chars: int = MAX_MESSAGE_CHARS) -> None:
        self.max_chars = max_chars
        self._partial = ""

    def feed(self, text: str) -> list[Any]:
        """The records completed by ``text``, decoded; ProtocolError for a record too long or not JSON."""
        *complete, self._partial = (self._partial + text).split(RECORD_SEPARATOR)
        if len(self._partial) > self.max_chars or any(len(record) > self.max_chars for record in complete):
            raise ProtocolError(f"A message was longer than {self.max_chars} characters.")
        try:
            return [orjson.loads(record) for record in complete]
        except orjson.JSONDecodeError as exc:
            raise ProtocolError("A message was not valid JSON.") from exc


class HubConnection:
    """One client on the hub: its handshake, its invocations of ``methods``, and messages sent to it.

    ``state`` holds what the methods remember about the connection (say, who authenticated).
    """

    def __init__(
        self,
        websocket: WebSocket,
        methods: Mapping[str, HubMethod],
        *,
        keep_alive: float = KEEP_ALIVE_SECONDS,
        client_timeout: float = CLIENT_TIMEOUT_SECONDS,
        handshake_timeout: float = HANDSHAKE_TIMEOUT_SECONDS,
        admitted: Admitted | None = None,
        admit_within: float = 0.0,
    ) -> None:
        self.websocket = websocket
        self.admitted = admitted
        self.admit_within = admit_within
        self.methods = {name.lower(): method for name, method in methods.items()}
        self.keep_alive = keep_alive
        self.client_timeout = client_timeout
        self.handshake_timeout = handshake_timeout
        self.state: dict[str, Any] = {}
        self.closed = asyncio.Event()
        self.answers_invocations = answers_invocations(websocket)
        self._send_lock = asyncio.Lock()
        self._reader = RecordReader()
        self._invocations = 0
        self._unanswered: dict[str, asyncio.Future[None]] = {}

    async def serve(self) -> None:
        """Accept the socket, run the handshake, then answer invocations until either side closes."""
        await self.websocket.accept()
        pinging: asyncio.Task[None] | None = None
        admitting: asyncio.Task[None] | None = None
        try:
            pending = await self._handshake()
            pinging = asyncio.create_task(self._ping_forever())
            if self.admitted is not None:
                admitting = asyncio.create_task(self._close_unless_admitted(self.admitted))
            for message in pending:
                await self._handle(message)
            while True:
                for message in await self._receive(self.client_timeout):
                    await self._handle(message)
        except _ClientClosed:
            pass
        except TimeoutError:
            await self.close("Server timeout elapsed without receiving a message from the client.")
        except ProtocolError as exc:
            await self.close(str(exc), allow_reconnect=False)
        finally:
            for unanswered in self._unanswered.values():
                if not unanswered.done():
                    unanswered.set_exception(ConnectionError("the hub connection closed before an answer"))
            for task in (pinging, admitting):
                if task is not None:
                    task.cancel()
                    with suppress(asyncio.CancelledError):
                        await task
            if not self.closed.is_set():
                self.closed.set()
                with suppress(RuntimeError, WebSocketDisconnect, OSError):
                    await self.websocket.close()

    async def send(self, target: str, *arguments: Any) -> None:
        """Invoke ``target`` on the client without waiting for an answer; ConnectionError once closed."""
        await self._write({"type": MessageType.INVOCATION, "target": target, "arguments": list(arguments)})

    async def invoke(self, target: str, *arguments: Any, timeout: float) -> None:
        """Invoke ``target`` on the client and wait for its answer, which proves the message arrived.

        Any answer counts, an error too (the client ran its handler, or has none). ConnectionError when
        the connection closes first, TimeoutError when ``timeout`` passes; for a client that does not
        answer invocations (``answers_invocations``), use ``send``.
        """
        self._invocations += 1
        invocation_id = str(self._invocations)
        answered = asyncio.get_running_loop().create_future()
        self._unanswered[invocation_id] = answered
        try:
            await self._write(
                {
                    "type": MessageType.INVOCATION,
                    "invocationId": invocation_id,
                    "target": target,
                    "arguments": list(arguments),
                }
            )
            async with asyncio.timeout(timeout):
                await answered
        finally:
            del self._unanswered[invocation_id]

    async def close(self, error: str | None = None, *, allow_reconnect: bool = True) -> None:
        """Tell the client why (a Close message), then close the socket."""
        if self.closed.is_set():
            return
        message: dict[str, Any] = {"type": MessageType.CLOSE}
        if error is not None:
            message["error"] = error
            message["allowReconnect"] = allow_reconnect
        with suppress(ConnectionError):
            await self._write(message)
        with suppress(RuntimeError, WebSocketDisconnect, OSError):
            await self.websocket.close()
        self.closed.set()

    # -- the connection's own work -------------------------------------------------------------------

    async def _handshake(self) -> list[Any]:
        records = await self._receive(self.handshake_timeout)
        while not records:
            records = await self._receive(self.handshake_timeout)
        request, *rest = records
        if not isinstance(request, dict) or request.get("protocol") != "json":
            protocol = request.get("protocol") if isinstance(request, dict) else None
            error = f"The protocol '{protocol}' is not supported." if protocol else "Handshake was canceled."
            await self._write_raw(encode({"error": error}))
            raise ProtocolError(error)
        if request.get("version") != 1:
            error = f"The server does not support version {request.get('version')} of the 'json' protocol."
            await self._write_raw(encode({"error": error}))
            raise ProtocolError(error)
        await self._write_raw(encode({}))
        return rest

    async def _receive(self, timeout: float) -> list[Any]:
        async with asyncio.timeout(timeout):
            frame = await self.websocket.receive()
        if frame["type"] == "websocket.disconnect":
            raise _ClientClosed
        text = frame.get("text")
        if text is None:
            raise ProtocolError("This hub speaks the JSON protocol in text frames only.")
        return self._reader.feed(text)

    async def _handle(self, message: Any) -> None:
        if not isinstance(message, dict) or not isinstance(message.get("type"), int):
            raise ProtocolError("A message had no type.")
        kind = message["type"]
        if kind == MessageType.INVOCATION:
            await self._invoke(message)
        elif kind == MessageType.STREAM_INVOCATION:
            await self._complete(message.get("invocationId"), error="Streaming is not supported by this hub.")
        elif kind == MessageType.CLOSE:
            raise _ClientClosed
        elif kind == MessageType.COMPLETION:
            answered = self._unanswered.get(str(message.get("invocationId")))
            if answered is not None and not answered.done():
                answered.set_result(None)
        elif kind in (MessageType.PING, MessageType.CANCEL_INVOCATION):
            pass  # a ping only proves the client is there; nothing is ever streamed
        else:
            raise ProtocolError(f"Message type {kind} is not supported by this hub.")

    async def _invoke(self, message: dict[str, Any]) -> None:
        target = message.get("target")
        arguments = message.get("arguments", [])
        invocation_id = message.get("invocationId")
        if not isinstance(target, str) or not isinstance(arguments, list):
            raise ProtocolError("An invocation had no target or no argument list.")
        method = self.methods.get(target.lower())
        if method is None:
            failed = f"Failed to invoke '{target}' due to an error on the server."
            await self._complete(invocation_id, error=failed + " HubException: Method does not exist.")
            return
        try:
            result = await method(self, arguments)
        except HubError as exc:
            error = f"An unexpected error occurred invoking '{target}' on the server. HubException: {exc}"
            await self._complete(invocation_id, error=error)
        except Exception:
            log.exception("hub method %s failed", target)
            await self._complete(
                invocation_id, error=f"An unexpected error occurred invoking '{target}' on the server."
            )
        else:
            await self._complete(invocation_id, result=result)

    async def _complete(self, invocation_id: Any, *, result: Any = None, error: str | None = None) -> None:
        if invocation_id is None:
            return  # sent without an id: the client waits for no answer
        message: dict[str, Any] = {"type": MessageType.COMPLETION, "invocationId": invocation_id}
        if error is not None:
            message["error"] = error
        elif result is not None:
            message["result"] = result
        await self._write(message)

    async def _close_unless_admitted(self, admitted: Admitted) -> None:
        await asyncio.sleep(self.admit_within)
        if not admitted(self):
            await self.close(f"Not authenticated within {self.admit_within:g} seconds of connecting.")

    async def _ping_forever(self) -> None:
        with suppress(ConnectionError):
            while True:
                await asyncio.sleep(self.keep_alive)
                await self._write({"type": MessageType.PING})

    async def _write(self, message: Mapping[str, Any]) -> None:
        await self._write_raw(encode(message))

    async def _write_raw(self, record: str) -> None:
        if self.closed.is_set():
            raise ConnectionError("the hub connection is closed")
        async with self._send_lock:
            try:
                await self.websocket.send_text(record)
            except (RuntimeError, WebSocketDisconnect, OSError) as exc:
                self.closed.set()
                raise ConnectionError("the hub connection is closed") from exc


def answers_invocations(websocket: WebSocket) -> bool:
    """Whether the client says it is an official client that answers an invocation with an id."""
    agent = websocket.headers.get("user-agent") or websocket.headers.get("x-signalr-user-agent") or ""
    found = CLIENT_AGENT.match(agent)
    return found is not None and int(found[1]) >= FIRST_ANSWERING_VERSION


def hub_routes(
    path: str,
    methods: Mapping[str, HubMethod],
    on_close: Callable[[HubConnection], None] | None = None,
    *,
    max_connections: int | None = None,
    admitted: Admitted | None = None,
    **timeouts: float,
) -> list[BaseRoute]:
    """A hub's negotiation and WebSocket routes at ``path``; ``on_close`` runs as each connection ends.

    At most ``max_connections`` sockets are open at once (in this process): one more is refused before it
    is accepted (HTTP 403; its negotiation a 503); with ``admitted``, a socket that is not admitted within
    ``admit_within`` seconds of its handshake is closed.
    """
    open_now: set[HubConnection] = set()

    def full() -> bool:
        return max_connections is not None and len(open_now) >= max_connections

    async def negotiate(request: Request) -> JSONResponse:
        if full():
            return JSONResponse({"error": "The hub holds all the connections it may; try again."}, 503)
        version = request.query_params.get("negotiateVersion", "0")
        # Digits only, and few: "²" passes str.isdigit, and int() refuses it.
        known = version.isascii() and version.isdigit() and len(version) < 4
        return JSONResponse(negotiation(int(version) if known else 0))

    async def connect(websocket: WebSocket) -> None:
        if full():
            log.warning("hub refused a connection: %d open, the most it may hold", len(open_now))
            await websocket.close(code=1013)  # before accepting: the client sees the upgrade refused
            return
        connection = HubConnection(websocket, methods, admitted=admitted, **timeouts)
        open_now.add(connection)
        try:
            await connection.serve()
        finally:
            open_now.discard(connection)
            if on_close is not None:
                on_close(connection)

    return [Route(path + "/negotiate", negotiate, methods=["POST"]), WebSocketRoute(path, connect)]


class _ClientClosed(Exception):
    """The client closed the socket or sent Close."""
