"""Rules of the general account operations: finding accounts, their API ids, secrets and link codes."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from opendispatch.accounts.models import account_invites, link_codes
from opendispatch.accounts.schemas import (
    MAX_API_IDS,
    MAX_INVITE_HOURS,
    PERMISSIONS,
    ROLES,
    Account,
    AccountList,
    AccountLookup,
    AccountStatus,
    AccountSummary,
    ApiIdHolder,
    ApiIds,
    ApiIdsChange,
    Invite,
    InviteAccepted,
    InviteInfo,
    InviteKind,
    InviteLink,
    LinkCode,
    Pagination,
    VerifiedSecret,
)
from opendispatch.clock import iso_utc
from opendispatch.communities.models import communities
from opendispatch.communities.service import hash_secret, require_community
from opendispatch.errors import Conflict, InvalidInput, NotFound
from opendispatch.units import service as units
from opendispatch.units.models import account_api_ids, accounts, identifiers
from opendispatch.units.schemas import Link
from opendispatch.web.models import console_sessions

LINK_CODE_TTL_MS = 10 * 60 * 1000  # the docs' ten minutes
MAX_OUTSTANDING_CODES = 500  # per community; a player asks again when theirs expired
# Six characters, not the docs' four: a logged-in user who guesses another player's code links that
# player to their own account, so the codes must be far more than the outstanding ones. No 0/O, 1/I/L.
LINK_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LINK_CODE_LENGTH = 6


def _account(row: Any) -> Account:
    # Accounts here are made by the operator, so every one is VALIDATED; the roles are "admin" and
    # "dispatch" (console login with a password).
    permissions = dict.fromkeys(PERMISSIONS, False)
    permissions["admin"] = row.is_admin
    permissions["dispatch"] = row.is_dispatcher and row.password_hash is not None
    return Account(
        uuid=row.account_uuid,
        username=row.username,
        communityUserId=row.community_user_id,
        status=int(AccountStatus.VALIDATED),
        joined=iso_utc(row.created_at),
        lastLogin=iso_utc(row.last_login) if row.last_login is not None else None,
        permissions=permissions,
        discord=row.discord,
        roblox=row.roblox,
    )


def _accounts_query(community_id: str) -> Any:
    last_login = (
        select(func.max(console_sessions.c.created_at))
        .where(console_sessions.c.account_uuid == accounts.c.account_uuid)
        .scalar_subquery()
    )
    return select(accounts, last_login.label("last_login")).where(accounts.c.community_id == community_id)


def list_accounts(
    conn: Connection, *, community_id: str, limit: int, offset: int, status: int, username: str | None
) -> AccountList:
    """A page of the community's accounts by username; ``username`` filters, case-insensitive."""
    query = _accounts_query(community_id)
    counted = select(func.count()).select_from(accounts).where(accounts.c.community_id == community_id)
    if status != AccountStatus.VALIDATED:
        return AccountList(pagination=Pagination(limit=limit, offset=offset, total=0), accounts=[])
    if username:
        pattern = "%" + username.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        matches = func.lower(accounts.c.username).like(pattern, escape="\\")
        query, counted = query.where(matches), counted.where(matches)
    rows = conn.execute(query.order_by(accounts.c.username).limit(limit).offset(offset)).all()
    total = conn.execute(counted).scalar_one()
    return AccountList(
        pagination=Pagination(limit=limit, offset=offset, total=total), accounts=[_account(r) for r in rows]
    )


def resolve_account(conn: Connection, *, community_id: str, lookup: AccountLookup) -> str:
    """The uuid of the account named by exactly one identifier; a community user id may be an API id."""
    given = lookup.given()
    if len(given) != 1:
        names = "communityUserId, roblox, discord, accountUuid or username"
        raise InvalidInput(f"Name the account by exactly one of {names}.", {"communityUserId": "exactly one"})
    [(name, value)] = given.items()
    column = {
        "communityUserId": accounts.c.community_user_id,
        "roblox": accounts.c.roblox,
        "discord": accounts.c.discord,
        "accountUuid": accounts.c.account_uuid,
        "username": accounts.c.username,
    }[name]
    found = conn.execute(
        select(accounts.c.account_uuid).where(accounts.c.community_id == community_id, column == value)
    ).scalar()
    if found is None and name == "communityUserId":
        found = conn.execute(
            select(account_api_ids.c.account_uuid).where(
                account_api_ids.c.community_id == community_id, account_api_ids.c.api_id == value
            )
        ).scalar()
    if found is None:
        raise NotFound(f"No account has {name} {value!r}.")
    return str(found)


def find_account(conn: Connection, *, community_id: str, lookup: AccountLookup) -> Account:
    """One account, named by exactly one identifier."""
    account_uuid = resolve_account(conn, community_id=community_id, lookup=lookup)
    row = conn.execute(_accounts_query(community_id).where(accounts.c.account_uuid == account_uuid)).one()
    return _account(row)


def api_id_holder(conn: Connection, *, community_id: str, api_id: str) -> ApiIdHolder:
    """The account of the community that holds an API id; NotFound when none does.

    As targets read an in-game id: the account linked to it, else the account holding it as an API id.
    """
    wanted = select(accounts.c.account_uuid, accounts.c.username, accounts.c.community_user_id)
    linked = wanted.where(accounts.c.community_id == community_id, accounts.c.community_user_id == api_id)
    held = wanted.join(account_api_ids, account_api_ids.c.account_uuid == accounts.c.account_uuid).where(
        account_api_ids.c.community_id == community_id, account_api_ids.c.api_id == api_id
    )
    row = conn.execute(linked).first() or conn.execute(held).first()
    if row is None:
        raise NotFound(f"No account holds the API id {api_id!r}.")
    return ApiIdHolder(
        apiId=api_id,
        accountUuid=row.account_uuid,
        username=row.username,
        communityUserId=row.community_user_id,
    )


def _api_ids_of(conn: Connection, community_id: str, account_uuid: str) -> list[str]:
    return list(
        conn.execute(
            select(account_api_ids.c.api_id)
            .where(
                account_api_ids.c.community_id == community_id, account_api_ids.c.account_uuid == account_uuid
            )
            .order_by(account_api_ids.c.api_id)
        ).scalars()
    )


def set_api_ids(conn: Connection, *, community_id: str, change: ApiIdsChange) -> ApiIds:
    """Replace an account's API ids (or, with ``pushNew``, add to them); an id another account holds is a
    conflict, and nothing changes."""
    account_uuid = resolve_account(conn, community_id=community_id, lookup=change.lookup())
    wanted = list(dict.fromkeys(change.apiIds))
    if wanted:
        taken = conn.execute(
            select(account_api_ids.c.api_id).where(
                account_api_ids.c.community_id == community_id,
                account_api_ids.c.api_id.in_(wanted),
                account_api_ids.c.account_uuid != account_uuid,
            )
        ).scalar()
        # Another account's linked community user id is taken too: targets read an in-game id as either.
        taken = (
            taken
            or conn.execute(
                select(accounts.c.community_user_id).where(
                    accounts.c.community_id == community_id,
                    accounts.c.community_user_id.in_(wanted),
                    accounts.c.account_uuid != account_uuid,
                )
            ).scalar()
        )
        if taken is not None:
            raise Conflict(f"The API id {taken!r} is held by another account.")
    current = _api_ids_of(conn, community_id, account_uuid)
    keep = set(current) if change.pushNew else set()
    final = sorted(keep | set(wanted))
    if len(final) > MAX_API_IDS:
        raise InvalidInput(
            f"An account holds at most {MAX_API_IDS} API ids.",
            {"apiIds": f"at most {MAX_API_IDS} per account"},
        )
    conn.execute(
        delete(account_api_ids).where(
            account_api_ids.c.community_id == community_id,
            account_api_ids.c.account_uuid == account_uuid,
            account_api_ids.c.api_id.not_in(final) if final else account_api_ids.c.api_id.is_not(None),
        )
    )
    added = [api_id for api_id in final if api_id not in current]
    if added:
        conn.execute(
            insert(account_api_ids),
            [
                {"community_id": community_id, "api_id": api_id, "account_uuid": account_uuid}
                for api_id in added
            ],
        )
    return ApiIds(accountUuid=account_uuid, apiIds=final)


def verify_secret(conn: Connection, *, community_id: str, secret: str) -> VerifiedSecret:
    """The account whose secret uuid this is, as ``{secret: accountUuid}``; NotFound when none."""
    digest = hash_secret(secret)
    row = conn.execute(
        select(accounts.c.account_uuid, accounts.c.secret_hash).where(
            accounts.c.community_id == community_id, accounts.c.secret_hash == digest
        )
    ).first()
    if row is None or not hmac.compare_digest(row.secret_hash, digest):
        raise NotFound("No account of this community has that secret.")
    return VerifiedSecret({secret: row.account_uuid})


# -- link codes ---------------------------------------------------------------------------------------


def _new_code() -> str:
    return "".join(secrets.choice(LINK_CODE_ALPHABET) for _ in range(LINK_CODE_LENGTH))


def create_link_code(conn: Connection, *, community_id: str, community_user_id: str, now: int) -> LinkCode:
    """A short-lived code for a player; it replaces that player's earlier code."""
    conn.execute(
        delete(link_codes).where(
            link_codes.c.community_id == community_id,
            or_(link_codes.c.expires_at <= now, link_codes.c.community_user_id == community_user_id),
        )
    )
    outstanding = conn.execute(
        select(func.count()).select_from(link_codes).where(link_codes.c.community_id == community_id)
    ).scalar_one()
    if outstanding >= MAX_OUTSTANDING_CODES:
        raise Conflict(f"{MAX_OUTSTANDING_CODES} link codes are outstanding; try again when some expire.")
    taken = set(
        conn.execute(
            select(link_codes.c.code_hash).where(link_codes.c.community_id == community_id)
        ).scalars()
    )
    code = _new_code()
    while hash_secret(code) in taken:  # one in a million with every code outstanding
        code = _new_code()
    expires_at = now + LINK_CODE_TTL_MS
    conn.execute(
        insert(link_codes).values(
            community_id=community_id,
            code_hash=hash_secret(code),
            community_user_id=community_user_id,
            created_at=now,
            expires_at=expires_at,
        )
    )
    return LinkCode(
        code=code,
        communityUserId=community_user_id,
        communityUuid=community_id,
        expiresAt=iso_utc(expires_at),
        expiresInSeconds=LINK_CODE_TTL_MS // 1000,
    )


def redeem_link_code(conn: Connection, *, community_id: str, account_uuid: str, code: str, now: int) -> Link:
    """Link the code's player to the account redeeming it; the player's id moves off any other account."""
    row = conn.execute(
        select(link_codes.c.community_user_id).where(
            link_codes.c.community_id == community_id,
            link_codes.c.code_hash == hash_secret(code.strip().upper()),
            link_codes.c.expires_at > now,
        )
    ).first()
    if row is None:
        raise NotFound("That link code is unknown or has expired; ask for a new one in game.")
    user_id = row.community_user_id
    conn.execute(
        delete(link_codes).where(
            link_codes.c.community_id == community_id, link_codes.c.community_user_id == user_id
        )
    )
    return units.link_account(
        conn, community_id=community_id, account_uuid=account_uuid, community_user_id=user_id, now=now
    )


# -- the operator's view: listing, changing and disabling accounts ---------------------------------------


def _summaries(conn: Connection, community_id: str, account_uuid: str | None) -> list[AccountSummary]:
    idents = (
        select(func.count())
        .select_from(identifiers)
        .where(
            identifiers.c.community_id == community_id,
            identifiers.c.account_uuid == accounts.c.account_uuid,
        )
        .scalar_subquery()
    )
    query = _accounts_query(community_id).add_columns(idents.label("identifier_count"))
    if account_uuid is not None:
        query = query.where(accounts.c.account_uuid == account_uuid)
    rows = conn.execute(query.order_by(accounts.c.username)).all()
    held: dict[str, list[str]] = {}
    api_ids = select(account_api_ids.c.account_uuid, account_api_ids.c.api_id).where(
        account_api_ids.c.community_id == community_id
    )
    if account_uuid is not None:
        api_ids = api_ids.where(account_api_ids.c.account_uuid == account_uuid)
    for holder, api_id in conn.execute(api_ids.order_by(account_api_ids.c.api_id)):
        held.setdefault(holder, []).append(api_id)
    return [
        AccountSummary(
            accountUuid=row.account_uuid,
            username=row.username,
            communityUserId=row.community_user_id,
            discord=row.discord,
            roblox=row.roblox,
            roles=[role for role in ROLES if getattr(row, f"is_{role}")],
            hasPassword=row.password_hash is not None,
            disabled=row.disabled_at is not None,
            disabledAt=iso_utc(row.disabled_at) if row.disabled_at is not None else None,
            created=iso_utc(row.created_at),
            lastLogin=iso_utc(row.last_login) if row.last_login is not None else None,
            apiIds=held.get(row.account_uuid, []),
            identifiers=row.identifier_count,
        )
        for row in rows
    ]


def account_summaries(conn: Connection, *, community_id: str) -> list[AccountSummary]:
    """Every account of the community by username, with its roles and switches."""
    require_community(conn, community_id)
    return _summaries(conn, community_id, None)


def account_summary(conn: Connection, *, community_id: str, lookup: AccountLookup) -> AccountSummary:
    """One account of the community, named by exactly one identifier."""
    require_community(conn, community_id)
    account_uuid = resolve_account(conn, community_id=community_id, lookup=lookup)
    return _summaries(conn, community_id, account_uuid)[0]


def _optional_id(name: str, value: str, digits: bool) -> str | None:
    # "" clears the id; anything else must be a valid one.
    if value == "":
        return None
    limit = 64 if digits else 255
    if len(value) > limit or (digits and not value.isdigit()):
        rule = f"1 to {limit} digits" if digits else f"1 to {limit} characters"
        raise InvalidInput(f"A {name} is {rule}.", {name: rule})
    return value


def change_account(
    conn: Connection,
    *,
    community_id: str,
    lookup: AccountLookup,
    username: str | None = None,
    community_user_id: str | None = None,
    discord: str | None = None,
    roblox: str | None = None,
    add_roles: frozenset[str] = frozenset(),
    remove_roles: frozenset[str] = frozenset(),
) -> AccountSummary:
    """Change what ``account create`` set: username, ids ("" clears one) and roles; what is not given stays.

    An account left without any role has its console sessions ended.
    """
    require_community(conn, community_id)
    account_uuid = resolve_account(conn, community_id=community_id, lookup=lookup)
    units.role_columns(add_roles | remove_roles)  # refuses an unknown role
    if add_roles & remove_roles:
        raise InvalidInput(
            f"Role {sorted(add_roles & remove_roles)[0]!r} is both added and removed.", {"roles": "both"}
        )
    current = _summaries(conn, community_id, account_uuid)[0]
    roles = (set(current.roles) | add_roles) - remove_roles
    values: dict[str, Any] = {f"is_{role}": role in roles for role in ROLES}
    if username is not None:
        if not username.strip() or len(username.strip()) > 255:
            raise InvalidInput("A username is 1 to 255 characters.", {"username": "1 to 255 characters"})
        values["username"] = username.strip()
    if community_user_id is not None:
        values["community_user_id"] = _optional_id("communityUserId", community_user_id, digits=False)
    if discord is not None:
        values["discord"] = _optional_id("discord", discord, digits=True)
    if roblox is not None:
        values["roblox"] = _optional_id("roblox", roblox, digits=True)
    linked = values.get("community_user_id")
    if linked is not None:
        # Targets read an in-game id as a linked id or an API id: another account's API id is taken too.
        holder = conn.execute(
            select(account_api_ids.c.account_uuid).where(
                account_api_ids.c.community_id == community_id, account_api_ids.c.api_id == linked
            )
        ).scalar()
        if holder is not None and holder != account_uuid:
            raise Conflict(f"The community user id {linked!r} is an API id of another account.")
    try:
        with conn.begin_nested():
            conn.execute(
                update(accounts)
                .where(accounts.c.community_id == community_id, accounts.c.account_uuid == account_uuid)
                .values(**values)
            )
    except IntegrityError as exc:
        raise Conflict(
            "That username, community user id, Discord or Roblox id is already taken in this community."
        ) from exc
    if not roles:  # an account with no role may not log in: its sessions end
        _end_sessions(conn, community_id, account_uuid)
    return _summaries(conn, community_id, account_uuid)[0]


def _end_sessions(conn: Connection, community_id: str, account_uuid: str) -> None:
    conn.execute(
        delete(console_sessions).where(
            console_sessions.c.community_id == community_id, console_sessions.c.account_uuid == account_uuid
        )
    )


def set_account_disabled(
    conn: Connection, *, community_id: str, lookup: AccountLookup, disabled: bool, now: int
) -> AccountSummary:
    """Disable an account (it cannot log in to the console; its open sessions end) or enable it again.

    A disabled account keeps its units and links: calls may still name it as a target.
    """
    require_community(conn, community_id)
    account_uuid = resolve_account(conn, community_id=community_id, lookup=lookup)
    conn.execute(
        update(accounts)
        .where(accounts.c.community_id == community_id, accounts.c.account_uuid == account_uuid)
        .values(disabled_at=now if disabled else None)
    )
    if disabled:
        _end_sessions(conn, community_id, account_uuid)
    return _summaries(conn, community_id, account_uuid)[0]


def prune_link_codes(conn: Connection, *, now: int) -> int:
    """Delete the link codes and invite links past their expiry (an expired one is refused anyway)."""
    codes = conn.execute(delete(link_codes).where(link_codes.c.expires_at <= now)).rowcount
    return codes + conn.execute(delete(account_invites).where(account_invites.c.expires_at <= now)).rowcount


# -- invites and password resets ------------------------------------------------------------------------

INVITE_TTL_MS = 72 * 60 * 60 * 1000  # three days: long enough to reach someone over a weekend
MAX_OUTSTANDING_INVITES = 200  # per community, joins and resets together
DEAD_LINK = "This link is unknown, already used or expired; ask your community's admin for a new one."


def _roles_text(roles: Collection[str]) -> str:
    units.role_columns(roles)  # refuses an unknown role
    if not roles:
        raise InvalidInput("An invite gives at least one role.", {"roles": "at least one role"})
    return ",".join(role for role in ROLES if role in roles)


def _invites_query(community_id: str) -> Any:
    creator = accounts.alias("creator")
    return (
        select(
            account_invites,
            accounts.c.username,
            creator.c.username.label("creator_name"),
        )
        .select_from(
            account_invites.outerjoin(
                accounts, accounts.c.account_uuid == account_invites.c.account_uuid
            ).outerjoin(creator, creator.c.account_uuid == account_invites.c.created_by)
        )
        .where(account_invites.c.community_id == community_id)
    )


def _invite(row: Any) -> Invite:
    return Invite(
        inviteId=row.invite_id,
        kind=InviteKind.RESET if row.account_uuid is not None else InviteKind.JOIN,
        roles=[role for role in row.roles.split(",") if role],
        accountUuid=row.account_uuid,
        username=row.username,
        createdBy=row.creator_name,
        created=iso_utc(row.created_at),
        expires=iso_utc(row.expires_at),
    )


def _issue(
    conn: Connection,
    *,
    community_id: str,
    account_uuid: str | None,
    roles: str,
    created_by: str,
    now: int,
    ttl_ms: int,
) -> InviteLink:
    conn.execute(
        delete(account_invites).where(
            account_invites.c.community_id == community_id, account_invites.c.expires_at <= now
        )
    )
    outstanding = conn.execute(
        select(func.count())
        .select_from(account_invites)
        .where(account_invites.c.community_id == community_id)
    ).scalar_one()
    if outstanding >= MAX_OUTSTANDING_INVITES:
        raise Conflict(f"{MAX_OUTSTANDING_INVITES} invites are outstanding; revoke some or let them expire.")
    token = secrets.token_urlsafe(32)
    invite_id = conn.execute(
        insert(account_invites)
        .values(
            community_id=community_id,
            token_hash=hash_secret(token),
            account_uuid=account_uuid,
            roles=roles,
            created_by=created_by,
            created_at=now,
            expires_at=now + ttl_ms,
        )
        .returning(account_invites.c.invite_id)
    ).scalar_one()
    row = conn.execute(_invites_query(community_id).where(account_invites.c.invite_id == invite_id)).one()
    return InviteLink(**_invite(row).model_dump(), token=token)


def _ttl_ms(hours: int) -> int:
    if not 1 <= hours <= MAX_INVITE_HOURS:
        raise InvalidInput(f"An invite lasts 1 to {MAX_INVITE_HOURS} hours.", {"hours": "out of range"})
    return hours * 60 * 60 * 1000


def create_invite(
    conn: Connection, *, community_id: str, roles: Collection[str], created_by: str, now: int, hours: int = 72
) -> InviteLink:
    """A one-time link for a new person to join with ``roles``; the token is in the answer only."""
    require_community(conn, community_id)
    return _issue(
        conn,
        community_id=community_id,
        account_uuid=None,
        roles=_roles_text(set(roles)),
        created_by=created_by,
        now=now,
        ttl_ms=_ttl_ms(hours),
    )


def create_password_reset(
    conn: Connection, *, community_id: str, lookup: AccountLookup, created_by: str, now: int, hours: int = 72
) -> InviteLink:
    """A one-time link that sets the account's new password; the old one stops working at once.

    The account's sessions end, and an earlier reset link of the account is dead.
    """
    require_community(conn, community_id)
    account_uuid = resolve_account(conn, community_id=community_id, lookup=lookup)
    ttl_ms = _ttl_ms(hours)
    conn.execute(
        update(accounts)
        .where(accounts.c.community_id == community_id, accounts.c.account_uuid == account_uuid)
        .values(password_hash=None)
    )
    _end_sessions(conn, community_id, account_uuid)
    conn.execute(
        delete(account_invites).where(
            account_invites.c.community_id == community_id, account_invites.c.account_uuid == account_uuid
        )
    )
    return _issue(
        conn,
        community_id=community_id,
        account_uuid=account_uuid,
        roles="",
        created_by=created_by,
        now=now,
        ttl_ms=ttl_ms,
    )


def list_invites(conn: Connection, *, community_id: str, now: int) -> list[Invite]:
    """The community's invite and reset links that can still be used, newest first."""
    rows = conn.execute(
        _invites_query(community_id)
        .where(account_invites.c.expires_at > now)
        .order_by(account_invites.c.invite_id.desc())
    ).all()
    return [_invite(row) for row in rows]


def revoke_invite(conn: Connection, *, community_id: str, invite_id: int) -> Invite:
    """Make an invite or reset link dead before it expires; answers what it was."""
    row = conn.execute(_invites_query(community_id).where(account_invites.c.invite_id == invite_id)).first()
    if row is None:
        raise NotFound(f"Invite {invite_id} does not exist.")
    conn.execute(
        delete(account_invites).where(
            account_invites.c.community_id == community_id, account_invites.c.invite_id == invite_id
        )
    )
    return _invite(row)


def _live_invite(conn: Connection, token: str, now: int) -> Any:
    row = conn.execute(
        select(account_invites, accounts.c.username, communities.c.name.label("community_name"))
        .select_from(
            account_invites.join(
                communities, communities.c.community_id == account_invites.c.community_id
            ).outerjoin(accounts, accounts.c.account_uuid == account_invites.c.account_uuid)
        )
        .where(account_invites.c.token_hash == hash_secret(token), account_invites.c.expires_at > now)
    ).first()
    if row is None:
        raise NotFound(DEAD_LINK)
    return row


def invite_info(conn: Connection, *, token: str, now: int) -> InviteInfo:
    """What an invite or reset link is for (its community, the account of a reset, the roles of a join)."""
    row = _live_invite(conn, token, now)
    return InviteInfo(
        kind=InviteKind.RESET if row.account_uuid is not None else InviteKind.JOIN,
        communityId=row.community_id,
        communityName=row.community_name,
        username=row.username,
        roles=[role for role in row.roles.split(",") if role],
        expires=iso_utc(row.expires_at),
    )


def accept_invite(
    conn: Connection, *, token: str, username: str, password_hash: str, now: int
) -> InviteAccepted:
    """Use a link once: a join makes the account (username as given) with its roles and password, a reset
    sets the account's password. The link is dead afterwards."""
    row = _live_invite(conn, token, now)
    used = conn.execute(delete(account_invites).where(account_invites.c.invite_id == row.invite_id))
    if used.rowcount != 1:  # another answer of the same link won the race
        raise NotFound(DEAD_LINK)
    community_id = row.community_id
    if row.account_uuid is None:
        if not username.strip():
            raise InvalidInput("Pick a username.", {"username": "1 to 255 characters"})
        roles = [role for role in row.roles.split(",") if role]
        account_uuid = units.create_account(
            conn, community_id=community_id, username=username, now=now, roles=roles
        ).account_uuid
    else:
        account_uuid = row.account_uuid
    conn.execute(
        update(accounts)
        .where(accounts.c.community_id == community_id, accounts.c.account_uuid == account_uuid)
        .values(password_hash=password_hash)
    )
    _end_sessions(conn, community_id, account_uuid)
    summary = _summaries(conn, community_id, account_uuid)[0]
    return InviteAccepted(
        kind=InviteKind.RESET if row.account_uuid is not None else InviteKind.JOIN,
        accountUuid=account_uuid,
        username=summary.username,
        communityId=community_id,
        roles=summary.roles,
    )
