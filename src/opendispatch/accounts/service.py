"""Rules of the general account operations: finding accounts, their API ids, secrets and link codes."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from sqlalchemy import Connection, delete, func, insert, or_, select

from opendispatch.accounts.models import link_codes
from opendispatch.accounts.schemas import (
    MAX_API_IDS,
    PERMISSIONS,
    Account,
    AccountList,
    AccountLookup,
    AccountStatus,
    ApiIdHolder,
    ApiIds,
    ApiIdsChange,
    LinkCode,
    Pagination,
    VerifiedSecret,
)
from opendispatch.clock import iso_utc
from opendispatch.communities.service import hash_secret
from opendispatch.errors import Conflict, InvalidInput, NotFound
from opendispatch.units import service as units
from opendispatch.units.models import account_api_ids, accounts
from opendispatch.units.schemas import Link
from opendispatch.web.models import console_sessions

LINK_CODE_TTL_MS = 10 * 60 * 1000  # the docs' ten minutes
MAX_OUTSTANDING_CODES = 500  # per community; a player asks again when theirs expired
# Six characters, not the docs' four: a logged-in user who guesses another player's code links that
# player to their own account, so the codes must be far more than the outstanding ones. No 0/O, 1/I/L.
LINK_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LINK_CODE_LENGTH = 6


def _account(row: Any) -> Account:
    # Accounts here are made by the operator, so every one is VALIDATED; console login is "dispatch".
    permissions = dict.fromkeys(PERMISSIONS, False)
    permissions["dispatch"] = row.password_hash is not None
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
