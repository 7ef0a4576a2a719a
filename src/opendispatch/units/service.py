"""Rules of accounts and units, and how call targets resolve to units."""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from opendispatch.accounts.schemas import ROLES
from opendispatch.calls.models import call_units, dispatch_calls
from opendispatch.calls.schemas import CallStatus
from opendispatch.communities.models import servers
from opendispatch.communities.service import hash_secret, require_community, require_server
from opendispatch.errors import Conflict, Forbidden, InvalidInput, LimitReached, NotFound
from opendispatch.events import service as events
from opendispatch.events.schemas import EventType
from opendispatch.history import service as history
from opendispatch.history.schemas import Actor
from opendispatch.storage.database import announce
from opendispatch.units.models import account_api_ids, accounts, identifiers, selected_identifiers
from opendispatch.units.schemas import (
    IDENTIFIER_COLUMNS,
    MAX_IDENTIFIERS_PER_ACCOUNT,
    MAX_TARGETS,
    MAX_UNITS_PER_SERVER,
    Coordinates,
    GroupSet,
    Identifier,
    IdentifierChanges,
    IdentifierDeleted,
    IdentifierList,
    IdentifierSelected,
    Link,
    LinkSet,
    LocationUpdate,
    NewAccount,
    NewIdentifier,
    SelectIdentifier,
    Targets,
    Unit,
    UnitList,
    UnitLocations,
    UnitPanicChange,
    UnitPanicChanged,
    UnitPosition,
    UnitRecord,
    UnitStatus,
    UnitStatusChange,
    UnitStatusChanged,
    UnitsUpdated,
    active_unit,
)

# Commit topic (storage.database.announce) of positions stored by a request: units.positions streams them.
UNITS_MOVED = "units moved"

# PENDING and ACTIVE dispatch calls (see calls.schemas.CallStatus).
OPEN_CALL_STATUSES = (int(CallStatus.PENDING), int(CallStatus.ACTIVE))


def create_account(
    conn: Connection,
    *,
    community_id: str,
    username: str,
    now: int,
    community_user_id: str | None = None,
    discord: str | None = None,
    roblox: str | None = None,
    roles: Collection[str] = ("member",),
) -> NewAccount:
    """Create an account with its roles, optionally linked to an in-game identifier and Discord and
    Roblox ids."""
    require_community(conn, community_id)
    flags = role_columns(roles)
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
                    **flags,
                )
            )
    except IntegrityError as exc:
        raise Conflict(
            "That username, community user id, Discord or Roblox id is already taken in this community."
        ) from exc
    return NewAccount(account_uuid=account_uuid, secret_uuid=secret_uuid)


def role_columns(roles: Collection[str]) -> dict[str, bool]:
    """The ``is_<role>`` column values of a set of roles; an unknown role is refused."""
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise InvalidInput(
            f"Unknown role {unknown[0]!r}; one of: {', '.join(ROLES)}.", {"roles": "unknown role"}
        )
    return {f"is_{role}": role in roles for role in ROLES}


def _require_identifier_room(conn: Connection, community_id: str, account_uuid: str) -> None:
    held = conn.execute(
        select(func.count())
        .select_from(identifiers)
        .where(identifiers.c.community_id == community_id, identifiers.c.account_uuid == account_uuid)
    ).scalar_one()
    if held >= MAX_IDENTIFIERS_PER_ACCOUNT:
        raise LimitReached(
            f"Account {account_uuid} has {held} identifiers, the most an account may (identifiers per "
            f"account: {MAX_IDENTIFIERS_PER_ACCOUNT}). Delete one first. Nothing was stored.",
            "identifiers per account",
        )


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
    _require_identifier_room(conn, community_id, account_uuid)
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
    _announce_duty(
        conn, community_id=community_id, before=set(), after=_on_duty(conn, community_id, [ident_id]), now=now
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
        held = conn.execute(
            select(func.count())
            .select_from(selected_identifiers)
            .where(
                selected_identifiers.c.community_id == community_id,
                selected_identifiers.c.server_id == server_id,
            )
        ).scalar_one()
        if held >= MAX_UNITS_PER_SERVER:
            raise LimitReached(
                f"Server {server_id} has {held} units, the most it may (units per server: "
                f"{MAX_UNITS_PER_SERVER}). Nothing was stored.",
                "units per server",
            )
        conn.execute(
            insert(selected_identifiers).values(
                account_uuid=account_uuid, server_id=server_id, community_id=community_id, ident_id=ident_id
            )
        )


@dataclass(frozen=True, slots=True)
class _Holders:
    """Which account each target value of a batch of targets names (unknown values absent)."""

    by_in_game_id: dict[str, str]
    known_accounts: set[str]
    by_discord: dict[str, str]
    by_roblox: dict[str, str]

    def named(self, targets: Targets) -> list[str]:
        """The accounts ``targets`` name, in the order named: in-game ids, uuids, Discord, Roblox."""
        named = [self.by_in_game_id[each] for each in targets.in_game_ids() if each in self.by_in_game_id]
        named += [each for each in targets.account_uuids() if each in self.known_accounts]
        if targets.discord in self.by_discord:
            named.append(self.by_discord[targets.discord])
        if targets.roblox in self.by_roblox:
            named.append(self.by_roblox[targets.roblox])
        return list(dict.fromkeys(named))


def _holders(conn: Connection, community_id: str, batch: Sequence[Targets]) -> _Holders:
    # One query per kind of target for the whole batch: a hub call of 25 positions costs four reads.
    in_game = sorted({each for targets in batch for each in targets.in_game_ids()})
    uuids = sorted({each for targets in batch for each in targets.account_uuids()})
    by_in_game_id: dict[str, str] = {}
    known: set[str] = set()
    by_column: dict[str, dict[str, str]] = {"discord": {}, "roblox": {}}
    if in_game:
        held = conn.execute(
            select(account_api_ids.c.api_id, account_api_ids.c.account_uuid).where(
                account_api_ids.c.community_id == community_id, account_api_ids.c.api_id.in_(in_game)
            )
        )
        by_in_game_id |= {row.api_id: row.account_uuid for row in held}
        linked = conn.execute(
            select(accounts.c.community_user_id, accounts.c.account_uuid).where(
                accounts.c.community_id == community_id, accounts.c.community_user_id.in_(in_game)
            )
        )
        by_in_game_id |= {row.community_user_id: row.account_uuid for row in linked}  # a link wins
    if uuids:
        known = set(
            conn.execute(
                select(accounts.c.account_uuid).where(
                    accounts.c.community_id == community_id, accounts.c.account_uuid.in_(uuids)
                )
            ).scalars()
        )
    for name, column in (("discord", accounts.c.discord), ("roblox", accounts.c.roblox)):
        values = sorted({value for targets in batch if (value := getattr(targets, name))})
        if values:
            rows = conn.execute(
                select(column, accounts.c.account_uuid).where(
                    accounts.c.community_id == community_id, column.in_(values)
                )
            )
            by_column[name] = {row[0]: row.account_uuid for row in rows}
    return _Holders(by_in_game_id, known, by_column["discord"], by_column["roblox"])


def accounts_named(conn: Connection, *, community_id: str, targets: Targets) -> list[str]:
    """The accounts of the community the targets name, in the order named (unknown ones left out).

    An in-game id (``communityUserId(s)``, ``units``, ``apiId(s)``) names the account linked to it or
    holding it as an API id; ``accountUuid``/``accounts``, ``discord`` and ``roblox`` name theirs directly.
    """
    return _holders(conn, community_id, [targets]).named(targets)


def resolve_targets(conn: Connection, *, community_id: str, server_id: int, targets: Targets) -> list[int]:
    """The units on this server the targets name, in the order named, each once.

    An account named by any target gives its selected identifier on the server; ``groupName`` the
    server's units of that group; ``identIds`` themselves when they are units on the server. A target
    that resolves to nothing (unknown, not linked, no unit selected) is left out rather than failing the
    request: a call is never lost because one unit is off duty.
    """
    return resolve_each(conn, community_id=community_id, server_id=server_id, batch=[targets])[0]


def resolve_each(
    conn: Connection, *, community_id: str, server_id: int, batch: Sequence[Targets]
) -> list[list[int]]:
    """``resolve_targets`` for each of several targets at once, with one query per kind of target."""
    holders = _holders(conn, community_id, batch)
    named = [holders.named(targets) for targets in batch]
    on_server = (selected_identifiers.c.community_id == community_id) & (
        selected_identifiers.c.server_id == server_id
    )
    selected: dict[str, int] = {}
    every_account = sorted({account for accounts_of in named for account in accounts_of})
    if every_account:
        rows = conn.execute(
            select(selected_identifiers.c.account_uuid, selected_identifiers.c.ident_id).where(
                on_server, selected_identifiers.c.account_uuid.in_(every_account)
            )
        )
        selected = {row.account_uuid: row.ident_id for row in rows}
    groups: dict[str, list[int]] = {}
    for group in sorted({targets.groupName for targets in batch if targets.groupName}):
        groups[group] = list(
            conn.execute(
                select(identifiers.c.ident_id)
                .join(selected_identifiers, selected_identifiers.c.ident_id == identifiers.c.ident_id)
                .where(on_server, identifiers.c.group_name == group)
                .order_by(identifiers.c.ident_id)
                .limit(MAX_TARGETS)
            ).scalars()
        )
    asked = sorted({ident for targets in batch for ident in targets.identIds or ()})
    known: set[int] = set()
    if asked:
        known = set(
            conn.execute(
                select(selected_identifiers.c.ident_id).where(
                    on_server, selected_identifiers.c.ident_id.in_(asked)
                )
            ).scalars()
        )
    resolved: list[list[int]] = []
    for targets, accounts_of in zip(batch, named, strict=True):
        idents = [selected[account] for account in accounts_of if account in selected]
        idents += groups.get(targets.groupName or "", [])
        idents += [ident for ident in targets.identIds or () if ident in known]
        resolved.append(list(dict.fromkeys(idents)))
    return resolved


def resolve_target_units(
    conn: Connection, *, community_id: str, server_id: int, targets: Targets
) -> list[int]:
    """The units the targets name on the server; 400 when none is named, 404 when none is found."""
    if not targets.named():
        raise InvalidInput(
            "Name the units with communityUserId(s), units, apiId(s), accountUuid, accounts, discord, "
            "roblox, groupName or identIds.",
            {"communityUserIds": "at least one target is needed"},
        )
    require_server(conn, community_id, server_id)
    idents = resolve_targets(conn, community_id=community_id, server_id=server_id, targets=targets)
    if not idents:
        raise NotFound("None of the targets is a unit on this server.")
    return idents


def require_named_account(conn: Connection, *, community_id: str, targets: Targets) -> str:
    """The one account the targets name (v1 names a person by apiId or account); 404 when none."""
    named = accounts_named(conn, community_id=community_id, targets=targets)
    if not named:
        raise NotFound("No account of this community matches that apiId or account.")
    return named[0]


def current_calls(conn: Connection, community_id: str, ident_ids: Sequence[int]) -> dict[int, int]:
    """The open dispatch call each of the units is on (the one attached last, if a reopen left two)."""
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
        .order_by(call_units.c.attached_at, call_units.c.call_id)  # later rows win below
    )
    return {row.ident_id: row.call_id for row in rows}


def _unit(row: Any, call_id: int | None) -> Unit:
    located = row.x is not None and row.y is not None
    return Unit(
        identId=row.ident_id,
        accountUuid=row.account_uuid,
        communityUserId=row.community_user_id,
        unitNum=row.unit_num,
        name=row.name,
        department=row.department,
        district=row.district,
        subdivision=row.subdivision,
        rank=row.rank,
        group=row.group_name,
        page=row.page,
        aop=row.aop,
        isDispatch=row.is_dispatch,
        status=row.status,
        isPanic=row.is_panic,
        location=row.location,
        coordinates=Coordinates(x=row.x, y=row.y, z=row.z or 0.0, w=row.heading) if located else None,
        locatedAt=row.located_at,
        callId=call_id,
    )


def list_units(
    conn: Connection,
    *,
    community_id: str,
    server_id: int,
    include_offline: bool,
    limit: int,
    offset: int,
    only_units: bool = False,
    account_uuid: str | None = None,
    selected_only: bool = True,
) -> UnitList:
    """Units on the server by identId: the identifiers selected on it, OFFLINE (100) ones only when asked.

    ``only_units`` leaves dispatchers out; ``account_uuid`` keeps one account's, and with
    ``selected_only`` false lists every identifier of that account, selected on the server or not.
    """
    require_server(conn, community_id, server_id)
    if account_uuid is not None:
        require_account(conn, community_id, account_uuid)
    selected = (
        (selected_identifiers.c.ident_id == identifiers.c.ident_id)
        & (selected_identifiers.c.community_id == community_id)
        & (selected_identifiers.c.server_id == server_id)
    )
    joined = identifiers.join(accounts, accounts.c.account_uuid == identifiers.c.account_uuid)
    where = identifiers.c.community_id == community_id
    if selected_only or account_uuid is None:
        joined = joined.join(selected_identifiers, selected)
    if account_uuid is not None:
        where &= identifiers.c.account_uuid == account_uuid
    if not include_offline:
        where &= identifiers.c.status != int(UnitStatus.OFFLINE)
    if only_units:
        where &= identifiers.c.is_dispatch.is_(False)
    total = conn.execute(select(func.count()).select_from(joined).where(where)).scalar_one()
    rows = conn.execute(
        select(identifiers, accounts.c.community_user_id)
        .select_from(joined)
        .where(where)
        .order_by(identifiers.c.ident_id)
        .limit(limit)
        .offset(offset)
    ).all()
    calls = current_calls(conn, community_id, [row.ident_id for row in rows])
    return UnitList(units=[_unit(row, calls.get(row.ident_id)) for row in rows], total=total)


def set_status(
    conn: Connection,
    *,
    community_id: str,
    server_id: int,
    idents: list[int],
    status: int,
    now: int,
    actor: Actor,
) -> None:
    """Store the status, record it on the calls the units are on, and announce it.

    The event carries the units whole as well (``units``): the in-game resource reads only those. A unit
    that leaves or enters OFFLINE (100) goes off or comes on duty on every server it is selected on.
    """
    before = _on_duty(conn, community_id, idents)
    conn.execute(
        update(identifiers)
        .where(identifiers.c.community_id == community_id, identifiers.c.ident_id.in_(idents))
        .values(status=status, updated_at=now)
    )
    for ident, call_id in current_calls(conn, community_id, idents).items():
        history.record(
            conn,
            community_id=community_id,
            call_id=call_id,
            call_kind="dispatch",
            now=now,
            actor=actor,
            action="unit_status",
            identId=ident,
            status=status,
        )
    events.emit(
        conn,
        community_id=community_id,
        server_id=server_id,
        type=EventType.EVENT_UNIT_STATUS,
        data={"identIds": idents, "status": status, "units": _units_whole(conn, community_id, idents)},
        now=now,
    )
    after = set() if status == int(UnitStatus.OFFLINE) else _on_duty(conn, community_id, idents)
    _announce_duty(conn, community_id=community_id, before=before, after=after, now=now)


def _units_whole(conn: Connection, community_id: str, idents: list[int]) -> list[dict[str, Any]]:
    rows = conn.execute(
        _IDENTIFIER_ROWS.where(identifiers.c.community_id == community_id, identifiers.c.ident_id.in_(idents))
    ).all()
    by_id = {row.ident_id: active_unit(_unit(row, None)).model_dump() for row in rows}
    return [by_id[ident] for ident in idents if ident in by_id]


# -- coming on and going off duty, joining and leaving groups (docs/events.md) --------------------------

OnDuty = set[tuple[int, int]]  # (server, unit) pairs


def _on_duty(conn: Connection, community_id: str, idents: Collection[int]) -> OnDuty:
    """Where each of the units is on duty: the servers it is selected on, unless it is OFFLINE."""
    if not idents:
        return set()
    rows = conn.execute(
        select(selected_identifiers.c.server_id, selected_identifiers.c.ident_id)
        .join(identifiers, identifiers.c.ident_id == selected_identifiers.c.ident_id)
        .where(
            selected_identifiers.c.community_id == community_id,
            selected_identifiers.c.ident_id.in_(list(idents)),
            identifiers.c.community_id == community_id,
            identifiers.c.status != int(UnitStatus.OFFLINE),
        )
    )
    return {(row.server_id, row.ident_id) for row in rows}


def _announce_duty(conn: Connection, *, community_id: str, before: OnDuty, after: OnDuty, now: int) -> None:
    """Per server, EVENT_UNIT_LOGOUT for each unit that went off duty there, then EVENT_UNIT_LOGIN for each
    that came on: one event per change, none when a unit stays on (or off) duty."""
    left, came = before - after, after - before
    if not left and not came:
        return
    whole = {unit["id"]: unit for unit in _units_whole(conn, community_id, sorted({i for _, i in came}))}
    # In server order, so that two such announcements take the servers' rows in the same order.
    changes = sorted([(server_id, 0, ident) for server_id, ident in left] + [(s, 1, i) for s, i in came])
    for server_id, coming, ident in changes:
        if coming:
            unit = whole[ident]
            # We keep no self-dispatch permission: units never dispatch themselves here.
            data = {"unit": unit, "isDispatch": unit["isDispatch"], "selfDispatch": False}
        else:
            data = {"identId": ident}
        events.emit(
            conn,
            community_id=community_id,
            server_id=server_id,
            type=EventType.EVENT_UNIT_LOGIN if coming else EventType.EVENT_UNIT_LOGOUT,
            data=data,
            now=now,
        )


def _groups_of(conn: Connection, community_id: str, idents: Collection[int]) -> dict[int, str]:
    rows = conn.execute(
        select(identifiers.c.ident_id, identifiers.c.group_name).where(
            identifiers.c.community_id == community_id, identifiers.c.ident_id.in_(list(idents))
        )
    )
    return {row.ident_id: row.group_name for row in rows}


def _members_on_server(conn: Connection, community_id: str, server_id: int, group: str) -> set[int]:
    """The units of a group on a server (selected there, on duty or not)."""
    return set(
        conn.execute(
            select(identifiers.c.ident_id)
            .join(selected_identifiers, selected_identifiers.c.ident_id == identifiers.c.ident_id)
            .where(
                identifiers.c.community_id == community_id,
                identifiers.c.group_name == group,
                selected_identifiers.c.community_id == community_id,
                selected_identifiers.c.server_id == server_id,
            )
        ).scalars()
    )


def _announce_moves(
    conn: Connection, *, community_id: str, server_id: int, moves: list[tuple[int, str, str]], now: int
) -> None:
    """For each unit that changed group (unit, old group, new group): leaving the old, joining the new."""
    for ident, old, new in moves:
        if old:
            events.emit(
                conn,
                community_id=community_id,
                server_id=server_id,
                type=EventType.EVENT_UNIT_GROUP_REMOVE,
                data={"identId": ident, "groupName": old},
                now=now,
            )
        if new:
            events.emit(
                conn,
                community_id=community_id,
                server_id=server_id,
                type=EventType.EVENT_UNIT_GROUP_ADD,
                data={"identId": ident, "groupName": new},
                now=now,
            )


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
    set_status(
        conn,
        community_id=community_id,
        server_id=server_id,
        idents=idents,
        status=change.status,
        now=now,
        actor=actor,
    )
    return UnitStatusChanged(identIds=idents, status=UnitStatus(change.status).name)


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
    events.emit(
        conn,
        community_id=community_id,
        server_id=server_id,
        type=EventType.EVENT_UNIT_PANIC,
        data={"identIds": idents, "isPanic": change.isPanic},
        now=now,
    )
    return UnitPanicChanged(identIds=idents, isPanic=change.isPanic)


def set_identifier_group(
    conn: Connection, *, community_id: str, server_id: int, group: str, targets: Targets, now: int
) -> GroupSet:
    """Put the named units in ``group`` ("" takes them out of any group), and announce it on the server.

    Moving every unit of one group on the server to a name no unit of the server had is the group
    renamed: EVENT_UNIT_GROUP_CHANGE_NAME, then EVENT_UNIT_GROUP_ADD with ``identIds``. Any other change
    is told unit by unit: EVENT_UNIT_GROUP_REMOVE from the old group, EVENT_UNIT_GROUP_ADD to the new.
    """
    idents = resolve_target_units(conn, community_id=community_id, server_id=server_id, targets=targets)
    old = _groups_of(conn, community_id, idents)
    moving = [ident for ident in idents if old[ident] != group]
    left = {old[ident] for ident in moving}
    renamed = (
        bool(group)
        and len(left) == 1
        and "" not in left
        and set(moving) == _members_on_server(conn, community_id, server_id, next(iter(left)))
        and not _members_on_server(conn, community_id, server_id, group)
    )
    conn.execute(
        update(identifiers)
        .where(identifiers.c.community_id == community_id, identifiers.c.ident_id.in_(idents))
        .values(group_name=group, updated_at=now)
    )
    if renamed:
        old_name = next(iter(left))
        for type, data in (
            (
                EventType.EVENT_UNIT_GROUP_CHANGE_NAME,
                {"identIds": moving, "oldName": old_name, "newName": group},
            ),
            (EventType.EVENT_UNIT_GROUP_ADD, {"identIds": moving, "groupName": group}),
        ):
            events.emit(conn, community_id=community_id, server_id=server_id, type=type, data=data, now=now)
    else:
        moves = [(ident, old[ident], group) for ident in moving]
        _announce_moves(conn, community_id=community_id, server_id=server_id, moves=moves, now=now)
    return GroupSet(ok=True, identIds=idents)


def place_units(
    conn: Connection, *, community_id: str, server_id: int, updates: UnitLocations, now: int
) -> list[UnitPosition]:
    """The position each report gives the units it names on this server; reports naming none are skipped.

    Nothing is stored: ``store_positions`` does that.
    """
    reports = [report for report in updates.updates if report.named()]
    resolved = units_on_server(conn, community_id=community_id, server_id=server_id, batch=reports)
    return positions_of(reports, resolved, now)


def units_on_server(
    conn: Connection, *, community_id: str, server_id: int, batch: Sequence[Targets]
) -> list[list[int]]:
    """``resolve_each`` on a server that must exist (404 otherwise)."""
    require_server(conn, community_id, server_id)
    return resolve_each(conn, community_id=community_id, server_id=server_id, batch=batch)


def positions_of(
    reports: Sequence[LocationUpdate], resolved: Sequence[Sequence[int]], now: int
) -> list[UnitPosition]:
    """Each named unit's position from the reports naming it; a unit named twice takes its last report."""
    placed: dict[int, UnitPosition] = {}
    for report, idents in zip(reports, resolved, strict=True):
        # A player with no unit on duty is not an error: location feeds are continuous.
        for ident in idents:
            placed.pop(ident, None)  # re-inserted last: the order is the order of the last reports
            placed[ident] = UnitPosition.of(ident, report, now)
    return list(placed.values())


_MOVE = update(identifiers).where(
    identifiers.c.community_id == bindparam("community"), identifiers.c.ident_id == bindparam("ident")
)


def store_positions(conn: Connection, *, community_id: str, positions: Sequence[UnitPosition]) -> None:
    """Write units' latest positions, one statement per kind of report (with and without coordinates)."""
    located = [
        {
            "community": community_id,
            "ident": position.ident_id,
            "location": position.location,
            "x": position.x,
            "y": position.y,
            "z": position.z,
            "heading": position.heading,
            "located_at": position.at,
        }
        for position in positions
        if position.x is not None
    ]
    # A report with only location text keeps the unit's last coordinates.
    described = [
        {"community": community_id, "ident": p.ident_id, "location": p.location, "located_at": p.at}
        for p in positions
        if p.x is None
    ]
    if located:
        conn.execute(_MOVE, located)
    if described:
        conn.execute(_MOVE, described)


def update_unit_locations(
    conn: Connection, *, community_id: str, server_id: int, updates: UnitLocations, now: int
) -> UnitsUpdated:
    """Store each reported location; updates that name no unit on this server are skipped."""
    placed = place_units(conn, community_id=community_id, server_id=server_id, updates=updates, now=now)
    store_positions(conn, community_id=community_id, positions=placed)
    if placed:
        announce(conn, UNITS_MOVED, (community_id, server_id, tuple(placed)))  # to the live streams
    return UnitsUpdated(identIds=[position.ident_id for position in placed])


def _identifier(row: Any) -> Identifier:
    # The unit's own fields, flat, and the docs' unit object of the same unit.
    unit = _unit(row, None)
    flat = unit.model_dump(include=set(Identifier.model_fields) - {"identifier"})
    return Identifier(**flat, identifier=active_unit(unit))


_IDENTIFIER_ROWS = select(identifiers, accounts.c.community_user_id).join(
    accounts, accounts.c.account_uuid == identifiers.c.account_uuid
)


def _identifier_row(conn: Connection, community_id: str, account_uuid: str, ident_id: int) -> Any:
    row = conn.execute(
        _IDENTIFIER_ROWS.where(
            identifiers.c.community_id == community_id,
            identifiers.c.account_uuid == account_uuid,
            identifiers.c.ident_id == ident_id,
        )
    ).first()
    if row is None:
        raise NotFound(f"Identifier {ident_id} does not exist on account {account_uuid}.")
    return row


def list_identifiers(
    conn: Connection, *, community_id: str, account_uuid: str, server_id: int | None = None
) -> IdentifierList:
    """An account's identifiers, and which one it has selected on each server.

    ``SelectedIdent`` is the one selected on ``server_id``, or on the account's lowest server when none
    is named.
    """
    require_account(conn, community_id, account_uuid)
    rows = conn.execute(
        _IDENTIFIER_ROWS.where(
            identifiers.c.community_id == community_id, identifiers.c.account_uuid == account_uuid
        ).order_by(identifiers.c.ident_id)
    ).all()
    selected = {
        row.server_id: row.ident_id
        for row in conn.execute(
            select(selected_identifiers.c.server_id, selected_identifiers.c.ident_id)
            .where(
                selected_identifiers.c.community_id == community_id,
                selected_identifiers.c.account_uuid == account_uuid,
            )
            .order_by(selected_identifiers.c.server_id)
        )
    }
    chosen = selected.get(server_id) if server_id is not None else next(iter(selected.values()), None)
    listed = [_identifier(row) for row in rows]
    return IdentifierList(
        SelectedIdent=chosen,
        Identifiers=[item.identifier for item in listed],
        identifiers=listed,
        selected={str(server): ident_id for server, ident_id in selected.items()},
    )


def create_identifier(
    conn: Connection, *, community_id: str, account_uuid: str, fields: NewIdentifier, now: int
) -> Identifier:
    """Add an identifier to an account (select it to put it on a server)."""
    require_account(conn, community_id, account_uuid)
    _require_identifier_room(conn, community_id, account_uuid)
    values = {column: getattr(fields, name) for name, column in IDENTIFIER_COLUMNS.items()}
    ident_id = conn.execute(
        insert(identifiers)
        .values(
            community_id=community_id,
            account_uuid=account_uuid,
            is_panic=False,
            location="",
            created_at=now,
            updated_at=now,
            **values,
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
    """Change the identifier fields sent; a status or group change is announced where it is selected."""
    row = _identifier_row(conn, community_id, account_uuid, ident_id)
    values = {
        IDENTIFIER_COLUMNS[name]: getattr(fields, name)
        for name in fields.model_fields_set
        if name in IDENTIFIER_COLUMNS
    }
    if values:
        before = _on_duty(conn, community_id, [ident_id])
        conn.execute(
            update(identifiers)
            .where(identifiers.c.community_id == community_id, identifiers.c.ident_id == ident_id)
            .values(**values, updated_at=now)
        )
        after = _on_duty(conn, community_id, [ident_id])
        _announce_duty(conn, community_id=community_id, before=before, after=after, now=now)
        group = values.get("group_name", row.group_name)
        if group != row.group_name:
            for server_id in _selected_on(conn, community_id, ident_id):
                moves = [(ident_id, row.group_name, group)]
                _announce_moves(conn, community_id=community_id, server_id=server_id, moves=moves, now=now)
    return _identifier(_identifier_row(conn, community_id, account_uuid, ident_id))


def _selected_on(conn: Connection, community_id: str, ident_id: int) -> list[int]:
    """The servers a unit is selected on."""
    return list(
        conn.execute(
            select(selected_identifiers.c.server_id)
            .where(
                selected_identifiers.c.community_id == community_id,
                selected_identifiers.c.ident_id == ident_id,
            )
            .order_by(selected_identifiers.c.server_id)
        ).scalars()
    )


def _first_server(conn: Connection, community_id: str, ident_id: int) -> int | None:
    return conn.execute(
        select(func.min(selected_identifiers.c.server_id)).where(
            selected_identifiers.c.community_id == community_id, selected_identifiers.c.ident_id == ident_id
        )
    ).scalar()


def delete_identifier(
    conn: Connection, *, community_id: str, account_uuid: str, ident_id: int, now: int
) -> IdentifierDeleted:
    """Delete an identifier that never worked a call; answer it, its server and the identifiers left."""
    _identifier_row(conn, community_id, account_uuid, ident_id)
    on_call = current_calls(conn, community_id, [ident_id])
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
    # Every statement names the community too, though the identifier was checked to be its own above.
    server_id = _first_server(conn, community_id, ident_id)
    # An identifier deleted while on duty goes off duty where it was selected.
    before = _on_duty(conn, community_id, [ident_id])
    _announce_duty(conn, community_id=community_id, before=before, after=set(), now=now)
    conn.execute(
        selected_identifiers.delete().where(
            selected_identifiers.c.community_id == community_id, selected_identifiers.c.ident_id == ident_id
        )
    )
    conn.execute(
        identifiers.delete().where(
            identifiers.c.community_id == community_id, identifiers.c.ident_id == ident_id
        )
    )
    rest = list_identifiers(conn, community_id=community_id, account_uuid=account_uuid)
    return IdentifierDeleted(**dict(rest), identId=ident_id, serverId=server_id)


def choose_identifier(
    conn: Connection, *, community_id: str, account_uuid: str, choice: SelectIdentifier, now: int
) -> IdentifierSelected:
    """Select an identifier on one server, or on every server of the community when none is named."""
    row = _identifier_row(conn, community_id, account_uuid, choice.identId)
    if choice.serverId is not None:
        require_server(conn, community_id, choice.serverId)
        server_ids = [choice.serverId]
    else:
        server_ids = list(
            conn.execute(
                select(servers.c.server_id)
                .where(servers.c.community_id == community_id)
                .order_by(servers.c.server_id)
            ).scalars()
        )
    # The account's unit each server had selected goes off duty there; the chosen one comes on.
    replaced = conn.execute(
        select(selected_identifiers.c.ident_id).where(
            selected_identifiers.c.community_id == community_id,
            selected_identifiers.c.account_uuid == account_uuid,
        )
    ).scalars()
    involved = {choice.identId, *replaced}
    before = _on_duty(conn, community_id, involved)
    for server_id in server_ids:
        select_unit(
            conn,
            community_id=community_id,
            account_uuid=account_uuid,
            server_id=server_id,
            ident_id=choice.identId,
        )
    after = _on_duty(conn, community_id, involved)
    _announce_duty(conn, community_id=community_id, before=before, after=after, now=now)
    first = server_ids[0] if server_ids else None
    listed = list_identifiers(conn, community_id=community_id, account_uuid=account_uuid, server_id=first)
    return IdentifierSelected(
        **dict(listed),
        serverId=first,
        isDispatch=row.is_dispatch,
        identifier=active_unit(_unit(row, None)),
    )


# -- the operator's view: every unit of a community ----------------------------------------------------


def unit_records(
    conn: Connection,
    *,
    community_id: str,
    account_uuid: str | None = None,
    server_id: int | None = None,
    ident_id: int | None = None,
    limit: int = 1000,
) -> list[UnitRecord]:
    """The community's units by identId: one account's, those selected on one server, or one unit."""
    require_community(conn, community_id)
    query = (
        select(identifiers, accounts.c.community_user_id, accounts.c.username)
        .join(accounts, accounts.c.account_uuid == identifiers.c.account_uuid)
        .where(identifiers.c.community_id == community_id)
    )
    if account_uuid is not None:
        require_account(conn, community_id, account_uuid)
        query = query.where(identifiers.c.account_uuid == account_uuid)
    if server_id is not None:
        require_server(conn, community_id, server_id)
        query = query.join(
            selected_identifiers,
            (selected_identifiers.c.community_id == community_id)
            & (selected_identifiers.c.server_id == server_id)
            & (selected_identifiers.c.ident_id == identifiers.c.ident_id),
        )
    if ident_id is not None:
        query = query.where(identifiers.c.ident_id == ident_id)
    rows = conn.execute(query.order_by(identifiers.c.ident_id).limit(limit)).all()
    ids = [row.ident_id for row in rows]
    selected: dict[int, list[int]] = {}
    for row in conn.execute(
        select(selected_identifiers.c.ident_id, selected_identifiers.c.server_id)
        .where(selected_identifiers.c.community_id == community_id, selected_identifiers.c.ident_id.in_(ids))
        .order_by(selected_identifiers.c.server_id)
    ):
        selected.setdefault(row.ident_id, []).append(row.server_id)
    calls = current_calls(conn, community_id, ids)
    return [
        UnitRecord(
            **_unit(row, calls.get(row.ident_id)).model_dump(),
            username=row.username,
            selectedOn=selected.get(row.ident_id, []),
        )
        for row in rows
    ]


def unit_record(conn: Connection, *, community_id: str, ident_id: int) -> UnitRecord:
    """One unit of the community."""
    found = unit_records(conn, community_id=community_id, ident_id=ident_id, limit=1)
    if not found:
        raise NotFound(f"Unit {ident_id} does not exist.")
    return found[0]


def change_unit(
    conn: Connection,
    *,
    community_id: str,
    ident_id: int,
    changes: IdentifierChanges,
    now: int,
    select_on: int | None = None,
) -> UnitRecord:
    """Change a unit's fields that were given and, with ``select_on``, select it on that server."""
    account_uuid = unit_record(conn, community_id=community_id, ident_id=ident_id).accountUuid
    if select_on is not None:
        require_server(conn, community_id, select_on)
    update_identifier(
        conn, community_id=community_id, account_uuid=account_uuid, ident_id=ident_id, fields=changes, now=now
    )
    if select_on is not None:
        select_unit(
            conn, community_id=community_id, account_uuid=account_uuid, server_id=select_on, ident_id=ident_id
        )
    return unit_record(conn, community_id=community_id, ident_id=ident_id)


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
