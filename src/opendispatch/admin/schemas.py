"""Shapes of the admin pages' answers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class AuditEntry(BaseModel):
    """One admin action: who, when, what, to what."""

    entryId: int
    at: str  # ISO 8601, UTC
    actor: str
    actorAccountUuid: str
    action: str
    target: str
    detail: dict[str, Any]


class AuditPage(BaseModel):
    """A page of the audit log, newest first; ``before`` asks for the next page."""

    entries: list[AuditEntry]
    before: int | None
