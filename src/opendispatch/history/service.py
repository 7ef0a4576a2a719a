"""Rules of the history: append a change, read a call's changes and its units' timelines."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, select

from opendispatch.clock import iso_utc
from opendispatch.history.models import call_history
from opendispatch.history.schemas import Actor, CallHistory, HistoryEntry, UnitTimeline
from opendispatch.storage.database import Prepared, insert_row

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
    _APPEND.run(
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


def read_history(conn: Connection, *, community_id: str, call_id: int) -> CallHistory:
    """A call's changes in the order they happened, and each unit's stints on it."""
    rows = conn.execute(
        select(call_history)
        .where(call_history.c.community_id == community_id, call_history.c.call_id == call_id)
        .order_by(call_history.c.entry_id)
    ).all()
    entries: list[HistoryEntry] = []
    stints: list[dict[str, Any]] = []
    open_stints: dict[int, dict[str, Any]] = {}
    for row in rows:
        details = orjson.loads(row.details)
        entries.append(
            HistoryEntry(
                time=iso_utc(row.time),
                action=row.action,
                actor={"type": row.actor_type, "name": row.actor_name},
                details=details,
            )
        )
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
    return CallHistory(callId=call_id, entries=entries, units=[UnitTimeline(**stint) for stint in stints])
