"""The audit log's rules: what an entry holds, and reading it a page at a time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, insert, select

from opendispatch.admin.models import audit_log
from opendispatch.admin.schemas import AuditEntry, AuditPage
from opendispatch.clock import iso_utc
from opendispatch.errors import InvalidInput

MAX_DETAIL_BYTES = 4096
MAX_AUDIT_PAGE = 200


def record(
    conn: Connection,
    *,
    community_id: str,
    actor_account_uuid: str,
    actor_name: str,
    action: str,
    target: str = "",
    detail: Mapping[str, Any] | None = None,
    now: int,
) -> None:
    """Write one audit entry in the caller's transaction; ``detail`` must hold no secret."""
    encoded = orjson.dumps(dict(detail or {}))
    if len(encoded) > MAX_DETAIL_BYTES:
        # A detail this large is a bug in the caller: the entry is still written, with what fits.
        encoded = orjson.dumps({"truncated": True})
    conn.execute(
        insert(audit_log).values(
            community_id=community_id,
            at=now,
            actor_account_uuid=actor_account_uuid,
            actor_name=actor_name[:255],
            action=action[:64],
            target=target[:255],
            detail=encoded.decode(),
        )
    )


@dataclass(frozen=True, slots=True)
class Actor:
    """The admin (or, answering an invite, the new member) an audit entry names."""

    account_uuid: str
    name: str


def audit(
    conn: Connection,
    community_id: str,
    actor: Actor,
    action: str,
    target: str,
    detail: Mapping[str, Any] | None,
    now: int,
) -> None:
    """``record`` for an admin's change: the one way the admin pages write their audit entries."""
    record(
        conn,
        community_id=community_id,
        actor_account_uuid=actor.account_uuid,
        actor_name=actor.name,
        action=action,
        target=target,
        detail=detail,
        now=now,
    )


def audit_page(conn: Connection, *, community_id: str, limit: int, before: int | None = None) -> AuditPage:
    """The community's newest entries (older than entry ``before`` when given), at most ``limit``."""
    if not 1 <= limit <= MAX_AUDIT_PAGE:
        raise InvalidInput(f"limit is 1 to {MAX_AUDIT_PAGE}.", {"limit": "out of range"})
    query = select(audit_log).where(audit_log.c.community_id == community_id)
    if before is not None:
        query = query.where(audit_log.c.entry_id < before)
    rows = conn.execute(query.order_by(audit_log.c.entry_id.desc()).limit(limit + 1)).all()
    entries = [
        AuditEntry(
            entryId=row.entry_id,
            at=iso_utc(row.at),
            actor=row.actor_name,
            actorAccountUuid=row.actor_account_uuid,
            action=row.action,
            target=row.target,
            detail=orjson.loads(row.detail),
        )
        for row in rows[:limit]
    ]
    return AuditPage(entries=entries, before=entries[-1].entryId if len(rows) > limit else None)
