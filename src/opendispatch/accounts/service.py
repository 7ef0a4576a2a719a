"""Rules of the general account operations: finding accounts, their API ids, secrets and link codes."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from sqlalchemy import Connection, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from opendispatch.accounts.models import link_codes
from opendispatch.accounts.schemas import (
    CONSOLE_ROLES,
    MAX_API_IDS,
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
    LinkCode,
    Pagination,
    VerifiedSecret,
)
from opendispatch.clock import iso_utc
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

    An account left without the admin and dispatcher roles has its console sessions ended.
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
    if not roles & CONSOLE_ROLES:
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
    """Delete the link codes past their expiry (an expired code is refused anyway)."""
    return conn.execute(delete(link_codes).where(link_codes.c.expires_at <= now)).rowcount
