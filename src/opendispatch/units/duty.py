"""Taking units off duty: a kick puts them OFFLINE and off the calls they are on.

Apart from ``units.service`` because it needs the call rules, which themselves resolve targets there.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import Connection, update

from opendispatch.calls import service as calls
from opendispatch.errors import NotFound
from opendispatch.history.schemas import Actor
from opendispatch.units import service as units
from opendispatch.units.models import identifiers
from opendispatch.units.schemas import Kicked, KickedBatch, KickedUnit, KickOrders, UnitStatus


def kick_units(
    conn: Connection,
    *,
    community_id: str,
    server_id: int,
    orders: KickOrders,
    now: int,
    actor: Actor,
) -> Kicked | KickedBatch:
    """Put the named units OFFLINE (100), off panic, taken off the calls they are on.

    A single kick that names no unit on the server is a 404; in a batch such kicks are skipped (a player
    who left with no unit on duty is no error), and the answer lists the units kicked.
    """
    batch = isinstance(orders.root, list)
    kicks = orders.root if isinstance(orders.root, list) else [orders.root]
    kicked: list[KickedUnit] = []
    for order in kicks:
        try:
            idents = units.resolve_target_units(
                conn, community_id=community_id, server_id=server_id, targets=order
            )
        except NotFound:
            if not batch:
                raise
            continue
        user = order.in_game_ids()[0] if order.in_game_ids() else None
        kicked += [KickedUnit(identId=ident, communityUserId=user, reason=order.reason) for ident in idents]
    idents = list(dict.fromkeys(unit.identId for unit in kicked))
    if idents:
        by_call: dict[int, list[int]] = defaultdict(list)
        for ident, call_id in units.current_calls(conn, community_id, idents).items():
            by_call[call_id].append(ident)
        for call_id, leaving in by_call.items():
            calls.detach_units(
                conn,
                community_id=community_id,
                server_id=server_id,
                call_id=call_id,
                ident_ids=leaving,
                now=now,
                actor=actor,
            )
        conn.execute(
            update(identifiers)
            .where(identifiers.c.community_id == community_id, identifiers.c.ident_id.in_(idents))
            .values(is_panic=False)
        )
        units.set_status(
            conn,
            community_id=community_id,
            server_id=server_id,
            idents=idents,
            status=int(UnitStatus.OFFLINE),
            now=now,
            actor=actor,
        )
    if not batch:
        return Kicked(identId=kicked[0].identId, reason=kicked[0].reason)
    return KickedBatch(count=len(kicked), kicked=kicked)
