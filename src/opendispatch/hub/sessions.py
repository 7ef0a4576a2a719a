"""Which hub connections receive which server's push events, and the leases that tell other processes."""

from __future__ import annotations

import asyncio
import logging
import secrets
from contextlib import suppress
from dataclasses import dataclass

from opendispatch.clock import Clock
from opendispatch.events.service import hold_sockets
from opendispatch.hub.protocol import HubConnection
from opendispatch.storage.database import Database

log = logging.getLogger(__name__)

# A process renews its sockets' rows this often, each for LEASE_MS: a process that died stops holding
# its game servers' events within a minute, and a socket that closed keeps its server's events waiting
# that long for the game server to connect again.
RENEW_SECONDS = 20.0
LEASE_MS = 60_000
SESSION = "session"  # where a connection's state keeps its HubSession


@dataclass(frozen=True, slots=True)
class HubSession:
    """An authenticated hub connection: its community, the key it proved, and its push server if any."""

    community_id: str
    api_key: str
    server_id: int | None


class PushSockets:
    """The authenticated connections that asked for a server's push events; the newest one receives them.

    A game server that reconnects opens its new connection before the old one is noticed gone, so the
    newest is the one alive. ``holder`` names this process in the shared lease table.
    """

    def __init__(self, holder: str | None = None) -> None:
        self.holder = holder or secrets.token_hex(8)
        self._by_server: dict[tuple[str, int], list[HubConnection]] = {}
        self._closed: set[tuple[str, int]] = set()  # servers whose last socket here closed since the lease
        self._changed = asyncio.Event()

    def add(self, community_id: str, server_id: int, connection: HubConnection) -> None:
        """Make ``connection`` the receiver of the server's push events."""
        connections = self._by_server.setdefault((community_id, server_id), [])
        if connection in connections:
            connections.remove(connection)
        connections.append(connection)
        self._changed.set()

    def remove(self, connection: HubConnection) -> None:
        """Forget ``connection`` (it closed, or authenticated again elsewhere)."""
        for key, connections in list(self._by_server.items()):
            if connection in connections:
                connections.remove(connection)
                if not connections:
                    del self._by_server[key]
                    self._closed.add(key)
                self._changed.set()

    def receiver(self, community_id: str, server_id: int) -> HubConnection | None:
        """The open connection that takes this server's push events, or None (then HTTP)."""
        key = (community_id, server_id)
        connections = self._by_server.get(key)
        if connections is None:
            return None
        while connections and connections[-1].closed.is_set():
            connections.pop()
        if not connections:  # closed before it was forgotten: forgotten now, as remove() does
            del self._by_server[key]
            self._closed.add(key)
            self._changed.set()
            return None
        return connections[-1]

    def servers(self) -> set[tuple[str, int]]:
        """The servers with an open receiving connection in this process."""
        return {key for key in list(self._by_server) if self.receiver(*key) is not None}

    async def lease(self, db: Database, clock: Clock, arrived: tuple[str, int] | None = None) -> None:
        """Write this process's leases now (a new socket is known before its server's next event).

        ``arrived`` is the server whose socket just authenticated: its events that waited go at once.
        """
        now = clock.now_ms()
        closed = set(self._closed)
        await db.write(
            hold_sockets,
            holder=self.holder,
            servers=self.servers(),
            closed=closed,
            now=now,
            until=now + LEASE_MS,
            arrived=arrived,
        )
        self._closed -= closed  # written: a socket closed meanwhile is written next time

    async def keep_leases(self, db: Database, clock: Clock) -> None:
        """Renew the leases until cancelled, and at once whenever a socket comes or goes."""
        while True:
            self._changed.clear()
            try:
                await self.lease(db, clock)
            except Exception:
                log.exception("renewing the hub sockets' leases failed; trying again")
            with suppress(TimeoutError):
                async with asyncio.timeout(RENEW_SECONDS):
                    await self._changed.wait()

    def __len__(self) -> int:
        return sum(len(connections) for connections in self._by_server.values())
