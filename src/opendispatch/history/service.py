"""Rules of the history: append a change, read a call's changes and its units' timelines."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, func, select

from opendispatch.clock import iso_utc
from opendispatch.history.models import call_history
from opendispatch.history.schemas import MAX_HISTORY_PAGE, Actor, CallHistory, HistoryEntry, UnitTimeline
from opendispatch.storage.statements import Prepared, insert_row

# Unit statuses that mark a stint's milestones (see units.schemas.UnitStatus).
ENROUTE = 3
ON_SCENE = 4

_APPEND = Prepared(insert_row(call_history))


def record(
    conn: Connection,
    *,
    community_id: str,
    call_id: int,
    call_kind: str,
    now: int,
    actor: Actor,
    action: str,
    **details: Any,
) -> None:
    """Append one change to a call's history."""
    _APPEND.defer(
        conn,
        {
            "community_id": community_id,
            "call_id": call_id,
            "call_kind": call_kind,
            "time": now,
            "actor_type": actor.type,
            "actor_name": actor.name,
            "action": action,
            "details": orjson.dumps(details).decode(),
        },
    )


_STINT_ACTIONS = ("unit_attached", "unit_status", "unit_detached", "closed", "removed")


def _entry(row: Any) -> HistoryEntry:
    return HistoryEntry(
        time=iso_utc(row.time),
        action=row.action,
        actor={"type": row.actor_type, "name": row.actor_name},
        details=orjson.loads(row.details),
    )


def read_history(
    conn: Connection, *, community_id: str, call_id: int, limit: int = MAX_HISTORY_PAGE, offset: int = 0
) -> CallHistory:
    """A page of a call's changes in the order they happened, and each unit's stints on it (all of them).

    The stints are read from the few small entries that make them, so a long history costs its page.
    """
    of_call = (call_history.c.community_id == community_id) & (call_history.c.call_id == call_id)
    total = conn.execute(select(func.count()).select_from(call_history).where(of_call)).scalar_one()
    page = conn.execute(
        select(call_history).where(of_call).order_by(call_history.c.entry_id).limit(limit).offset(offset)
    ).all()
    marks = conn.execute(
        select(call_history.c.time, call_history.c.action, call_history.c.details)
        .where(of_call, call_history.c.action.in_(_STINT_ACTIONS))
        .order_by(call_history.c.entry_id)
    ).all()
    stints: list[dict[str, Any]] = []
    open_stints: dict[int, dict[str, Any]] = {}
    for row in marks:
        details = orjson.loads(row.details)
        when = iso_utc(row.time)
        if row.action == "unit_attached":
            stint = {"identId": details["identId"], "attached": when, "enroute": None, "onScene": None}
            stint["cleared"] = None
            stints.append(stint)
            open_stints[details["identId"]] = stint
        elif row.action == "unit_status" and details["identId"] in open_stints:
            stint = open_stints[details["identId"]]
            if details["status"] == ENROUTE and stint["enroute"] is None:
                stint["enroute"] = when
            elif details["status"] == ON_SCENE and stint["onScene"] is None:
                stint["onScene"] = when
        elif row.action == "unit_detached" and details["identId"] in open_stints:
            open_stints.pop(details["identId"])["cleared"] = when
        elif row.action in {"closed", "removed"}:
            for stint in open_stints.values():
                stint["cleared"] = when
            open_stints.clear()
    return CallHistory(
        callId=call_id,
        entries=[_entry(row) for row in page],
        units=[UnitTimeline(**stint) for stint in stints],
        entryCount=total,
    )
