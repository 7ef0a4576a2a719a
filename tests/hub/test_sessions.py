"""The registry of push sockets: which connection receives a server's events, and what its lease says."""

from __future__ import annotations

import asyncio
from typing import cast

from opendispatch.events import service as events
from opendispatch.hub.protocol import HubConnection
from opendispatch.hub.sessions import PushSockets
from opendispatch.storage.database import Database
from tests.support import Community, ManualClock, Provisioner


class Socket:
    """What the registry reads of a connection: whether it closed."""

    def __init__(self) -> None:
        self.closed = asyncio.Event()


def connection() -> HubConnection:
    return cast(HubConnection, Socket())


def test_the_newest_open_connection_receives_and_a_closed_one_unforgotten_is_dropped() -> None:
    sockets = PushSockets(holder="here")
    old, new = connection(), connection()
    sockets.add("c", 1, old)
    sockets.add("c", 1, new)
    sockets.add("c", 2, connection())
    assert sockets.receiver("c", 1) is new
    new.closed.set()
    assert sockets.receiver("c", 1) is old
    old.closed.set()  # closed, and not yet forgotten (remove() not called): no receiver, no crash
    assert sockets.servers() == {("c", 2)}
    assert sockets.receiver("c", 1) is None


def test_a_socket_that_closed_leaves_a_waiting_lease_in_place_of_its_live_one(
    database_url: str, provision: Provisioner, community: Community
) -> None:
    server = (community.community_id, 1)

    async def lease_twice() -> tuple[dict[tuple[str, int], set[str]], dict[tuple[str, int], set[str]]]:
        db = Database(database_url)
        db.start()
        clock = ManualClock()
        try:
            sockets = PushSockets(holder="here")
            socket = connection()
            sockets.add(*server, socket)
            await sockets.lease(db, clock)
            open_rows = await db.read(events.socket_holders, now=clock.now_ms())
            socket.closed.set()
            sockets.remove(socket)
            await sockets.lease(db, clock)
            closed_rows = await db.read(events.socket_holders, now=clock.now_ms())
            return open_rows, closed_rows
        finally:
            await db.drain()
            db.close()

    open_rows, closed_rows = asyncio.run(lease_twice())
    assert open_rows == {server: {"here"}}
    assert closed_rows == {server: {"here" + events.WAITING}}
