"""Live unit positions: kept in memory, saved in batches, streamed coalesced to every process's viewers.

Positions are the highest-volume data a CAD gets (a busy game server reports each player several times a
second), so a position from the hub is neither its own transaction nor a push event: the latest one per
unit waits here, is saved with the others every ``save_seconds``, and reaches the live streams of its
server (the v2 event stream and the console) as a ``unit_positions`` frame, at most one per server every
``FRAME_SECONDS``. With PostgreSQL the same frames go to the other server processes as NOTIFY.

A position not yet saved when the process dies is lost; the game server sends the next one within a second.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Iterable, Mapping, Sequence

import orjson
from sqlalchemy import Connection

from opendispatch.events.service import POSITIONS_CHANNEL
from opendispatch.events.tasks import StreamBroker
from opendispatch.storage.database import Database, notify
from opendispatch.units.schemas import UnitPosition
from opendispatch.units.service import store_positions

log = logging.getLogger(__name__)

FRAME_SECONDS = 0.25  # at most one frame per server (so per unit) this often
NOTIFY_BYTES = 7000
SAVE_ROWS = (
    200  # positions written per transaction  # PostgreSQL refuses a NOTIFY payload of 8000 bytes or more
)
SSE_EVENT = b"unit_positions"

ServerKey = tuple[str, int]


def sse_frame(data: bytes) -> bytes:
    """A ``unit_positions`` Server-Sent Event with no id: positions are not events to resume from."""
    return b"event: " + SSE_EVENT + b"\ndata: " + data + b"\n\n"


def frame_data(server_id: int, units: Iterable[UnitPosition]) -> bytes:
    """The JSON of one frame: the server and its units' latest positions."""
    return orjson.dumps({"serverId": server_id, "units": [unit.as_json() for unit in units]})


def save_and_announce(
    conn: Connection, *, unsaved: Mapping[str, Sequence[UnitPosition]], notices: Sequence[str]
) -> None:
    """Save each community's latest positions and send the frames due to the other processes."""
    for community_id, positions in unsaved.items():
        store_positions(conn, community_id=community_id, positions=positions)
    for payload in notices:
        notify(conn, POSITIONS_CHANNEL, payload)


class TargetCache:
    """Which units a connection's reports named lately: a game server names the same players every call.

    An entry is kept ``seconds`` (a player who changes unit moves the new one within that time) and the
    cache holds at most ``size`` of them (a client naming ever new targets only gets more reads).
    """

    def __init__(self, seconds: float = 5.0, size: int = 512) -> None:
        self.seconds = seconds
        self.size = size
        self._entries: dict[tuple[object, ...], tuple[float, list[int]]] = {}

    def get(self, key: tuple[object, ...], now: float) -> list[int] | None:
        """The units a target named, if learnt less than ``seconds`` ago."""
        entry = self._entries.get(key)
        if entry is None or now - entry[0] >= self.seconds:
            return None
        return entry[1]

    def put(self, key: tuple[object, ...], idents: list[int], now: float) -> None:
        """Remember what a target named now."""
        if len(self._entries) >= self.size:
            self._entries.clear()
        self._entries[key] = (now, idents)


class LivePositions:
    """The latest unit positions placed through this process, until saved and streamed."""

    def __init__(self, db: Database, broker: StreamBroker, *, save_seconds: float) -> None:
        self.db = db
        self.broker = broker
        self.save_seconds = save_seconds
        self.origin = secrets.token_hex(8)  # this process, so it skips its own notices
        self._fleet = not db.is_sqlite
        self._unsent: dict[ServerKey, dict[int, UnitPosition]] = {}
        self._sent_at: dict[ServerKey, float] = {}
        self._scheduled: set[ServerKey] = set()
        self._unsaved: dict[str, dict[int, UnitPosition]] = {}
        self._notices: list[str] = []
        self._publishing = False

    def placed(
        self, community_id: str, server_id: int, positions: Sequence[UnitPosition], *, saved: bool
    ) -> None:
        """Units moved: stream them, and save them later unless the caller's transaction already did."""
        if not positions:
            return
        key = (community_id, server_id)
        unsent = self._unsent.setdefault(key, {})
        for position in positions:
            unsent[position.ident_id] = position
        if not saved:
            unsaved = self._unsaved.setdefault(community_id, {})
            for position in positions:
                unsaved[position.ident_id] = position
        if key not in self._scheduled:
            self._scheduled.add(key)
            loop = asyncio.get_running_loop()
            due = self._sent_at.get(key, 0.0) + FRAME_SECONDS
            loop.call_at(max(due, loop.time()), self._send, key)

    def committed(self, moves: set[tuple[str, int, tuple[UnitPosition, ...]]]) -> None:
        """Positions a request stored (the ``UNITS_MOVED`` commit topic): stream them."""
        for community_id, server_id, positions in moves:
            self.placed(community_id, server_id, positions, saved=True)

    def heard(self, payload: str) -> None:
        """A frame from another process (a NOTIFY payload): hand it to this process's streams."""
        origin, community_id, server, data = payload.split("\t", 3)
        if origin != self.origin and server.isdigit():
            self.broker.hand_out_frame((community_id, int(server)), sse_frame(data.encode()))

    def _send(self, key: ServerKey) -> None:
        self._scheduled.discard(key)
        self._sent_at[key] = asyncio.get_running_loop().time()
        positions = list(self._unsent.pop(key, {}).values())
        if len(self._sent_at) > 4096:
            self._forget_quiet_servers()
        if not positions:
            return
        if self.broker.follows(key):
            self.broker.hand_out_frame(key, sse_frame(frame_data(key[1], positions)))
        if self._fleet:
            self._announce(key, positions)

    def _forget_quiet_servers(self) -> None:
        # Bounded memory: a server that sent nothing for a while needs no gate.
        horizon = asyncio.get_running_loop().time() - FRAME_SECONDS
        self._sent_at = {key: at for key, at in self._sent_at.items() if at > horizon}

    def _announce(self, key: ServerKey, positions: list[UnitPosition]) -> None:
        community_id, server_id = key
        head = f"{self.origin}\t{community_id}\t{server_id}\t"
        chunk: list[UnitPosition] = []
        size = len(head) + 32
        for position in positions:
            # An upper bound of one unit's JSON: ids, four numbers and 255 characters of location.
            cost = 160 + len(position.location.encode()) * 2
            if chunk and size + cost > NOTIFY_BYTES:
                self._notices.append(head + frame_data(server_id, chunk).decode())
                chunk, size = [], len(head) + 32
            chunk.append(position)
            size += cost
        self._notices.append(head + frame_data(server_id, chunk).decode())
        if not self._publishing:
            self._publishing = True
            asyncio.get_running_loop().create_task(self._publish())

    async def _publish(self) -> None:
        # Frames that pile up while one NOTIFY transaction is out go together in the next.
        try:
            while self._notices:
                notices, self._notices = self._notices, []
                await self.db.write(save_and_announce, unsaved={}, notices=notices)
        except Exception:
            log.warning("sending unit positions to the other processes failed", exc_info=True)
            self._notices.clear()  # positions are superseded within a second; never pile them up
        finally:
            self._publishing = False

    async def save(self) -> None:
        """Write the positions placed since the last save, SAVE_ROWS to a transaction.

        Small transactions let the requests' own writes go between them rather than wait for them all.
        """
        unsaved, self._unsaved = self._unsaved, {}
        batches = [
            {community_id: rows[start : start + SAVE_ROWS]}
            for community_id, positions in unsaved.items()
            for rows in [list(positions.values())]
            for start in range(0, len(rows), SAVE_ROWS)
        ]
        for batch in batches:
            try:
                await self.db.write(save_and_announce, unsaved=batch, notices=[])
            except Exception:
                log.warning("saving unit positions failed; trying again", exc_info=True)
                for community_id, positions in batch.items():
                    newer = self._unsaved.setdefault(community_id, {})
                    self._unsaved[community_id] = {p.ident_id: p for p in positions} | newer

    async def save_forever(self) -> None:
        """Save every ``save_seconds``; on cancel, save what is left once more."""
        try:
            while True:
                await asyncio.sleep(self.save_seconds)
                await self.save()
        finally:
            await asyncio.shield(self.save())
