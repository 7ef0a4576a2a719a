"""Which hub connections receive which server's push events, in this process."""

from __future__ import annotations

from dataclasses import dataclass

from opendispatch.hub.protocol import HubConnection


@dataclass(frozen=True, slots=True)
class HubSession:
    """An authenticated hub connection: its community, the key it proved, and its push server if any."""

    community_id: str
    api_key: str
    server_id: int | None


class PushSockets:
    """The authenticated connections that asked for a server's push events; the newest one receives them.

    A game server that reconnects opens its new connection before the old one is noticed gone, so the
    newest is the one alive.
    """

    def __init__(self) -> None:
        self._by_server: dict[tuple[str, int], list[HubConnection]] = {}

    def add(self, community_id: str, server_id: int, connection: HubConnection) -> None:
        """Make ``connection`` the receiver of the server's push events."""
        connections = self._by_server.setdefault((community_id, server_id), [])
        if connection in connections:
            connections.remove(connection)
        connections.append(connection)

    def remove(self, connection: HubConnection) -> None:
        """Forget ``connection`` (it closed, or authenticated again elsewhere)."""
        for key, connections in list(self._by_server.items()):
            if connection in connections:
                connections.remove(connection)
                if not connections:
                    del self._by_server[key]

    def receiver(self, community_id: str, server_id: int) -> HubConnection | None:
        """The open connection that takes this server's push events, or None (then HTTP)."""
        connections = self._by_server.get((community_id, server_id), [])
        while connections and connections[-1].closed.is_set():
            connections.pop()
        return connections[-1] if connections else None

    def __len__(self) -> int:
        return sum(len(connections) for connections in self._by_server.values())
