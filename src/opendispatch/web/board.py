"""The dispatcher's board: the 911 queue and calls as the console shows them, where calls are, and the
units nearest to them.

Every change a dispatcher makes goes through the same call and unit services as the API; this module
only adds what the console needs around them. It takes the connection and never commits.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from contextlib import suppress
from typing import Any

from sqlalchemy import Connection, select

from opendispatch.calls import service as calls
from opendispatch.calls.models import dispatch_calls, emergency_calls
from opendispatch.calls.schemas import (
    MAX_CALL_BYTES,
    MAX_IDENTS_BYTES,
    CallStatus,
    CallTableType,
    DispatchCall,
    EmergencyCall,
    UnitsAttached,
)
from opendispatch.communities.service import server_heartbeat
from opendispatch.errors import Conflict, NotFound
from opendispatch.history import service as history
from opendispatch.history.schemas import Actor
from opendispatch.maps import service as maps
from opendispatch.maps.schemas import MAX_BLIP_BYTES, MAX_BLIPS_PER_SERVER
from opendispatch.units import service as units
from opendispatch.units.schemas import MAX_UNIT_BYTES, Targets, UnitStatus
from opendispatch.web.maps import (
    dispatch_place,
    emergency_place,
    locate_call,
    map_info,
    place_calls,
    require_point,
)
from opendispatch.web.schemas import (
    Board,
    CallDetail,
    ConsoleDispatchCall,
    ConsoleEmergencyCall,
    ConsoleNewDispatchCall,
    DispatchDraft,
    NearestUnit,
    NearestUnits,
)

# What one read of the board holds at most (docs/api.md, "Limits"): the newest calls of the queue and of
# the open calls, and the units by id; each list says how many more there are. Closed calls come in
# pages (MAX_CLOSED_PAGE). A console reads the board at most BOARD_READS_PER_MINUTE times a minute per
# session: a burst of events costs one read, not one each (the console waits a moment before reading).
MAX_CALLS_ON_BOARD = 50
MAX_CLOSED_ON_BOARD = 25  # closed calls in one page of the board (the console reads 10)
MAX_UNITS_ON_BOARD = 500
BOARD_READS_PER_MINUTE = 120
# One read of the board at its largest: its calls (with what the console adds to each: times, where it
# is, the calls made from it), its units, the server's blips and the map's settings.
MAX_BOARD_BYTES = (
    (2 * MAX_CALLS_ON_BOARD + MAX_CLOSED_ON_BOARD) * (MAX_CALL_BYTES + MAX_IDENTS_BYTES + 1024)
    + MAX_UNITS_ON_BOARD * MAX_UNIT_BYTES
    + MAX_BLIPS_PER_SERVER * MAX_BLIP_BYTES
    + 8 * 1024
)


# -- the units nearest to a call ------------------------------------------------------------------------


def nearest_units(
    conn: Connection,
    *,
    community_id: str,
    server_id: int,
    call_id: int,
    limit: int = 10,
    dispatch_only: bool = False,
) -> NearestUnits:
    """Available units (status AVAILABLE, on no open call) with coordinates, nearest to the call first.

    Distance is straight-line on the map plane (x, y) from each unit's last reported coordinates;
    ties go to the lower identId. 409 when the call has no x/y.
    """
    located = locate_call(conn, community_id=community_id, server_id=server_id, call_id=call_id)
    if dispatch_only and located.kind != calls.DISPATCH:
        raise NotFound(f"Dispatch call {call_id} does not exist on server {server_id}.")
    point = require_point(located)
    listed = units.list_units(
        conn,
        community_id=community_id,
        server_id=server_id,
        include_offline=False,
        limit=10_000,
        offset=0,
    )
    ranked = sorted(
        (
            NearestUnit(
                identId=unit.identId,
                unitNum=unit.unitNum,
                name=unit.name,
                department=unit.department,
                status=unit.status,
                coordinates=unit.coordinates,
                distance=round(math.hypot(unit.coordinates.x - point.x, unit.coordinates.y - point.y), 1),
            )
            for unit in listed.units
            if unit.status == UnitStatus.AVAILABLE and unit.callId is None and unit.coordinates is not None
        ),
        key=lambda unit: (unit.distance, unit.identId),
    )
    return NearestUnits(callId=call_id, x=point.x, y=point.y, units=ranked[:limit])


def attach_nearest(
    conn: Connection, *, community_id: str, server_id: int, call_id: int, now: int, actor: Actor
) -> UnitsAttached:
    """Attach the nearest available unit to a dispatch call (409 when none has coordinates)."""
    nearest = nearest_units(
        conn, community_id=community_id, server_id=server_id, call_id=call_id, limit=1, dispatch_only=True
    )
    if not nearest.units:
        raise Conflict("No available unit has reported coordinates on this server.")
    return calls.attach_to_call(
        conn,
        community_id=community_id,
        server_id=server_id,
        call_id=call_id,
        targets=Targets(identIds=[nearest.units[0].identId]),
        now=now,
        actor=actor,
    )


# -- the board -------------------------------------------------------------------------------------------


def _times(conn: Connection, table: Any, community_id: str, call_ids: Sequence[int]) -> dict[int, Any]:
    if not call_ids:
        return {}
    columns = [table.c.call_id, table.c.created_at]
    if table is dispatch_calls:
        columns += [dispatch_calls.c.closed_at, dispatch_calls.c.source_call_id]
    rows = conn.execute(
        select(*columns).where(table.c.community_id == community_id, table.c.call_id.in_(list(call_ids)))
    )
    return {row.call_id: row for row in rows}


def _dispatched_from(conn: Connection, community_id: str, call_ids: Sequence[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    if not call_ids:
        return found
    rows = conn.execute(
        select(dispatch_calls.c.source_call_id, dispatch_calls.c.call_id)
        .where(
            dispatch_calls.c.community_id == community_id,
            dispatch_calls.c.source_call_id.in_(list(call_ids)),
            dispatch_calls.c.removed_at.is_(None),
        )
        .order_by(dispatch_calls.c.call_id)
    )
    for row in rows:
        found.setdefault(row.source_call_id, []).append(row.call_id)
    return found


def console_emergency_calls(
    conn: Connection, community_id: str, found: Iterable[EmergencyCall]
) -> list[ConsoleEmergencyCall]:
    """911 calls with their arrival time and the dispatch calls made from them, newest first."""
    found = list(found)
    ids = [call.callId for call in found]
    times = _times(conn, emergency_calls, community_id, ids)
    dispatched = _dispatched_from(conn, community_id, ids)
    points = place_calls(conn, community_id, [emergency_place(call) for call in found])
    enriched = [
        ConsoleEmergencyCall(
            **call.model_dump(),
            createdMs=times[call.callId].created_at,
            dispatchCallIds=dispatched.get(call.callId, []),
            point=point,
        )
        for call, point in zip(found, points, strict=True)
    ]
    return sorted(enriched, key=lambda call: (call.createdMs, call.callId), reverse=True)


def console_dispatch_calls(
    conn: Connection, community_id: str, found: Iterable[DispatchCall]
) -> list[ConsoleDispatchCall]:
    """Dispatch calls with when they were opened and closed and the 911 call they came from."""
    found = list(found)
    times = _times(conn, dispatch_calls, community_id, [call.callId for call in found])
    points = place_calls(conn, community_id, [dispatch_place(call) for call in found])
    return [
        ConsoleDispatchCall(
            **call.model_dump(),
            createdMs=times[call.callId].created_at,
            closedMs=times[call.callId].closed_at,
            sourceCallId=times[call.callId].source_call_id,
            point=point,
        )
        for call, point in zip(found, points, strict=True)
    ]


def board(
    conn: Connection, *, community_id: str, server_id: int, closed_limit: int, closed_offset: int, now: int
) -> Board:
    """The 911 queue (newest first), open dispatch calls, a page of closed calls, units, the map and its
    blips."""
    listing = calls.list_calls(
        conn,
        community_id=community_id,
        server_id=server_id,
        table_type=CallTableType.SEARCH_ALL,
        closed_limit=closed_limit,
        closed_offset=closed_offset,
    )
    on_server = units.list_units(
        conn,
        community_id=community_id,
        server_id=server_id,
        include_offline=True,
        limit=MAX_UNITS_ON_BOARD,
        offset=0,
    )
    # Newest first: the call that just came in is the one a dispatcher must see.
    active = sorted(listing.activeCalls, key=lambda call: call.callId, reverse=True)
    queue = sorted(listing.emergencyCalls, key=lambda call: call.callId, reverse=True)
    return Board(
        serverId=server_id,
        nowMs=now,
        emergencyCalls=console_emergency_calls(conn, community_id, queue[:MAX_CALLS_ON_BOARD]),
        emergencyMore=max(0, len(queue) - MAX_CALLS_ON_BOARD),
        activeCalls=console_dispatch_calls(conn, community_id, active[:MAX_CALLS_ON_BOARD]),
        activeMore=max(0, len(active) - MAX_CALLS_ON_BOARD),
        closedCalls=console_dispatch_calls(conn, community_id, listing.closedCalls),
        closedCallCount=listing.closedCallCount,
        closedOffset=closed_offset,
        closedLimit=closed_limit,
        units=on_server.units,
        unitsMore=max(0, on_server.total - len(on_server.units)),
        map=map_info(conn, community_id=community_id, server_id=server_id),
        blips=maps.list_blips(conn, community_id=community_id, server_id=server_id),
        heartbeat=server_heartbeat(conn, community_id=community_id, server_id=server_id),
    )


def call_detail(conn: Connection, *, community_id: str, server_id: int, call_id: int) -> CallDetail:
    """A 911 call in the queue or a dispatch call of the server, with its history; 404 otherwise."""
    located = locate_call(conn, community_id=community_id, server_id=server_id, call_id=call_id)
    snapshot = f"/v2/emergency/servers/{server_id}/calls/{call_id}/snapshot.png"
    if located.kind == calls.EMERGENCY:
        found = calls.emergency_call(conn, community_id=community_id, server_id=server_id, call_id=call_id)
        past = history.read_history(conn, community_id=community_id, call_id=call_id)
        return CallDetail(
            kind="emergency",
            emergency=console_emergency_calls(conn, community_id, [found])[0],
            point=located.point,
            snapshotUrl=snapshot if located.point else None,
            history=past.entries,
            units=past.units,
        )
    dispatch = calls.load_dispatch_calls(conn, community_id, [call_id])
    past = calls.dispatch_call_history(conn, community_id=community_id, server_id=server_id, call_id=call_id)
    return CallDetail(
        kind="dispatch",
        dispatch=console_dispatch_calls(conn, community_id, dispatch)[0],
        point=located.point,
        snapshotUrl=snapshot if located.point else None,
        history=past.entries,
        units=past.units,
    )


_CARRIED_META = ("x", "y", "z", "radius")


def dispatch_draft(conn: Connection, *, community_id: str, server_id: int, call_id: int) -> DispatchDraft:
    """A dispatch call pre-filled from a 911 call: metaData ``postal``, ``block``, ``code``,
    ``priority`` fill those fields; the location becomes the address; ``x``/``y``/``z``/``radius``
    carry over so the new call is on the map too."""
    found = calls.emergency_call(conn, community_id=community_id, server_id=server_id, call_id=call_id)
    meta = found.metaData
    try:
        priority = int(meta.get("priority", ""))
    except ValueError:
        priority = 0
    if not 1 <= priority <= 3:
        priority = 1 if found.isEmergency else 2
    first_line = found.description.strip().splitlines()[0] if found.description.strip() else ""
    title = meta.get("title") or first_line or ("Emergency call" if found.isEmergency else "Civil call")
    return DispatchDraft(
        sourceCallId=call_id,
        origin=0,
        status=int(CallStatus.ACTIVE),
        priority=priority,
        block=meta.get("block", "")[:255],
        address=found.location,
        postal=meta.get("postal", "")[:64],
        title=title[:80],
        code=meta.get("code", "")[:64],
        description=found.description,
        notes=[{"label": "911", "type": "text", "content": f"Caller: {found.caller}"}],
        metaData={key: meta[key] for key in _CARRIED_META if key in meta},
    )


def attached_to(conn: Connection, *, community_id: str, server_id: int, call_id: int) -> list[int]:
    """The units on a dispatch call of this server, in order (404 when there is no such call)."""
    calls.require_call(conn, community_id, server_id, call_id, kind=calls.DISPATCH)
    return calls.load_dispatch_calls(conn, community_id, [call_id])[0].idents


def open_dispatch_call(
    conn: Connection,
    *,
    community_id: str,
    server_id: int,
    call: ConsoleNewDispatchCall,
    now: int,
    actor: Actor,
) -> DispatchCall:
    """Open a dispatch call from the console in one unit of work, through the API's services.

    The call is linked to the 911 call it was made from (``sourceCallId``), the units picked by id are
    attached, and with ``removeSource`` that 911 call leaves the queue (unless it already has).
    """
    created = calls.open_dispatch_call(
        conn,
        community_id=community_id,
        server_id=server_id,
        call=call,
        now=now,
        actor=actor,
        source_call_id=call.sourceCallId,
    )
    if call.identIds:
        calls.attach_to_call(
            conn,
            community_id=community_id,
            server_id=server_id,
            call_id=created.callId,
            targets=Targets(identIds=call.identIds),
            now=now,
            actor=actor,
        )
    if call.removeSource and call.sourceCallId is not None:
        with suppress(NotFound):  # another dispatcher removed it meanwhile: nothing left to do
            calls.remove_emergency_call(
                conn,
                community_id=community_id,
                server_id=server_id,
                call_id=call.sourceCallId,
                now=now,
                actor=actor,
            )
    return calls.load_dispatch_calls(conn, community_id, [created.callId])[0]


def detach_from_call(
    conn: Connection,
    *,
    community_id: str,
    server_id: int,
    call_id: int,
    ident_ids: Sequence[int],
    now: int,
    actor: Actor,
) -> list[int]:
    """Take units off one dispatch call (409 for a unit that is not on it, say after it moved)."""
    on_call = attached_to(conn, community_id=community_id, server_id=server_id, call_id=call_id)
    elsewhere = [ident for ident in ident_ids if ident not in on_call]
    if elsewhere:
        raise Conflict(
            f"Unit(s) {', '.join(map(str, elsewhere))} are not attached to dispatch call {call_id}."
        )
    return calls.detach_from_calls(
        conn,
        community_id=community_id,
        server_id=server_id,
        targets=Targets(identIds=list(ident_ids)),
        now=now,
        actor=actor,
    )
