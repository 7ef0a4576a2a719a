"""Rules of accounts and units, and how call targets resolve to units."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from opendispatch.communities.service import hash_secret, require_community, require_server
from opendispatch.errors import Conflict, InvalidInput, NotFound
from opendispatch.units.models import accounts, identifiers, selected_identifiers
from opendispatch.units.schemas import NewAccount


def create_account(
    conn: Connection,
    *,
    community_id: str,
    username: str,
    now: int,
    community_user_id: str | None = None,
) -> NewAccount:
    """Create an account, optionally linked to an in-game identifier."""
    require_community(conn, community_id)
    if not username.strip():
        raise InvalidInput("An account needs a username.", {"username": "must not be empty"})
    if community_user_id is not None and not 0 < len(community_user_id) <= 255:
        raise InvalidInput(
            "A community user id is 1 to 255 characters.", {"communityUserId": "1 to 255 characters"}
        )
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
                    secret_hash=hash_secret(secret_uuid),
                    created_at=now,
                )
            )
    except IntegrityError as exc:
        raise Conflict("That username or community user id is already taken in this community.") from exc
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
