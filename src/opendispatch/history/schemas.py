"""Wire format of the call history."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change: an API key, a console user, or the server itself.

    A console user's linked in-game id and API ids travel with the 911 calls they place.
    """

    type: str
    name: str
    community_user_id: str | None = None
    api_ids: tuple[str, ...] = ()


SYSTEM = Actor("system", "opendispatch")


class HistoryEntry(BaseModel):
    """One change to a call."""

    time: str
    action: str
    actor: dict[str, str]
    details: dict[str, Any]


class UnitTimeline(BaseModel):
    """One stint of a unit on a call: when it was attached, went en route, arrived and cleared."""

    identId: int
    attached: str
    enroute: str | None
    onScene: str | None
    cleared: str | None


# Entries in one answer of a call's history (its ``limit``): an entry holds at most a field's text before
# and after, so a page stays bounded however long the call's history grows (it is never pruned).
MAX_HISTORY_PAGE = 100


class CallHistory(BaseModel):
    """Answer of ``GET .../dispatch-calls/{callId}/history``: a page of entries, every stint of its units."""

    callId: int
    entries: list[HistoryEntry]
    units: list[UnitTimeline]
    entryCount: int = 0  # entries of the whole history; more than listed: ask with a later offset
