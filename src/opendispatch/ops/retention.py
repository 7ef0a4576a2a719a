"""Retention: what the server stops keeping, and when.

Finished push events (delivered, dead or skipped) and their delivery attempts go after
``event_retention_days``; so do older attempts of events still pending. Ended console sessions and
expired link codes go at once. The call history is never pruned, nor an event still to be delivered.
Deletes run a bounded batch per transaction, so a first prune of a large backlog never holds the writer
long; several processes pruning at once only delete the same rows once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from opendispatch.accounts.service import prune_link_codes
from opendispatch.api.state import AppState
from opendispatch.events.service import prune_attempts, prune_events
from opendispatch.storage.database import Database
from opendispatch.web.sessions import prune_sessions

log = logging.getLogger(__name__)

PRUNE_BATCH = 2000  # rows per transaction
DAY_MS = 86_400_000


@dataclass
class Pruned:
    """How many rows one prune removed, by kind."""

    events: int = 0
    attempts: int = 0
    sessions: int = 0
    link_codes: int = 0

    def total(self) -> int:
        return self.events + self.attempts + self.sessions + self.link_codes


async def prune(db: Database, *, now: int, keep_days: float, batch: int = PRUNE_BATCH) -> Pruned:
    """Remove everything past its retention, ``batch`` rows per transaction until none is left."""
    before = now - int(keep_days * DAY_MS)
    pruned = Pruned()
    while True:
        removed = await db.write(prune_events, before=before, batch=batch)
        pruned.events += removed
        if removed < batch:
            break
    while True:
        removed = await db.write(prune_attempts, before=before, batch=batch)
        pruned.attempts += removed
        if removed < batch:
            break
    pruned.sessions = await db.write(prune_sessions, now=now)
    pruned.link_codes = await db.write(prune_link_codes, now=now)
    return pruned


async def prune_forever(state: AppState) -> None:
    """Prune every ``prune_interval_seconds`` (a failure is logged and tried next time)."""
    while True:
        try:
            pruned = await prune(
                state.db, now=state.clock.now_ms(), keep_days=state.settings.event_retention_days
            )
        except Exception:
            log.exception("pruning old events and sessions failed; trying again later")
        else:
            if pruned.total():
                log.info(
                    "pruned %d event(s), %d delivery attempt(s), %d ended session(s), %d link code(s)",
                    pruned.events,
                    pruned.attempts,
                    pruned.sessions,
                    pruned.link_codes,
                )
        await asyncio.sleep(state.settings.prune_interval_seconds)
