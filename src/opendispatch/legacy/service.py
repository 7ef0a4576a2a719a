"""The rules v1 adds to the v2 services: a request's items run in order as one unit of work, all or none,
and EDIT_DISPATCH carries what v2 splits into two requests (the call's fields, then its primary).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection

from opendispatch.calls import service as calls
from opendispatch.calls.schemas import DispatchCall
from opendispatch.errors import DomainError
from opendispatch.history.schemas import Actor

T = TypeVar("T")


class ItemFailed(Exception):
    """An item broke a rule of the services; nothing of its request was kept."""

    def __init__(self, label: str, error: DomainError) -> None:
        super().__init__(f"{label}: {error.detail}")
        self.label = label
        self.error = error


def run_items(conn: Connection, steps: Sequence[tuple[str, Callable[[Connection], T]]]) -> list[T]:
    """Run each labelled step in order in this one unit of work; the first that fails undoes them all."""
    results: list[T] = []
    for label, step in steps:
        try:
            results.append(step(conn))
        except DomainError as exc:
            raise ItemFailed(label, exc) from exc
    return results


def edit_dispatch_call(
    conn: Connection,
    *,
    community_id: str,
    server_id: int,
    call_id: int,
    changes: dict[str, Any],
    primary: int | None,
    track_primary: bool | None,
    now: int,
    actor: Actor,
) -> DispatchCall:
    """Change the fields sent, then, when ``primary`` or ``trackPrimary`` is sent, the primary."""
    updated = calls.update_dispatch_call(
        conn,
        community_id=community_id,
        server_id=server_id,
        call_id=call_id,
        changes=changes,
        now=now,
        actor=actor,
    )
    if primary is None and track_primary is None:
        return updated
    return calls.set_primary(
        conn,
        community_id=community_id,
        server_id=server_id,
        call_id=call_id,
        ident_id=updated.primary if primary is None else primary,
        track_primary=updated.trackPrimary if track_primary is None else track_primary,
        now=now,
        actor=actor,
    )
