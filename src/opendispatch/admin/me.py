"""A member's own page: their units, the one selected per server, and the call they are on.

Every function takes the session's own account: a member reaches nobody else's units here.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from opendispatch.accounts import service as accounts
from opendispatch.accounts.schemas import AccountLookup
from opendispatch.admin.schemas import MyCall, MyPage, UnitFields
from opendispatch.calls import service as calls
from opendispatch.calls.models import dispatch_calls
from opendispatch.communities.service import list_servers
from opendispatch.units import service as units
from opendispatch.units.schemas import SelectIdentifier


def my_page(conn: Connection, *, community_id: str, account_uuid: str) -> MyPage:
    """Who the member is, their units and selections, and the open dispatch call their unit is on."""
    me = accounts.account_summary(
        conn, community_id=community_id, lookup=AccountLookup(accountUuid=account_uuid)
    )
    listed = units.list_identifiers(conn, community_id=community_id, account_uuid=account_uuid)
    current = calls.current_call(conn, community_id=community_id, account_uuid=account_uuid)
    on_call = None
    if current.CallId is not None and current.IdentId is not None:
        server_id = conn.execute(
            select(dispatch_calls.c.server_id).where(
                dispatch_calls.c.community_id == community_id, dispatch_calls.c.call_id == current.CallId
            )
        ).scalar_one()
        [call] = calls.load_dispatch_calls(conn, community_id, [current.CallId])
        on_call = MyCall(serverId=server_id, identId=current.IdentId, call=call)
    return MyPage(
        accountUuid=me.accountUuid,
        username=me.username,
        roles=me.roles,
        communityUserId=me.communityUserId,
        servers=list_servers(conn, community_id),
        identifiers=listed.identifiers,
        selected=listed.selected,
        currentCall=on_call,
    )


def add_unit(
    conn: Connection, *, community_id: str, account_uuid: str, fields: UnitFields, now: int
) -> MyPage:
    """Give the member a new unit (select it to put it on a server)."""
    units.create_identifier(
        conn, community_id=community_id, account_uuid=account_uuid, fields=fields.new(), now=now
    )
    return my_page(conn, community_id=community_id, account_uuid=account_uuid)


def edit_unit(
    conn: Connection, *, community_id: str, account_uuid: str, ident_id: int, fields: UnitFields, now: int
) -> MyPage:
    """Change the fields sent of one of the member's units (another's is a 404)."""
    units.update_identifier(
        conn,
        community_id=community_id,
        account_uuid=account_uuid,
        ident_id=ident_id,
        fields=fields.changes(),
        now=now,
    )
    return my_page(conn, community_id=community_id, account_uuid=account_uuid)


def remove_unit(conn: Connection, *, community_id: str, account_uuid: str, ident_id: int, now: int) -> MyPage:
    """Delete one of the member's units that never worked a call."""
    units.delete_identifier(
        conn, community_id=community_id, account_uuid=account_uuid, ident_id=ident_id, now=now
    )
    return my_page(conn, community_id=community_id, account_uuid=account_uuid)


def select_unit(
    conn: Connection, *, community_id: str, account_uuid: str, ident_id: int, server_id: int, now: int
) -> MyPage:
    """Make one of the member's units their selected one on a server."""
    units.choose_identifier(
        conn,
        community_id=community_id,
        account_uuid=account_uuid,
        choice=SelectIdentifier(identId=ident_id, serverId=server_id),
        now=now,
    )
    return my_page(conn, community_id=community_id, account_uuid=account_uuid)
