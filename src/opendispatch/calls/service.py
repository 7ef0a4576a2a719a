"""Rules of calls: opening 911 and dispatch calls, attaching units, listing, and timed removal."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Row, bindparam, func, insert, select, update

from opendispatch.calls.models import (
    call_notes,
    call_units,
    dispatch_calls,
    dispatch_templates,
    emergency_calls,
)
from opendispatch.calls.schemas import (
    MAX_CALL_BYTES,
    MAX_CALL_NOTES,
    MAX_CALL_UNITS,
    MAX_EMERGENCY_CALL_BYTES,
    MAX_OPEN_DISPATCH_CALLS,
    MAX_OPEN_EMERGENCY_CALLS,
    MAX_TEMPLATES,
    CallListing,
    CallNoteAdded,
    CallStatus,
    CallTableType,
    ClosedCalls,
    CurrentCall,
    CustomDispatchCall,
    DispatchCall,
    DispatchTemplate,
    DispatchTemplates,
    EmergencyCall,
    NewCallNote,
    NewCustomDispatchCall,
    NewDispatchCall,
    NewDispatchTemplate,
    NewEmergencyCall,
    Note,
    RemovedEmergencyCall,
    TemplateLayout,
    UnitsAttached,
    parse_note_time,
)
from opendispatch.clock import iso_utc
from opendispatch.communities.models import servers
from opendispatch.communities.service import (
    ask_call_id,
    next_call_id,
    require_community,
    require_server,
)
from opendispatch.errors import Conflict, InvalidInput, LimitReached, NotFound
from opendispatch.events import service as events
from opendispatch.events.schemas import EventType
from opendispatch.history import service as history
from opendispatch.history.schemas import MAX_HISTORY_PAGE, Actor, CallHistory
from opendispatch.maps import service as maps
from opendispatch.storage.statements import Prepared
from opendispatch.units.models import selected_identifiers
from opendispatch.units.schemas import Targets
from opendispatch.units.service import (
    OPEN_CALL_STATUSES,
    current_calls,
    require_account,
    resolve_target_units,
    resolve_targets,
)

MINUTE_MS = 60_000
EMERGENCY = "emergency"
DISPATCH = "dispatch"
EXPIRY = Actor("system", "deleteAfterMinutes")


def _log(
    conn: Connection,
    community_id: str,
    call_id: int,
    now: int,
    actor: Actor,
    action: str,
    kind: str = DISPATCH,
    **details: Any,
) -> None:
    history.record(
        conn,
        community_id=community_id,
        call_id=call_id,
        call_kind=kind,
        now=now,
        actor=actor,
        action=action,
        **details,
    )


OPEN_STATUSES = OPEN_CALL_STATUSES  # one definition, in units.service (which cannot import this module)

# Built once: building a statement costs more than running it on the hot path.
_INSERT_EMERGENCY_CALL = Prepared(insert(emergency_calls))


def _announce(
    conn: Connection, community_id: str, server_id: int, now: int, type: EventType, data: dict[str, Any]
) -> None:
    events.emit(conn, community_id=community_id, server_id=server_id, type=type, data=data, now=now)


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


def call_bytes(call: EmergencyCall | DispatchCall | dict[str, Any]) -> int:
    """What a call weighs against MAX_CALL_BYTES: its UTF-8 JSON as answered, ``idents`` aside.

    A dict is the answer's fields already (a new 911 call's, before its model is made).
    """
    shown = call if isinstance(call, dict) else call.model_dump(exclude={"idents"})
    return len(orjson.dumps(shown))


def _require_call_size(
    call: EmergencyCall | DispatchCall | dict[str, Any], call_id: int | None = None
) -> None:
    size = call_bytes(call)
    emergency = not isinstance(call, DispatchCall)
    bound = MAX_EMERGENCY_CALL_BYTES if emergency else MAX_CALL_BYTES
    if size > bound:
        named = "The call" if call_id is None else f"Dispatch call {call_id}"
        kind = "a 911 call" if emergency else "a call"
        raise LimitReached(
            f"{named} would weigh {size} bytes with its notes and metaData; the size of {kind} is at most "
            f"{bound} bytes. Nothing was stored.",
            "size of a call",
        )


def _require_room(conn: Connection, community_id: str, server_id: int, kind: str) -> None:
    """Refuse one more open call of ``kind`` on a server that holds its bound of them already.

    Unless the application's settings turned the bound off (``open_call_bounds``: benchmarks only).
    """
    if not conn.get_execution_options().get("open_call_bounds", True):
        return
    if kind == EMERGENCY:
        table, bound, named = emergency_calls, MAX_OPEN_EMERGENCY_CALLS, "open 911 calls per server"
        where = [emergency_calls.c.removed_at.is_(None)]
    else:
        table, bound, named = dispatch_calls, MAX_OPEN_DISPATCH_CALLS, "open dispatch calls per server"
        where = [dispatch_calls.c.removed_at.is_(None), dispatch_calls.c.status.in_(OPEN_STATUSES)]
    # Counted no further than the bound: the cost stays that of the bound however the rows are kept.
    held = select(table.c.call_id).where(
        table.c.community_id == community_id, table.c.server_id == server_id, *where
    )
    count = conn.execute(select(func.count()).select_from(held.limit(bound).subquery())).scalar_one()
    if count >= bound:
        what = "911 calls in its queue" if kind == EMERGENCY else "open dispatch calls"
        raise LimitReached(
            f"Server {server_id} holds {bound} {what}, the most it may ({named}: {bound}); "
            "remove or close some first. Nothing was stored.",
            named,
        )


def open_emergency_call(
    conn: Connection,
    *,
    community_id: str,
    server_id: int,
    call: NewEmergencyCall,
    now: int,
    actor: Actor,
) -> EmergencyCall:
    """Store a new 911 call on the server and return it as clients see it."""
    # Both numbers asked for before either is read: on PostgreSQL, one round trip for the two.
    asked = ask_call_id(conn, community_id)
    numbered = events.ask_number(conn, community_id=community_id, server_id=server_id)
    # Both read before a NotFound, so no statement is left half-read.
    taken, number = asked.row(), numbered.row()
    if number is None:  # no such server: nothing is stored (the id taken is rolled back)
        raise NotFound(f"Server {server_id} does not exist.")
    call_id = int(taken[0])
    _require_room(conn, community_id, server_id, EMERGENCY)
    meta = maps.with_postal(conn, community_id, call.metaData)  # x/y and no postal: the nearest one
    meta_data = orjson.dumps(meta).decode()
    delete_at = now + call.deleteAfterMinutes * MINUTE_MS if call.deleteAfterMinutes else None
    # The answer's fields, in its order: weighed and pushed (metaData beside the call, as the docs show
    # it, and inside it, where the in-game resource reads it) as one dict.
    pushed_call = {
        "callId": call_id,
        "isEmergency": call.isEmergency,
        "caller": call.caller,
        "location": call.location,
        "description": call.description,
        "metaData": meta,
    }
    updated = iso_utc(now)
    _require_call_size({**pushed_call, "updated": updated})
    _INSERT_EMERGENCY_CALL.defer(
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
    _log(conn, community_id, call_id, now, actor, "created", kind=EMERGENCY, serverId=server_id)
    announcement: dict[str, Any] = {"call": pushed_call, "metaData": meta}
    if actor.api_ids:  # only calls placed from the CAD itself carry the placing account's API ids
        announcement["apiIds"] = list(actor.api_ids)
    if actor.community_user_id:
        announcement["communityUserId"] = actor.community_user_id
    events.emit(
        conn,
        community_id=community_id,
        server_id=server_id,
        type=EventType.EVENT_911,
        data=announcement,
        now=now,
        number=numbered,
    )
    # Validated again, though every field was checked: pydantic-core does it faster than model_construct.
    return EmergencyCall(
        callId=call_id,
        isEmergency=call.isEmergency,
        caller=call.caller,
        location=call.location,
        description=call.description,
        metaData=meta,
        updated=updated,
    )


@dataclass(frozen=True, slots=True)
class CustomParts:
    """What a call made from a template stores besides the canonical fields (JSON text, status id)."""

    template: str
    values: str
    status_id: str


def open_dispatch_call(
    conn: Connection,
    *,
    community_id: str,
    server_id: int,
    call: NewDispatchCall,
    now: int,
    actor: Actor,
    source_call_id: int | None = None,
    units: Sequence[int] = (),
    custom: CustomParts | None = None,
) -> DispatchCall:
    """Store a new dispatch call, attach the units its targets resolve to, and return it.

    ``source_call_id`` links the call to the 911 call it was made from (404 unless that 911 call is on
    this server); both calls' histories record the link. ``units`` are resolved already and attached
    after the targets' units; ``custom`` is what a call made from a template stores besides.
    """
    require_server(conn, community_id, server_id)
    if source_call_id is not None:
        require_call(conn, community_id, server_id, source_call_id, kind=EMERGENCY, removed=True)
    call_id = next_call_id(conn, community_id)
    closed = call.status == CallStatus.CLOSED
    if not closed:
        _require_room(conn, community_id, server_id, DISPATCH)
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
            postal=maps.postal_for(conn, community_id, call.metaData, call.postal),  # or the nearest
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
            source_call_id=source_call_id,
            template=custom.template if custom else None,
            template_values=custom.values if custom else None,
            status_id=custom.status_id if custom else None,
        )
    )
    linked: dict[str, Any] = {} if source_call_id is None else {"sourceCallId": source_call_id}
    _log(conn, community_id, call_id, now, actor, "created", serverId=server_id, status=call.status, **linked)
    if source_call_id is not None:
        _log(
            conn,
            community_id,
            source_call_id,
            now,
            actor,
            "dispatched",
            kind=EMERGENCY,
            dispatchCallId=call_id,
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
    idents = resolve_targets(conn, community_id=community_id, server_id=server_id, targets=call.targets())
    idents = list(dict.fromkeys([*idents, *units]))
    attach_units(
        conn,
        community_id=community_id,
        server_id=server_id,
        call_id=call_id,
        ident_ids=idents,
        now=now,
        actor=actor,
        announce=False,  # the new call's event already lists its units
    )
    created = load_dispatch_calls(conn, community_id, [call_id])[0]
    _require_call_size(created)
    _announce(
        conn, community_id, server_id, now, EventType.EVENT_DISPATCH_NEW, {"dispatch": created.model_dump()}
    )
    return created


def attach_units(
    conn: Connection,
    *,
    community_id: str,
    server_id: int,
    call_id: int,
    ident_ids: Sequence[int],
    now: int,
    actor: Actor,
    announce: bool = True,
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
    if len(on_call) + len(fresh) > MAX_CALL_UNITS:
        raise LimitReached(
            f"Dispatch call {call_id} has {len(on_call)} units attached; {len(fresh)} more would pass the "
            f"units per call ({MAX_CALL_UNITS}). Nothing was stored.",
            "units per call",
        )
    _leave_other_open_calls(
        conn, community_id=community_id, call_id=call_id, ident_ids=fresh, now=now, actor=actor
    )
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
    for ident in fresh:
        _log(conn, community_id, call_id, now, actor, "unit_attached", identId=ident)
    primary = conn.execute(
        update(dispatch_calls)
        .where(
            dispatch_calls.c.community_id == community_id,
            dispatch_calls.c.call_id == call_id,
            dispatch_calls.c.primary_ident == -1,
        )
        .values(primary_ident=fresh[0], updated_at=now)
    )
    if primary.rowcount:
        _log(conn, community_id, call_id, now, actor, "primary_changed", identId=fresh[0])
    if announce:
        _announce(
            conn,
            community_id,
            server_id,
            now,
            EventType.EVENT_DISPATCH_UNIT_ATTACH,
            {"callId": call_id, "idents": fresh},
        )
    return fresh


def _leave_other_open_calls(
    conn: Connection, *, community_id: str, call_id: int, ident_ids: Sequence[int], now: int, actor: Actor
) -> None:
    # A unit works one call at a time: attaching it elsewhere takes it off the open call it was on.
    rows = conn.execute(
        select(call_units.c.call_id, call_units.c.ident_id, dispatch_calls.c.server_id)
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
    by_call: dict[tuple[int, int], list[int]] = defaultdict(list)
    for row in rows:
        by_call[(row.server_id, row.call_id)].append(row.ident_id)
    for (other_server, other_call), leaving in by_call.items():
        detach_units(
            conn,
            community_id=community_id,
            server_id=other_server,
            call_id=other_call,
            ident_ids=leaving,
            now=now,
            actor=actor,
        )


def detach_units(
    conn: Connection,
    *,
    community_id: str,
    server_id: int,
    call_id: int,
    ident_ids: Sequence[int],
    now: int,
    actor: Actor,
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
    for ident in ident_ids:
        _log(conn, community_id, call_id, now, actor, "unit_detached", identId=ident)
    new_primary = remaining if remaining is not None else -1
    moved = conn.execute(
        update(dispatch_calls)
        .where(
            dispatch_calls.c.community_id == community_id,
            dispatch_calls.c.call_id == call_id,
            dispatch_calls.c.primary_ident.in_(list(ident_ids)),
        )
        .values(primary_ident=new_primary, updated_at=now)
    )
    if moved.rowcount:
        _log(conn, community_id, call_id, now, actor, "primary_changed", identId=new_primary)
    _announce(
        conn,
        community_id,
        server_id,
        now,
        EventType.EVENT_DISPATCH_UNIT_DETACH,
        {"callId": call_id, "idents": list(ident_ids)},
    )


def _count_closed(conn: Connection, community_id: str, server_id: int, delta: int) -> None:
    conn.execute(
        update(servers)
        .where(servers.c.community_id == community_id, servers.c.server_id == server_id)
        .values(closed_call_count=servers.c.closed_call_count + delta)
    )


# Listing statements are built once; building and compiling them per request cost more than SQLite.
_CALLS_BY_ID = select(dispatch_calls).where(
    dispatch_calls.c.community_id == bindparam("community_id"),
    dispatch_calls.c.call_id.in_(bindparam("ids", expanding=True)),
)
_NOTES_OF = (
    select(call_notes)
    .where(
        call_notes.c.community_id == bindparam("community_id"),
        call_notes.c.call_id.in_(bindparam("ids", expanding=True)),
    )
    .order_by(call_notes.c.note_id)
)
_UNITS_OF = (
    select(call_units.c.call_id, call_units.c.ident_id)
    .where(
        call_units.c.community_id == bindparam("community_id"),
        call_units.c.call_id.in_(bindparam("ids", expanding=True)),
    )
    .order_by(call_units.c.call_id, call_units.c.position)
)
_ON_SERVER = (
    (dispatch_calls.c.community_id == bindparam("community_id"))
    & (dispatch_calls.c.server_id == bindparam("server_id"))
    & dispatch_calls.c.removed_at.is_(None)
)
# No ORDER BY: to avoid a sort SQLite would walk the primary key through every closed call of the
# community; the few open calls are put in order in Python instead.
_OPEN_CALLS = select(dispatch_calls).where(_ON_SERVER, dispatch_calls.c.status < int(CallStatus.CLOSED))
_CLOSED_PAGE = (
    select(dispatch_calls)
    .where(_ON_SERVER, dispatch_calls.c.status == int(CallStatus.CLOSED))
    .order_by(dispatch_calls.c.closed_at.desc(), dispatch_calls.c.call_id.desc())
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
_CLOSED_COUNT = select(servers.c.closed_call_count).where(
    servers.c.community_id == bindparam("community_id"), servers.c.server_id == bindparam("server_id")
)
_LIVE_911_CALLS = select(emergency_calls).where(
    emergency_calls.c.community_id == bindparam("community_id"),
    emergency_calls.c.server_id == bindparam("server_id"),
    emergency_calls.c.removed_at.is_(None),
)


def load_dispatch_calls(conn: Connection, community_id: str, call_ids: Sequence[int]) -> list[DispatchCall]:
    """Dispatch calls with their notes and units, in the order of ``call_ids``."""
    if not call_ids:
        return []
    rows = conn.execute(_CALLS_BY_ID, {"community_id": community_id, "ids": list(call_ids)}).all()
    return _with_notes_and_units(conn, community_id, sorted(rows, key=lambda r: call_ids.index(r.call_id)))


def _with_notes_and_units(
    conn: Connection, community_id: str, rows: Iterable[Row[tuple[object, ...]]]
) -> list[DispatchCall]:
    rows = list(rows)
    if not rows:
        return []
    ids = {"community_id": community_id, "ids": [row.call_id for row in rows]}
    notes: dict[int, list[Note]] = defaultdict(list)
    for note in conn.execute(_NOTES_OF, ids):
        notes[note.call_id].append(
            Note(time=iso_utc(note.time), label=note.label, type=note.type, content=note.content)
        )
    idents: dict[int, list[int]] = defaultdict(list)
    for unit in conn.execute(_UNITS_OF, ids):
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
    server = {"community_id": community_id, "server_id": server_id}
    if table_type in (CallTableType.DISPATCH_CALL, CallTableType.SEARCH_ALL):
        active = sorted(conn.execute(_OPEN_CALLS, server), key=lambda row: row.call_id)
        listing.activeCalls = _with_notes_and_units(conn, community_id, active)
        closed = conn.execute(_CLOSED_PAGE, {**server, "limit": closed_limit, "offset": closed_offset})
        listing.closedCalls = _with_notes_and_units(conn, community_id, closed)
        listing.closedCallCount = conn.execute(_CLOSED_COUNT, server).scalar_one()
    if table_type in (CallTableType.EMERGENCY_CALL, CallTableType.SEARCH_ALL):
        live = sorted(conn.execute(_LIVE_911_CALLS, server), key=lambda row: row.call_id)
        listing.emergencyCalls = [_emergency_call(row) for row in live]
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
            # Guarded: with several processes sweeping, only the one whose update lands removes the call
            # (one history entry, one removal event); the others find it already removed.
            taken = conn.execute(
                update(table)
                .where(
                    table.c.community_id == row.community_id,
                    table.c.call_id == row.call_id,
                    table.c.removed_at.is_(None),
                )
                .values(removed_at=now, updated_at=now)
            )
            if taken.rowcount != 1:
                continue
            into[(row.community_id, row.server_id)].append(row.call_id)
            _log(
                conn,
                row.community_id,
                row.call_id,
                now,
                EXPIRY,
                "removed",
                kind=EMERGENCY if table is emergency_calls else DISPATCH,
                reason="deleteAfterMinutes",
            )
            if table is dispatch_calls:
                _forget_closed_if_needed(conn, row.community_id, row.server_id, row.call_id)
    # The removal events: 911 calls leave the queue; a dispatch call leaving the board reads as closed.
    for (community_id, server_id), call_ids in removed.emergency.items():
        _announce(conn, community_id, server_id, now, EventType.EVENT_REMOVE_911, {"callIds": call_ids})
    for (community_id, server_id), call_ids in removed.dispatch.items():
        _announce(conn, community_id, server_id, now, EventType.EVENT_DISPATCH_CLOSED, {"callIds": call_ids})
    return removed


def _forget_closed_if_needed(conn: Connection, community_id: str, server_id: int, call_id: int) -> None:
    status = conn.execute(
        select(dispatch_calls.c.status).where(
            dispatch_calls.c.community_id == community_id, dispatch_calls.c.call_id == call_id
        )
    ).scalar_one()
    if status == CallStatus.CLOSED:
        _count_closed(conn, community_id, server_id, -1)


# -- the lifecycle of a call ---------------------------------------------------------------------------

_CHANGEABLE = {
    "origin": "origin",
    "status": "status",
    "priority": "priority",
    "block": "block",
    "address": "address",
    "postal": "postal",
    "title": "title",
    "code": "code",
    "description": "description",
    "metaData": "meta_data",
}


@dataclass(frozen=True, slots=True)
class FoundCall:
    """A call of a server as ``require_call`` found it: which kind it is, and its row."""

    kind: str  # EMERGENCY or DISPATCH
    row: Row[Any]


_CALL_NAMES = {EMERGENCY: "911 call", DISPATCH: "Dispatch call", None: "Call"}


def require_call(
    conn: Connection,
    community_id: str,
    server_id: int,
    call_id: int,
    *,
    kind: str | None = None,
    removed: bool = False,
) -> FoundCall:
    """The call ``call_id`` of this server, a 911 call or a dispatch call (or only ``kind``); else 404.

    Every door asks this one question the same way. A removed call (taken off the queue, or past its
    deleteAfterMinutes) is found only with ``removed=True``: its history stays readable.
    """
    for table, table_kind in ((emergency_calls, EMERGENCY), (dispatch_calls, DISPATCH)):
        if kind is not None and kind != table_kind:
            continue
        query = select(table).where(
            table.c.community_id == community_id, table.c.server_id == server_id, table.c.call_id == call_id
        )
        if not removed:
            query = query.where(table.c.removed_at.is_(None))
        row = conn.execute(query).first()
        if row is not None:
            return FoundCall(table_kind, row)
    raise NotFound(f"{_CALL_NAMES[kind]} {call_id} does not exist on server {server_id}.")


def emergency_call(conn: Connection, *, community_id: str, server_id: int, call_id: int) -> EmergencyCall:
    """A 911 call in the server's queue, as the API shows it; 404 otherwise."""
    return _emergency_call(require_call(conn, community_id, server_id, call_id, kind=EMERGENCY).row)


def remove_emergency_call(
    conn: Connection, *, community_id: str, server_id: int, call_id: int, now: int, actor: Actor
) -> RemovedEmergencyCall:
    """Remove a 911 call from the queue; its row and history stay for the record."""
    removed = conn.execute(
        update(emergency_calls)
        .where(
            emergency_calls.c.community_id == community_id,
            emergency_calls.c.server_id == server_id,
            emergency_calls.c.call_id == call_id,
            emergency_calls.c.removed_at.is_(None),
        )
        .values(removed_at=now, updated_at=now)
    )
    if removed.rowcount == 0:
        raise NotFound(f"911 call {call_id} does not exist on server {server_id}.")
    _log(conn, community_id, call_id, now, actor, "removed", kind=EMERGENCY)
    _announce(conn, community_id, server_id, now, EventType.EVENT_REMOVE_911, {"callIds": [call_id]})
    return RemovedEmergencyCall(callId=call_id, serverId=server_id)


def update_dispatch_call(
    conn: Connection,
    *,
    community_id: str,
    server_id: int,
    call_id: int,
    changes: dict[str, Any],
    now: int,
    actor: Actor,
    primary: int | None = None,
    track_primary: bool | None = None,
) -> DispatchCall:
    """Change the fields sent; each change is kept in the history. Status 2 closes, 0 or 1 reopens.

    ``primary`` and ``track_primary``, when sent, change the primary by ``set_primary``'s rule, after the
    fields and in the same change (one edit event).
    """
    changed, closed = _apply_changes(conn, community_id, server_id, call_id, changes, now, actor)
    if primary is not None or track_primary is not None:
        moved = _apply_primary(
            conn,
            community_id,
            server_id,
            call_id,
            ident_id=primary,
            track_primary=track_primary,
            now=now,
            actor=actor,
        )
        changed = moved or changed
    updated = load_dispatch_calls(conn, community_id, [call_id])[0]
    _require_call_size(updated, call_id)
    if changed:
        _announce(
            conn,
            community_id,
            server_id,
            now,
            EventType.EVENT_DISPATCH_EDIT,
            {"dispatch": updated.model_dump()},
        )
    if closed:
        _announce(conn, community_id, server_id, now, EventType.EVENT_DISPATCH_CLOSED, {"callIds": [call_id]})
    return updated


def _apply_changes(
    conn: Connection,
    community_id: str,
    server_id: int,
    call_id: int,
    changes: dict[str, Any],
    now: int,
    actor: Actor,
) -> tuple[bool, bool]:
    """Store and log each changed field; returns (anything changed, the call was closed by it)."""
    row = require_call(conn, community_id, server_id, call_id, kind=DISPATCH).row
    values: dict[str, Any] = {}
    closed = False
    for field, value in changes.items():
        column = _CHANGEABLE[field]
        before = orjson.loads(row.meta_data) if field == "metaData" else getattr(row, column)
        if before == value:
            continue
        values[column] = orjson.dumps(value).decode() if field == "metaData" else value
        _log(
            conn,
            community_id,
            call_id,
            now,
            actor,
            "status_changed" if field == "status" else "field_changed",
            field=field,
            before=before,
            after=value,
        )
    if "status" in values and (row.status == CallStatus.CLOSED) != (values["status"] == CallStatus.CLOSED):
        closing = closed = values["status"] == CallStatus.CLOSED
        if not closing:
            _require_room(conn, community_id, server_id, DISPATCH)
        values["closed_at"] = now if closing else None
        _count_closed(conn, community_id, server_id, +1 if closing else -1)
        _log(conn, community_id, call_id, now, actor, "closed" if closing else "reopened")
    if values:
        values["updated_at"] = now
        conn.execute(
            update(dispatch_calls)
            .where(dispatch_calls.c.community_id == community_id, dispatch_calls.c.call_id == call_id)
            .values(**values)
        )
    return bool(values), closed


def attach_to_call(
    conn: Connection,
    *,
    community_id: str,
    server_id: int,
    call_id: int,
    targets: Targets,
    now: int,
    actor: Actor,
) -> UnitsAttached:
    """Attach the units the targets name to an open call (404 when none resolves, 409 when closed)."""
    row = require_call(conn, community_id, server_id, call_id, kind=DISPATCH).row
    if row.status == CallStatus.CLOSED:
        raise Conflict(f"Dispatch call {call_id} is closed; reopen it before attaching units.")
    idents = resolve_target_units(conn, community_id=community_id, server_id=server_id, targets=targets)
    attach_units(
        conn,
        community_id=community_id,
        server_id=server_id,
        call_id=call_id,
        ident_ids=idents,
        now=now,
        actor=actor,
    )
    return UnitsAttached(callId=call_id, identIds=idents)


def detach_from_calls(
    conn: Connection, *, community_id: str, server_id: int, targets: Targets, now: int, actor: Actor
) -> list[int]:
    """Take the named units off the open calls of this server they are on (409 for a unit on none)."""
    idents = resolve_target_units(conn, community_id=community_id, server_id=server_id, targets=targets)
    rows = conn.execute(
        select(call_units.c.call_id, call_units.c.ident_id)
        .join(
            dispatch_calls,
            (dispatch_calls.c.community_id == call_units.c.community_id)
            & (dispatch_calls.c.call_id == call_units.c.call_id),
        )
        .where(
            call_units.c.community_id == community_id,
            call_units.c.ident_id.in_(idents),
            dispatch_calls.c.server_id == server_id,
            dispatch_calls.c.status.in_(OPEN_STATUSES),
            dispatch_calls.c.removed_at.is_(None),
        )
    ).all()
    idle = sorted(set(idents) - {row.ident_id for row in rows})
    if idle:
        raise Conflict(
            f"Unit(s) {', '.join(map(str, idle))} are not attached to an open call on this server."
        )
    by_call: dict[int, list[int]] = defaultdict(list)
    for row in rows:
        by_call[row.call_id].append(row.ident_id)
    for call_id, leaving in by_call.items():
        detach_units(
            conn,
            community_id=community_id,
            server_id=server_id,
            call_id=call_id,
            ident_ids=leaving,
            now=now,
            actor=actor,
        )
    return idents


def add_note(
    conn: Connection,
    *,
    community_id: str,
    server_id: int,
    call_id: int,
    note: NewCallNote,
    now: int,
    actor: Actor,
) -> CallNoteAdded:
    """Add a note to a call (closed calls take notes too, for the after-action record)."""
    require_call(conn, community_id, server_id, call_id, kind=DISPATCH)
    held = conn.execute(
        select(func.count()).where(call_notes.c.community_id == community_id, call_notes.c.call_id == call_id)
    ).scalar_one()
    if held >= MAX_CALL_NOTES:
        raise LimitReached(
            f"Dispatch call {call_id} holds {held} notes, the most a call may (notes per call: "
            f"{MAX_CALL_NOTES}). Nothing was stored.",
            "notes per call",
        )
    conn.execute(
        insert(call_notes).values(
            community_id=community_id,
            call_id=call_id,
            time=now,
            label=note.label,
            type=note.noteType,
            content=note.note,
        )
    )
    conn.execute(
        update(dispatch_calls)
        .where(dispatch_calls.c.community_id == community_id, dispatch_calls.c.call_id == call_id)
        .values(updated_at=now)
    )
    _require_call_size(load_dispatch_calls(conn, community_id, [call_id])[0], call_id)
    _log(
        conn,
        community_id,
        call_id,
        now,
        actor,
        "note_added",
        label=note.label,
        type=note.noteType,
        content=note.note,
    )
    added = CallNoteAdded(
        callId=call_id, note=Note(time=iso_utc(now), label=note.label, type=note.noteType, content=note.note)
    )
    _announce(conn, community_id, server_id, now, EventType.EVENT_DISPATCH_NOTE, added.model_dump())
    return added


def close_calls(
    conn: Connection, *, community_id: str, server_id: int, call_ids: Sequence[int], now: int, actor: Actor
) -> ClosedCalls:
    """Close several calls at once; all or none (404 for a missing call, 409 for one already closed)."""
    unique = list(dict.fromkeys(call_ids))
    rows = {
        row.call_id: row
        for row in (require_call(conn, community_id, server_id, c, kind=DISPATCH).row for c in unique)
    }
    already = [call_id for call_id, row in rows.items() if row.status == CallStatus.CLOSED]
    if already:
        raise Conflict(f"Dispatch call(s) {', '.join(map(str, already))} are already closed.")
    for call_id in unique:
        _apply_changes(conn, community_id, server_id, call_id, {"status": int(CallStatus.CLOSED)}, now, actor)
    _announce(conn, community_id, server_id, now, EventType.EVENT_DISPATCH_CLOSED, {"callIds": unique})
    return ClosedCalls(callIds=unique)


def set_primary(
    conn: Connection,
    *,
    community_id: str,
    server_id: int,
    call_id: int,
    ident_id: int,
    track_primary: bool,
    now: int,
    actor: Actor,
) -> DispatchCall:
    """Make an attached unit the primary (-1 clears it) and set whether the call follows it."""
    _apply_primary(
        conn,
        community_id,
        server_id,
        call_id,
        ident_id=ident_id,
        track_primary=track_primary,
        now=now,
        actor=actor,
    )
    updated = load_dispatch_calls(conn, community_id, [call_id])[0]
    _announce(
        conn, community_id, server_id, now, EventType.EVENT_DISPATCH_EDIT, {"dispatch": updated.model_dump()}
    )
    return updated


def _apply_primary(
    conn: Connection,
    community_id: str,
    server_id: int,
    call_id: int,
    *,
    ident_id: int | None,
    track_primary: bool | None,
    now: int,
    actor: Actor,
) -> bool:
    """The one rule of a call's primary: it must be attached (-1 clears it); None keeps what is stored.

    Stores and logs the change; returns whether anything changed.
    """
    row = require_call(conn, community_id, server_id, call_id, kind=DISPATCH).row
    ident_id = row.primary_ident if ident_id is None else ident_id
    track_primary = row.track_primary if track_primary is None else track_primary
    if ident_id != -1:
        attached = conn.execute(
            select(call_units.c.ident_id).where(
                call_units.c.community_id == community_id,
                call_units.c.call_id == call_id,
                call_units.c.ident_id == ident_id,
            )
        ).first()
        if attached is None:
            raise Conflict(f"Unit {ident_id} is not attached to dispatch call {call_id}; attach it first.")
    if row.primary_ident != ident_id:
        _log(conn, community_id, call_id, now, actor, "primary_changed", identId=ident_id)
    if row.track_primary != track_primary:
        _log(
            conn,
            community_id,
            call_id,
            now,
            actor,
            "field_changed",
            field="trackPrimary",
            before=row.track_primary,
            after=track_primary,
        )
    conn.execute(
        update(dispatch_calls)
        .where(dispatch_calls.c.community_id == community_id, dispatch_calls.c.call_id == call_id)
        .values(primary_ident=ident_id, track_primary=track_primary, updated_at=now)
    )
    return bool(row.primary_ident != ident_id or row.track_primary != track_primary)


def dispatch_call_history(
    conn: Connection,
    *,
    community_id: str,
    server_id: int,
    call_id: int,
    limit: int = MAX_HISTORY_PAGE,
    offset: int = 0,
) -> CallHistory:
    """A page of the changes to a dispatch call in order, and each unit's stints on it."""
    require_call(conn, community_id, server_id, call_id, kind=DISPATCH, removed=True)
    return history.read_history(conn, community_id=community_id, call_id=call_id, limit=limit, offset=offset)


# -- the current call of an account ----------------------------------------------------------------------


def current_call(conn: Connection, *, community_id: str, account_uuid: str) -> CurrentCall:
    """The account's selected unit and the open dispatch call it is on (404 for an unknown account).

    An account selects one unit per server: the one on an open call wins (of its lowest server if
    several are), else the one of its lowest server; with none selected, or no call, the answer holds
    nulls (a 200: the in-game resource sees no error bodies).
    """
    require_account(conn, community_id, account_uuid)
    selected = list(
        conn.execute(
            select(selected_identifiers.c.ident_id)
            .where(
                selected_identifiers.c.community_id == community_id,
                selected_identifiers.c.account_uuid == account_uuid,
            )
            .order_by(selected_identifiers.c.server_id)
        ).scalars()
    )
    if not selected:
        return CurrentCall(IdentId=None, CallId=None)
    on_calls = current_calls(conn, community_id, selected)
    on_call = next((ident for ident in selected if ident in on_calls), None)
    if on_call is None:
        return CurrentCall(IdentId=selected[0], CallId=None)
    return CurrentCall(IdentId=on_call, CallId=on_calls[on_call])


# -- dispatch templates and the calls made from them -----------------------------------------------------


def _template(row: Row[Any]) -> DispatchTemplate:
    layout = TemplateLayout.model_validate_json(row.layout)
    return DispatchTemplate(
        templateId=row.template_id,
        name=row.name,
        version=row.version,
        isDefault=row.is_default,
        statusOptions=layout.statusOptions,
        sections=layout.sections,
    )


def create_template(
    conn: Connection, *, community_id: str, template: NewDispatchTemplate, now: int
) -> DispatchTemplate:
    """Store a community's new dispatch template; the first one, or one marked default, is the default."""
    require_community(conn, community_id)
    ids = list(
        conn.execute(
            select(dispatch_templates.c.template_id).where(dispatch_templates.c.community_id == community_id)
        ).scalars()
    )
    if len(ids) >= MAX_TEMPLATES:
        raise Conflict(f"A community has at most {MAX_TEMPLATES} dispatch templates.")
    template_id = max(ids, default=0) + 1
    is_default = template.isDefault or not ids
    if is_default:
        conn.execute(
            update(dispatch_templates)
            .where(dispatch_templates.c.community_id == community_id)
            .values(is_default=False, updated_at=now)
        )
    layout = TemplateLayout(statusOptions=template.statusOptions, sections=template.sections)
    conn.execute(
        insert(dispatch_templates).values(
            community_id=community_id,
            template_id=template_id,
            name=template.name,
            version=1,
            is_default=is_default,
            layout=layout.model_dump_json(),
            created_at=now,
            updated_at=now,
        )
    )
    return get_template(conn, community_id=community_id, template_id=template_id)


def list_templates(conn: Connection, *, community_id: str) -> DispatchTemplates:
    """Every dispatch template of the community, by id."""
    rows = conn.execute(
        select(dispatch_templates)
        .where(dispatch_templates.c.community_id == community_id)
        .order_by(dispatch_templates.c.template_id)
    )
    return DispatchTemplates([_template(row) for row in rows])


def get_template(conn: Connection, *, community_id: str, template_id: int) -> DispatchTemplate:
    """One dispatch template of the community; 404 otherwise."""
    row = conn.execute(
        select(dispatch_templates).where(
            dispatch_templates.c.community_id == community_id,
            dispatch_templates.c.template_id == template_id,
        )
    ).first()
    if row is None:
        raise NotFound(f"Dispatch template {template_id} does not exist.")
    return _template(row)


# The canonical field each binding fills, and its longest value (the columns' bounds).
_BOUND_TEXT = {"description": 10_000, "code": 64, "title": 255, "address": 1024, "postal": 64, "block": 255}
DEFAULT_CUSTOM_PRIORITY = 2  # a template without a priority field: neither the most nor the least urgent


def open_custom_dispatch_call(
    conn: Connection,
    *,
    community_id: str,
    server_id: int,
    call: NewCustomDispatchCall,
    now: int,
    actor: Actor,
) -> CustomDispatchCall:
    """Make a dispatch call from a template: its values checked against the fields, then stored as any call.

    The status value is a status option's id; a priority value one of its field's options (the first
    is priority 1, the second 2, any later one 3); the units field holds the units the targets resolve
    to (404 when none does). The template as it is now is stored with the call.
    """
    require_server(conn, community_id, server_id)
    template = get_template(conn, community_id=community_id, template_id=call.templateId)
    layout = TemplateLayout(statusOptions=template.statusOptions, sections=template.sections)
    fields = {field.uid: field for field in layout.fields()}
    problems: dict[str, str] = {}
    for uid in call.values:
        if uid not in fields:
            problems[f"values.{uid}"] = f"is not a field of template {template.templateId}"
    canonical: dict[str, Any] = {"priority": DEFAULT_CUSTOM_PRIORITY}
    status_id = ""
    for field in fields.values():
        if field.binding == "units":
            continue  # filled from the targets below
        value = call.values.get(field.uid)
        where = f"values.{field.uid}"
        if value is None or value == "":
            if field.required:
                problems[where] = "is required"
            continue
        if field.binding == "status":
            option = next((o for o in template.statusOptions if o.id == value), None)
            if option is None:
                problems[where] = "must be one of the status option ids: " + ", ".join(
                    o.id for o in template.statusOptions
                )
                continue
            canonical["status"], status_id = option.status, option.id
        elif field.options and value not in field.options:
            problems[where] = "must be one of the field's options"
        elif field.binding == "priority":
            canonical["priority"] = min(field.options.index(value) + 1, 3)
        elif field.binding in _BOUND_TEXT:
            if len(value) > _BOUND_TEXT[field.binding]:
                problems[where] = f"is longer than {_BOUND_TEXT[field.binding]} characters"
            canonical[field.binding] = value
    if problems:
        raise InvalidInput("The values do not fit the template.", problems)
    idents = resolve_target_units(conn, community_id=community_id, server_id=server_id, targets=call)
    units_uid = next(field.uid for field in fields.values() if field.binding == "units")
    values: dict[str, Any] = {**call.values, units_uid: idents}
    stored_values = orjson.dumps(values).decode()
    if len(stored_values.encode()) > MAX_CALL_BYTES:
        raise LimitReached(
            f"The values weigh {len(stored_values.encode())} bytes; the size of a call is at most "
            f"{MAX_CALL_BYTES} bytes. Nothing was stored.",
            "size of a call",
        )
    new_call = NewDispatchCall.model_construct(
        origin=0,
        status=canonical["status"],
        priority=canonical["priority"],
        block=canonical.get("block", ""),
        address=canonical.get("address", ""),
        postal=canonical.get("postal", ""),
        title=canonical.get("title", template.name),
        code=canonical.get("code", ""),
        description=canonical.get("description", ""),
        notes=call.notes,
        communityUserIds=[],
        accounts=[],
        metaData=call.metaData,
        deleteAfterMinutes=call.deleteAfterMinutes or None,
    )
    custom = CustomParts(template=template.model_dump_json(), values=stored_values, status_id=status_id)
    created = open_dispatch_call(
        conn,
        community_id=community_id,
        server_id=server_id,
        call=new_call,
        now=now,
        actor=actor,
        units=idents,
        custom=custom,
    )
    return CustomDispatchCall(**created.model_dump(), template=template, values=values, statusId=status_id)
