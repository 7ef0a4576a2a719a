"""A TCP proxy the test controls: it forwards a client to a server until told to cut, then resets both.

A cut is abrupt, as a network that fails is: every connection is reset (RST, no WebSocket close, no
FIN), and connections attempted while the proxy is cut are reset at once, until ``restore``.
``cut_on_message`` arms a cut for the moment the server next sends a message of some size: those bytes are
dropped, so the server wrote them and the client never reads them (a message in flight when the socket
died). Size, not content, tells it: the WebSocket frames are compressed (permessage-deflate).
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import Coroutine
from contextlib import suppress
from typing import Any


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset: linger on, zero seconds, so the kernel sends RST instead of FIN."""
    raw = writer.get_extra_info("socket")
    if raw is not None:
        with suppress(OSError):
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class TcpProxy:
    """Listens on a free loopback port and forwards each connection to ``upstream_port``."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.connections = 0  # connections forwarded so far
        self.cuts = 0  # cuts done (by cut() or an armed cut_on)
        self._armed_at: int | None = None  # the size of a server chunk that sets off an armed cut
        self._cut = False
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self.port = 0

    def start(self) -> TcpProxy:
        self._thread.start()
        self._server = self._run(asyncio.start_server(self._accept, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        self._run(self._cut_all(refuse=True))
        if self._server is not None:
            self._server.close()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self) -> None:
        """Reset every connection now, and refuse new ones until ``restore``."""
        self._run(self._cut_all(refuse=True))

    def restore(self) -> None:
        """Forward new connections again."""
        self._cut = False

    def cut_on_message(self, at_least: int) -> None:
        """Cut when the server next sends ``at_least`` bytes at once (a message, not a ping), dropping them;
        the client may connect again at once."""
        self._armed_at = at_least

    def _run(self, work: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=10)

    async def _cut_all(self, *, refuse: bool) -> None:
        self._cut = refuse
        self._armed_at = None
        self.cuts += 1
        for client, upstream in list(self._pairs):
            _reset(client)
            _reset(upstream)
        self._pairs.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._cut:
            _reset(writer)
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            _reset(writer)
            return
        self.connections += 1
        pair = (writer, upstream_writer)
        self._pairs.add(pair)
        await asyncio.gather(
            self._pump(reader, upstream_writer, pair, from_server=False),
            self._pump(upstream_reader, writer, pair, from_server=True),
        )

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
        *,
        from_server: bool,
    ) -> None:
        with suppress(OSError, asyncio.IncompleteReadError):
            while chunk := await reader.read(65536):
                if from_server and self._armed_at is not None and len(chunk) >= self._armed_at:
                    await self._cut_all(
                        refuse=False
                    )  # the chunk is never written: the client does not get it
                    return
                if pair not in self._pairs:
                    return  # cut meanwhile
                writer.write(chunk)
                await writer.drain()
        if pair in self._pairs:  # one side closed cleanly: close the other side the same way
            with suppress(OSError):
                writer.close()
