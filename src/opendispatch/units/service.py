"""Rules of accounts and units, and how call targets resolve to units."""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from opendispatch.calls.models import call_units, dispatch_calls
from opendispatch.communities.models import servers
from opendispatch.communities.service import hash_secret, require_community, require_server
from opendispatch.errors import Conflict, Forbidden, InvalidInput, NotFound
from opendispatch.events import service as events
from opendispatch.events.schemas import EventType
from opendispatch.history import service as history
from opendispatch.history.schemas import Actor
from opendispatch.units.models import accounts, identifiers, selected_identifiers
from opendispatch.units.schemas import (
    AffectedUnits,
    Coordinates,
    Identifier,
    IdentifierChanges,
    IdentifierList,
    Link,
    LinkSet,
    NewAccount,
    NewIdentifier,
    SelectIdentifier,
    Targets,
    Unit,
    UnitList,
    UnitLocations,
    UnitPanicChange,
    UnitPanicChanged,
    UnitStatus,
    UnitStatusChange,
    UnitStatusChanged,
)

# PENDING and ACTIVE dispatch calls (see calls.schemas.CallStatus).
OPEN_CALL_STATUSES = (0, 1)


def create_account(
    conn: Connection,
    *,
    community_id: str,
    username: str,
    now: int,
    community_user_id: str | None = None,
    discord: str | None = None,
    roblox: str | None = None,
) -> NewAccount:
    """Create an account, optionally linked to an in-game identifier and Discord and Roblox ids."""
    require_community(conn, community_id)
    if not username.strip():
        raise InvalidInput("An account needs a username.", {"username": "must not be empty"})
    if community_user_id is not None and not 0 < len(community_user_id) <= 255:
        raise InvalidInput(
            "A community user id is 1 to 255 characters.", {"communityUserId": "1 to 255 characters"}
        )
    for name, value in (("discord", discord), ("roblox", roblox)):
        if value is not None and not (0 < len(value) <= 64 and value.isdigit()):
            raise InvalidInput(f"A {name} id is 1 to 64 digits.", {name: "1 to 64 digits"})
    account_uuid = str(uuid.uuid4())
    secret_uuid = str(uuid.uuid4())
    try:
        with conn.begin_nested():
            conn.execute(
                insert(accounts).values(
                    account_uuid=account_uuid,
                    community_id=community_id,
                    username=username.strip(),
                    community_user_id=community_user_id,
                    discord=discord,
                    roblox=roblox,
                    secret_hash=hash_secret(secret_uuid),
                    created_at=now,
                )
            )
    except IntegrityError as exc:
        raise Conflict(
            "That username, community user id, Discord or Roblox id is already taken in this community."
        ) from exc
    return NewAccount(account_uuid=account_uuid, secret_uuid=secret_uuid)


def require_account(conn: Connection, community_id: str, account_uuid: str) -> None:
    """Raise NotFound unless the account belongs to the community."""
    found = conn.execute(
        select(accounts.c.account_uuid).where(
            accounts.c.community_id == community_id, accounts.c.account_uuid == account_uuid
        )
    ).first()
    if found is None:
        raise NotFound(f"Account {account_uuid} does not exist.")


def create_unit(
    conn: Connection,
    *,
    community_id: str,
    account_uuid: str,
    server_id: int,
    now: int,
    unit_num: str = "",
    name: str = "",
    department: str = "",
) -> int:
    """Create an identifier for an account and make it the account's selected unit on ``server_id``."""
    require_account(conn, community_id, account_uuid)
    require_server(conn, community_id, server_id)
    ident_id = int(
        conn.execute(
            insert(identifiers)
            .values(
                community_id=community_id,
                account_uuid=account_uuid,
                unit_num=unit_num,
                name=name,
                department=department,
                status=0,
                is_panic=False,
                location="",
                created_at=now,
                updated_at=now,
            )
            .returning(identifiers.c.ident_id)
        ).scalar_one()
    )
    select_unit(
        conn, community_id=community_id, account_uuid=account_uuid, server_id=server_id, ident_id=ident_id
    )
    return ident_id


def select_unit(
    conn: Connection, *, community_id: str, account_uuid: str, server_id: int, ident_id: int
) -> None:
    """Make ``ident_id`` the account's selected unit on the server."""
    changed = conn.execute(
        update(selected_identifiers)
        .where(
            selected_identifiers.c.account_uuid == account_uuid,
            selected_identifiers.c.server_id == server_id,
        )
        .values(ident_id=ident_id)
    )
    if changed.rowcount == 0:
        conn.execute(
            insert(selected_identifiers).values(
                account_uuid=account_uuid, server_id=server_id, community_id=community_id, ident_id=ident_id
            )
        )


def resolve_targets(
    conn: Connection,
    *,
    community_id: str,
    server_id: int,
    community_user_ids: Sequence[str] = (),
    account_uuids: Sequence[str] = (),
) -> list[int]:
    """The selected units on this server of the given linked users and accounts, in the order asked.

    A target that resolves to nothing (unknown, not linked, no unit selected) is left out rather than
    failing the request: a call is never lost because one unit is off duty.
    """
    if not community_user_ids and not account_uuids:
        return []
    rows = conn.execute(
        select(accounts.c.account_uuid, accounts.c.community_user_id, selected_identifiers.c.ident_id)
        .join(selected_identifiers, selected_identifiers.c.account_uuid == accounts.c.account_uuid)
        .where(
            accounts.c.community_id == community_id,
            selected_identifiers.c.server_id == server_id,
            (accounts.c.community_user_id.in_(list(community_user_ids)))
            | (accounts.c.account_uuid.in_(list(account_uuids))),
        )
    ).all()
    by_user = {row.community_user_id: row.ident_id for row in rows if row.community_user_id is not None}
    by_account = {row.account_uuid: row.ident_id for row in rows}
    ordered = [by_user.get(target) for target in community_user_ids]
    ordered += [by_account.get(target) for target in account_uuids]
    return list(dict.fromkeys(ident for ident in ordered if ident is not None))


def resolve_target_units(
    conn: Connection, *, community_id: str, server_id: int, targets: Targets
) -> list[int]:
    """Units named by targets (linked users, accounts, identIds of this community); 404 when none are."""
    if not targets.named():
        raise InvalidInput(
            "Name the units with communityUserIds, accounts or identIds.",
            {"communityUserIds": "at least one target is needed"},
        )
    idents = resolve_targets(
        conn,
        community_id=community_id,
        server_id=server_id,
        community_user_ids=targets.communityUserIds or (),
        account_uuids=targets.accounts or (),
    )
    if targets.identIds:
        # An identId names a unit on this server only if some account has it selected here.
        known = set(
            conn.execute(
                select(selected_identifiers.c.ident_id).where(
                    selected_identifiers.c.community_id == community_id,
                    selected_identifiers.c.server_id == server_id,
                    selected_identifiers.c.ident_id.in_(targets.identIds),
                )
            ).scalars()
        )
        idents += [ident for ident in targets.identIds if ident in known]
    idents = list(dict.fromkeys(idents))
    if not idents:
        raise NotFound("None of the targets is a unit on this server.")
    return idents


def _current_calls(conn: Connection, community_id: str, ident_ids: Sequence[int]) -> dict[int, int]:
    rows = conn.execute(
        select(call_units.c.ident_id, call_units.c.call_id)
        .join(
            dispatch_calls,
            (dispatch_calls.c.community_id == call_units.c.community_id)
            & (dispatch_calls.c.call_id == call_units.c.call_id),
        )
        .where(
            call_units.c.community_id == community_id,
            call_units.c.ident_id.in_(list(ident_ids)),
            dispatch_calls.c.status.in_(OPEN_CALL_STATUSES),
            dispatch_calls.c.removed_at.is_(None),
        )
    )
    return {row.ident_id: row.call_id for row in rows}


def list_units(
    conn: Connection, *, community_id: str, server_id: int, include_offline: bool, limit: int, offset: int
) -> UnitList:
    """Units selected on the server, by identId; offline (UNAVAILABLE) ones only when asked for."""
    require_server(conn, community_id, server_id)
    on_server = (selected_identifiers.c.community_id == community_id) & (
        selected_identifiers.c.server_id == server_id
    )
    if not include_offline:
        on_server &= identifiers.c.status != int(UnitStatus.UNAVAILABLE)
    joined = identifiers.join(
        selected_identifiers, selected_identifiers.c.ident_id == identifiers.c.ident_id
    ).join(accounts, accounts.c.account_uuid == identifiers.c.account_uuid)
    total = conn.execute(select(func.count()).select_from(joined).where(on_server)).scalar_one()
    rows = conn.execute(
        select(identifiers, accounts.c.community_user_id)
        .select_from(joined)
        .where(on_server)
        .order_by(identifiers.c.ident_id)
        .limit(limit)
        .offset(offset)
    ).all()
    calls = _current_calls(conn, community_id, [row.ident_id for row in rows])
    units = [
        Unit(
            identId=row.ident_id,
            accountUuid=row.account_uuid,
            communityUserId=row.community_user_id,
            unitNum=row.unit_num,
            name=row.name,
            department=row.department,
            status=row.status,
            isPanic=row.is_panic,
            location=row.location,
            coordinates=Coordinates(x=row.x, y=row.y, z=row.z or 0.0) if row.x is not None else None,
            callId=calls.get(row.ident_id),
        )
        for row in rows
    ]
    return UnitList(units=units, total=total)


def set_unit_status(
    conn: Connection,
    *,
    community_id: str,
    server_id: int,
    change: UnitStatusChange,
    now: int,
    actor: Actor,
) -> UnitStatusChanged:
    """Set the status of the named units; the call each is on records it (en route, on scene)."""
    idents = resolve_target_units(conn, community_id=community_id, server_id=server_id, targets=change)
    conn.execute(
        update(identifiers)
        .where(identifiers.c.community_id == community_id, identifiers.c.ident_id.in_(idents))
        .values(status=change.status, updated_at=now)
    )
    for ident, call_id in _current_calls(conn, community_id, idents).items():
        history.record(
            conn,
            community_id=community_id,
            call_id=call_id,
            call_kind="dispatch",
            now=now,
            actor=actor,
            action="unit_status",
            identId=ident,
            status=change.status,
        )
    changed = UnitStatusChanged(identIds=idents, status=change.status)
    events.emit(
        conn,
        community_id=community_id,
        server_id=server_id,
        type=EventType.EVENT_UNIT_STATUS,
        data=changed.model_dump(),
        now=now,
    )
    return changed


def set_unit_panic(
    conn: Connection, *, community_id: str, server_id: int, change: UnitPanicChange, now: int
) -> UnitPanicChanged:
    """Raise or clear the panic flag of the named units."""
    idents = resolve_target_units(conn, community_id=community_id, server_id=server_id, targets=change)
    conn.execute(
        update(identifiers)
        .where(identifiers.c.community_id == community_id, identifiers.c.ident_id.in_(idents))
        .values(is_panic=change.isPanic, updated_at=now)
    )
    changed = UnitPanicChanged(identIds=idents, isPanic=change.isPanic)
    events.emit(
        conn,
        community_id=community_id,
        server_id=server_id,
        type=EventType.EVENT_UNIT_PANIC,
        data=changed.model_dump(),
        now=now,
    )
    return changed


def update_unit_locations(
    conn: Connection, *, community_id: str, server_id: int, updates: UnitLocations, now: int
) -> AffectedUnits:
    """Store each reported location; updates that name no unit on this server are skipped."""
    require_server(conn, community_id, server_id)
    moved: list[int] = []
    for report in updates.updates:
        named = Targets(
            communityUserIds=[report.communityUserId] if report.communityUserId else None,
            accounts=[report.accountUuid] if report.accountUuid else None,
            identIds=[report.identId] if report.identId is not None else None,
        )
        if not named.named():
            continue
        try:
            idents = resolve_target_units(conn, community_id=community_id, server_id=server_id, targets=named)
        except NotFound:
            continue  # a player who has no unit on duty is not an error: location feeds are continuous
        values: dict[str, Any] = {"location": report.location, "updated_at": now}
        if report.coordinates is not None:
            values |= {"x": report.coordinates.x, "y": report.coordinates.y, "z": report.coordinates.z}
        conn.execute(
            update(identifiers)
            .where(identifiers.c.community_id == community_id, identifiers.c.ident_id.in_(idents))
            .values(**values)
        )
        moved += idents
    return AffectedUnits(identIds=list(dict.fromkeys(moved)))


def _identifier(row: Any) -> Identifier:
    return Identifier(
        identId=row.ident_id,
        unitNum=row.unit_num,
        name=row.name,
        department=row.department,
        status=row.status,
        isPanic=row.is_panic,
    )


def _identifier_row(conn: Connection, community_id: str, account_uuid: str, ident_id: int) -> Any:
    row = conn.execute(
        select(identifiers).where(
            identifiers.c.community_id == community_id,
            identifiers.c.account_uuid == account_uuid,
            identifiers.c.ident_id == ident_id,
        )
    ).first()
    if row is None:
        raise NotFound(f"Identifier {ident_id} does not exist on account {account_uuid}.")
    return row


def list_identifiers(conn: Connection, *, community_id: str, account_uuid: str) -> IdentifierList:
    """An account's identifiers, and which one it has selected on each server."""
    require_account(conn, community_id, account_uuid)
    rows = conn.execute(
        select(identifiers)
        .where(identifiers.c.community_id == community_id, identifiers.c.account_uuid == account_uuid)
        .order_by(identifiers.c.ident_id)
    )
    selected = conn.execute(
        select(selected_identifiers.c.server_id, selected_identifiers.c.ident_id).where(
            selected_identifiers.c.account_uuid == account_uuid
        )
    )
    return IdentifierList(
        identifiers=[_identifier(row) for row in rows],
        selected={str(server_id): ident_id for server_id, ident_id in selected},
    )


def create_identifier(
    conn: Connection, *, community_id: str, account_uuid: str, fields: NewIdentifier, now: int
) -> Identifier:
    """Add an identifier to an account (select it to put it on a server)."""
    require_account(conn, community_id, account_uuid)
    ident_id = conn.execute(
        insert(identifiers)
        .values(
            community_id=community_id,
            account_uuid=account_uuid,
            unit_num=fields.unitNum,
            name=fields.name,
            department=fields.department,
            status=int(UnitStatus.UNAVAILABLE),
            is_panic=False,
            location="",
            created_at=now,
            updated_at=now,
        )
        .returning(identifiers.c.ident_id)
    ).scalar_one()
    return _identifier(_identifier_row(conn, community_id, account_uuid, ident_id))


def update_identifier(
    conn: Connection,
    *,
    community_id: str,
    account_uuid: str,
    ident_id: int,
    fields: IdentifierChanges,
    now: int,
) -> Identifier:
    """Change the identifier fields sent."""
    _identifier_row(conn, community_id, account_uuid, ident_id)
    columns = {"unitNum": "unit_num", "name": "name", "department": "department"}
    values = {columns[name]: getattr(fields, name) for name in fields.model_fields_set if name in columns}
    if values:
        conn.execute(
            update(identifiers).where(identifiers.c.ident_id == ident_id).values(**values, updated_at=now)
        )
    return _identifier(_identifier_row(conn, community_id, account_uuid, ident_id))


def delete_identifier(
    conn: Connection, *, community_id: str, account_uuid: str, ident_id: int
) -> IdentifierList:
    """Delete an identifier that never worked a call; return the account's remaining identifiers."""
    _identifier_row(conn, community_id, account_uuid, ident_id)
    on_call = _current_calls(conn, community_id, [ident_id])
    if on_call:
        raise Conflict(f"Identifier {ident_id} is on dispatch call {on_call[ident_id]}; detach it first.")
    worked = conn.execute(
        select(call_units.c.call_id).where(
            call_units.c.community_id == community_id, call_units.c.ident_id == ident_id
        )
    ).first()
    if worked is not None:
        raise Conflict(
            f"Identifier {ident_id} is on closed call {worked.call_id}; it is kept for the record."
        )
    conn.execute(selected_identifiers.delete().where(selected_identifiers.c.ident_id == ident_id))
    conn.execute(identifiers.delete().where(identifiers.c.ident_id == ident_id))
    return list_identifiers(conn, community_id=community_id, account_uuid=account_uuid)


def choose_identifier(
    conn: Connection, *, community_id: str, account_uuid: str, choice: SelectIdentifier
) -> IdentifierList:
    """Select an identifier on one server, or on every server of the community when none is named."""
    _identifier_row(conn, community_id, account_uuid, choice.identId)
    if choice.serverId is not None:
        require_server(conn, community_id, choice.serverId)
        server_ids = [choice.serverId]
    else:
        server_ids = list(
            conn.execute(select(servers.c.server_id).where(servers.c.community_id == community_id)).scalars()
        )
    for server_id in server_ids:
        select_unit(
            conn,
            community_id=community_id,
            account_uuid=account_uuid,
            server_id=server_id,
            ident_id=choice.identId,
        )
    return list_identifiers(conn, community_id=community_id, account_uuid=account_uuid)


def set_link(conn: Connection, *, community_id: str, link: LinkSet, now: int) -> Link:
    """Link an in-game identifier to an account, proven by the account's secret uuid."""
    row = conn.execute(
        select(accounts.c.secret_hash).where(
            accounts.c.community_id == community_id, accounts.c.account_uuid == link.accountUuid
        )
    ).first()
    if row is None or not hmac.compare_digest(row.secret_hash, hash_secret(link.secretUuid)):
        # The docs' 403, which does not tell whether the account or the secret was wrong.
        raise Forbidden("No account matches that accountUuid and secretUuid.")
    return link_account(
        conn,
        community_id=community_id,
        account_uuid=link.accountUuid,
        community_user_id=link.communityUserId,
        now=now,
    )


def link_account(
    conn: Connection, *, community_id: str, account_uuid: str, community_user_id: str, now: int
) -> Link:
    """Link an in-game identifier to an account, moving it off any other account that had it."""
    # The docs' atomic reassignment: the player proved the id in game, the holder proved the account.
    conn.execute(
        update(accounts)
        .where(
            accounts.c.community_id == community_id,
            accounts.c.community_user_id == community_user_id,
            accounts.c.account_uuid != account_uuid,
        )
        .values(community_user_id=None)
    )
    conn.execute(
        update(accounts)
        .where(accounts.c.community_id == community_id, accounts.c.account_uuid == account_uuid)
        .values(community_user_id=community_user_id)
    )
    linked = Link(linked=True, accountUuid=account_uuid, communityUserId=community_user_id)
    # Every game server learns of it: the one where the player typed /link closes its popup.
    for server_id in conn.execute(
        select(servers.c.server_id)
        .where(servers.c.community_id == community_id)
        .order_by(servers.c.server_id)
    ).scalars():
        events.emit(
            conn,
            community_id=community_id,
            server_id=server_id,
            type=EventType.EVENT_COMMUNITY_LINK_VERIFIED,
            data={"communityUserId": community_user_id, "accountUuid": account_uuid},
            now=now,
        )
    return linked


def check_link(conn: Connection, *, community_id: str, community_user_id: str) -> Link:
    """Whether a community user id is linked to an account of the community."""
    account = conn.execute(
        select(accounts.c.account_uuid).where(
            accounts.c.community_id == community_id, accounts.c.community_user_id == community_user_id
        )
    ).scalar()
    return Link(linked=account is not None, accountUuid=account, communityUserId=community_user_id)
