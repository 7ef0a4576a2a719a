"""Rules of calls: opening 911 and dispatch calls, attaching units, listing, and timed removal."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import orjson
from sqlalchemy import Connection, Row, func, insert, select, update

from opendispatch.calls.models import call_notes, call_units, dispatch_calls, emergency_calls
from opendispatch.calls.schemas import (
    CallListing,
    CallStatus,
    CallTableType,
    DispatchCall,
    EmergencyCall,
    NewDispatchCall,
    NewEmergencyCall,
    Note,
    parse_note_time,
)
from opendispatch.clock import iso_utc
from opendispatch.communities.models import servers
from opendispatch.communities.service import next_call_id, require_server
from opendispatch.storage.database import Prepared
from opendispatch.units.service import resolve_targets

MINUTE_MS = 60_000
OPEN_STATUSES = (int(CallStatus.PENDING), int(CallStatus.ACTIVE))

# Built once: building a statement costs more than running it on the hot path.
_INSERT_EMERGENCY_CALL = Prepared(insert(emergency_calls))


def _emergency_call(row: Row[tuple[object, ...]]) -> EmergencyCall:
    return EmergencyCall(
        callId=row.call_id,
        isEmergency=row.is_emergency,
        caller=row.caller,
        location=row.location,
        description=row.description,
        metaData=orjson.loads(row.meta_data),
        updated=iso_utc(row.updated_at),
    )


def open_emergency_call(
    conn: Connection, *, community_id: str, server_id: int, call: NewEmergencyCall, now: int
) -> EmergencyCall:
    """Store a new 911 call on the server and return it as clients see it."""
    require_server(conn, community_id, server_id)
    call_id = next_call_id(conn, community_id)
    meta_data = orjson.dumps(call.metaData).decode()
    delete_at = now + call.deleteAfterMinutes * MINUTE_MS if call.deleteAfterMinutes else None
    _INSERT_EMERGENCY_CALL.run(
        conn,
        {
            "community_id": community_id,
            "call_id": call_id,
            "server_id": server_id,
            "is_emergency": call.isEmergency,
            "caller": call.caller,
            "location": call.location,
            "description": call.description,
            "meta_data": meta_data,
            "created_at": now,
            "updated_at": now,
            "delete_at": delete_at,
            "removed_at": None,
        },
    )
    return EmergencyCall(
        callId=call_id,
        isEmergency=call.isEmergency,
        caller=call.caller,
        location=call.location,
        description=call.description,
        metaData=call.metaData,
        updated=iso_utc(now),
    )


def open_dispatch_call(
    conn: Connection, *, community_id: str, server_id: int, call: NewDispatchCall, now: int
) -> DispatchCall:
    """Store a new dispatch call, attach the units its targets resolve to, and return it."""
    require_server(conn, community_id, server_id)
    call_id = next_call_id(conn, community_id)
    closed = call.status == CallStatus.CLOSED
    conn.execute(
        insert(dispatch_calls).values(
            community_id=community_id,
            call_id=call_id,
            server_id=server_id,
            origin=call.origin,
            status=call.status,
            priority=call.priority,
            block=call.block,
            address=call.address,
            postal=call.postal,
            title=call.title,
            code=call.code,
            description=call.description,
            primary_ident=-1,
            track_primary=False,
            meta_data=orjson.dumps(call.metaData).decode(),
            created_at=now,
            updated_at=now,
            closed_at=now if closed else None,
            delete_at=now + call.deleteAfterMinutes * MINUTE_MS if call.deleteAfterMinutes else None,
        )
    )
    if closed:
        _count_closed(conn, community_id, server_id, +1)
    if call.notes:
        conn.execute(
            insert(call_notes),
            [
                {
                    "community_id": community_id,
                    "call_id": call_id,
                    "time": parse_note_time(note.time) if note.time else now,
                    "label": note.label,
                    "type": note.type,
                    "content": note.content,
                }
                for note in call.notes
            ],
        )
    idents = resolve_targets(
        conn,
        community_id=community_id,
        server_id=server_id,
        community_user_ids=call.communityUserIds or (),
        account_uuids=call.accounts or (),
    )
    attach_units(conn, community_id=community_id, call_id=call_id, ident_ids=idents, now=now)
    return load_dispatch_calls(conn, community_id, [call_id])[0]


def attach_units(
    conn: Connection, *, community_id: str, call_id: int, ident_ids: Sequence[int], now: int
) -> list[int]:
    """Attach units to an open call, after those already on it; a unit leaves any other open call.

    Returns the units newly attached. The first unit on a call with no primary becomes its primary.
    """
    if not ident_ids:
        return []
    on_call = set(
        conn.execute(
            select(call_units.c.ident_id).where(
                call_units.c.community_id == community_id, call_units.c.call_id == call_id
            )
        ).scalars()
    )
    fresh = [ident for ident in dict.fromkeys(ident_ids) if ident not in on_call]
    if not fresh:
        return []
    _leave_other_open_calls(conn, community_id=community_id, call_id=call_id, ident_ids=fresh, now=now)
    position = conn.execute(
        select(func.coalesce(func.max(call_units.c.position), -1)).where(
            call_units.c.community_id == community_id, call_units.c.call_id == call_id
        )
    ).scalar_one()
    conn.execute(
        insert(call_units),
        [
            {
                "community_id": community_id,
                "call_id": call_id,
                "ident_id": ident,
                "position": position + offset,
                "attached_at": now,
            }
            for offset, ident in enumerate(fresh, start=1)
        ],
    )
    conn.execute(
        update(dispatch_calls)
        .where(
            dispatch_calls.c.community_id == community_id,
            dispatch_calls.c.call_id == call_id,
            dispatch_calls.c.primary_ident == -1,
        )
        .values(primary_ident=fresh[0])
    )
    return fresh


def _leave_other_open_calls(
    conn: Connection, *, community_id: str, call_id: int, ident_ids: Sequence[int], now: int
) -> None:
    # A unit works one call at a time: attaching it elsewhere takes it off the open call it was on.
    rows = conn.execute(
        select(call_units.c.call_id, call_units.c.ident_id)
        .join(
            dispatch_calls,
            (dispatch_calls.c.community_id == call_units.c.community_id)
            & (dispatch_calls.c.call_id == call_units.c.call_id),
        )
        .where(
            call_units.c.community_id == community_id,
            call_units.c.ident_id.in_(list(ident_ids)),
            call_units.c.call_id != call_id,
            dispatch_calls.c.status.in_(OPEN_STATUSES),
            dispatch_calls.c.removed_at.is_(None),
        )
    ).all()
    by_call: dict[int, list[int]] = defaultdict(list)
    for row in rows:
        by_call[row.call_id].append(row.ident_id)
    for other_call, leaving in by_call.items():
        detach_units(conn, community_id=community_id, call_id=other_call, ident_ids=leaving, now=now)


def detach_units(
    conn: Connection, *, community_id: str, call_id: int, ident_ids: Sequence[int], now: int
) -> None:
    """Take units off a call; when the primary leaves, the next unit in order becomes primary."""
    conn.execute(
        call_units.delete().where(
            call_units.c.community_id == community_id,
            call_units.c.call_id == call_id,
            call_units.c.ident_id.in_(list(ident_ids)),
        )
    )
    remaining = conn.execute(
        select(call_units.c.ident_id)
        .where(call_units.c.community_id == community_id, call_units.c.call_id == call_id)
        .order_by(call_units.c.position)
        .limit(1)
    ).scalar()
    conn.execute(
        update(dispatch_calls)
        .where(
            dispatch_calls.c.community_id == community_id,
            dispatch_calls.c.call_id == call_id,
            dispatch_calls.c.primary_ident.in_(list(ident_ids)),
        )
        .values(primary_ident=remaining if remaining is not None else -1, updated_at=now)
    )


def _count_closed(conn: Connection, community_id: str, server_id: int, delta: int) -> None:
    conn.execute(
        update(servers)
        .where(servers.c.community_id == community_id, servers.c.server_id == server_id)
        .values(closed_call_count=servers.c.closed_call_count + delta)
    )


def load_dispatch_calls(conn: Connection, community_id: str, call_ids: Sequence[int]) -> list[DispatchCall]:
    """Dispatch calls with their notes and units, in the order of ``call_ids``."""
    if not call_ids:
        return []
    rows = conn.execute(
        select(dispatch_calls).where(
            dispatch_calls.c.community_id == community_id, dispatch_calls.c.call_id.in_(list(call_ids))
        )
    ).all()
    return _with_notes_and_units(conn, community_id, sorted(rows, key=lambda r: call_ids.index(r.call_id)))


def _with_notes_and_units(
    conn: Connection, community_id: str, rows: Iterable[Row[tuple[object, ...]]]
) -> list[DispatchCall]:
    rows = list(rows)
    if not rows:
        return []
    ids = [row.call_id for row in rows]
    notes: dict[int, list[Note]] = defaultdict(list)
    for note in conn.execute(
        select(call_notes)
        .where(call_notes.c.community_id == community_id, call_notes.c.call_id.in_(ids))
        .order_by(call_notes.c.note_id)
    ):
        notes[note.call_id].append(
            Note(time=iso_utc(note.time), label=note.label, type=note.type, content=note.content)
        )
    idents: dict[int, list[int]] = defaultdict(list)
    for unit in conn.execute(
        select(call_units.c.call_id, call_units.c.ident_id)
        .where(call_units.c.community_id == community_id, call_units.c.call_id.in_(ids))
        .order_by(call_units.c.call_id, call_units.c.position)
    ):
        idents[unit.call_id].append(unit.ident_id)
    return [
        DispatchCall(
            callId=row.call_id,
            origin=row.origin,
            status=row.status,
            priority=row.priority,
            block=row.block,
            address=row.address,
            postal=row.postal,
            title=row.title,
            code=row.code,
            primary=row.primary_ident,
            trackPrimary=row.track_primary,
            description=row.description,
            notes=notes[row.call_id],
            idents=idents[row.call_id],
            metaData=orjson.loads(row.meta_data),
            updated=iso_utc(row.updated_at),
        )
        for row in rows
    ]


def list_calls(
    conn: Connection,
    *,
    community_id: str,
    server_id: int,
    table_type: CallTableType,
    closed_limit: int,
    closed_offset: int,
) -> CallListing:
    """Open dispatch calls, live 911 calls and one page of closed calls, newest closed first.

    Every query is an index range scan bounded by what is open or by the page asked for; the closed
    count is a counter kept on the server, so 100 000 closed calls cost what 10 do.
    """
    require_server(conn, community_id, server_id)
    listing = CallListing(activeCalls=[], emergencyCalls=[], closedCalls=[], closedCallCount=0)
    on_server = (
        (dispatch_calls.c.community_id == community_id)
        & (dispatch_calls.c.server_id == server_id)
        & dispatch_calls.c.removed_at.is_(None)
    )
    if table_type in (CallTableType.DISPATCH_CALL, CallTableType.SEARCH_ALL):
        active = conn.execute(
            select(dispatch_calls)
            .where(on_server, dispatch_calls.c.status.in_(OPEN_STATUSES))
            .order_by(dispatch_calls.c.call_id)
        )
        listing.activeCalls = _with_notes_and_units(conn, community_id, active)
        closed = conn.execute(
            select(dispatch_calls)
            .where(on_server, dispatch_calls.c.status == int(CallStatus.CLOSED))
            .order_by(dispatch_calls.c.closed_at.desc(), dispatch_calls.c.call_id.desc())
            .limit(closed_limit)
            .offset(closed_offset)
        )
        listing.closedCalls = _with_notes_and_units(conn, community_id, closed)
        listing.closedCallCount = conn.execute(
            select(servers.c.closed_call_count).where(
                servers.c.community_id == community_id, servers.c.server_id == server_id
            )
        ).scalar_one()
    if table_type in (CallTableType.EMERGENCY_CALL, CallTableType.SEARCH_ALL):
        emergency = conn.execute(
            select(emergency_calls)
            .where(
                emergency_calls.c.community_id == community_id,
                emergency_calls.c.server_id == server_id,
                emergency_calls.c.removed_at.is_(None),
            )
            .order_by(emergency_calls.c.call_id)
        )
        listing.emergencyCalls = [_emergency_call(row) for row in emergency]
    return listing


@dataclass(frozen=True, slots=True)
class RemovedCalls:
    """Calls whose deleteAfterMinutes deadline passed, per community and server."""

    emergency: dict[tuple[str, int], list[int]]
    dispatch: dict[tuple[str, int], list[int]]


def remove_due_calls(conn: Connection, *, now: int, limit: int = 500) -> RemovedCalls:
    """Remove calls whose deadline has passed (by the stored deadline, so restarts change nothing)."""
    removed = RemovedCalls(emergency=defaultdict(list), dispatch=defaultdict(list))
    for table, into in ((emergency_calls, removed.emergency), (dispatch_calls, removed.dispatch)):
        due = conn.execute(
            select(table.c.community_id, table.c.server_id, table.c.call_id)
            .where(table.c.removed_at.is_(None), table.c.delete_at <= now)
            .limit(limit)
        ).all()
        for row in due:
            conn.execute(
                update(table)
                .where(table.c.community_id == row.community_id, table.c.call_id == row.call_id)
                .values(removed_at=now, updated_at=now)
            )
            into[(row.community_id, row.server_id)].append(row.call_id)
            if table is dispatch_calls:
                _forget_closed_if_needed(conn, row.community_id, row.server_id, row.call_id)
    return removed


def _forget_closed_if_needed(conn: Connection, community_id: str, server_id: int, call_id: int) -> None:
    status = conn.execute(
        select(dispatch_calls.c.status).where(
            dispatch_calls.c.community_id == community_id, dispatch_calls.c.call_id == call_id
        )
    ).scalar_one()
    if status == CallStatus.CLOSED:
        _count_closed(conn, community_id, server_id, -1)
