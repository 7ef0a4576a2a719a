"""The floor: the least a request that stores something can cost on OpenDispatch's server stack.

A bare ASGI callable (no framework, no validation, no auth) served by uvicorn with the settings
``opendispatch serve`` uses (uvloop, httptools, no access log, proxy headers off). Each request's body is
read, stored with one INSERT on a sqlite3 connection in WAL mode with ``synchronous=FULL`` (the server's
durability: the answer comes after the commit), autocommitted because ``isolation_level=None``, and
answered with a small JSON object.

Serve it with ``python bench/floor.py --port P --database FILE`` (``command`` builds that line).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import uvicorn

# The uvicorn settings `opendispatch serve` runs with, spelled out (its "auto" picks these two).
SERVER_STACK: dict[str, Any] = {
    "loop": "uvloop",
    "http": "httptools",
    "access_log": False,
    "proxy_headers": False,
    "log_level": "warning",
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL
)
"""
_INSERT = "INSERT INTO requests (body, created_at) VALUES (?, ?)"


def connect(path: str) -> sqlite3.Connection:
    """A connection on which every statement commits on its own, durably, in WAL mode."""
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute(_SCHEMA)
    return connection


class FloorApp:
    """ASGI app: one INSERT per HTTP request, whatever the method and path."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.connection: sqlite3.Connection | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._request(receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.connection = connect(self.database)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.connection is not None:
                    self.connection.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _request(self, receive: Any, send: Any) -> None:
        chunks = []
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        assert self.connection is not None, "lifespan startup opens the connection"
        body = b"".join(chunks).decode("utf-8", "replace")
        row_id = self.connection.execute(_INSERT, (body, time.time_ns() // 1_000_000)).lastrowid
        answer = b'{"id":%d}' % row_id
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(answer))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})


def command(port: int, database: Path) -> list[str]:
    """The command line that serves the floor app: this file as a script, so from any directory.

    ``-P`` keeps ``bench/`` off ``sys.path``, where its modules could shadow installed ones.
    """
    return [
        sys.executable,
        "-P",
        str(Path(__file__).resolve()),
        "--port",
        str(port),
        "--database",
        str(database),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database", required=True, help="SQLite file path.")
    args = parser.parse_args(argv)
    uvicorn.run(FloorApp(args.database), host=args.host, port=args.port, lifespan="on", **SERVER_STACK)


if __name__ == "__main__":
    main()
