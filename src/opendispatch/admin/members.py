"""What an admin does to the community's members and their units: each change goes through the domain's
own service and writes one audit entry in the same transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from opendispatch.accounts import service as accounts
from opendispatch.accounts.schemas import (
    AccountLookup,
    AccountSummary,
    Invite,
    InviteAccepted,
    InviteKind,
    InviteLink,
)
from opendispatch.admin.schemas import MemberChange, MemberList, UnitFields, UnitRecords
from opendispatch.admin.service import Actor, audit
from opendispatch.errors import Conflict
from opendispatch.units import service as units
from opendispatch.units.schemas import SelectIdentifier, UnitRecord

MAX_UNITS_LISTED = 2000  # the admin page lists a community's units in one page, up to this many


def _member(conn: Connection, community_id: str, account_uuid: str) -> AccountSummary:
    lookup = AccountLookup(accountUuid=account_uuid)
    return accounts.account_summary(conn, community_id=community_id, lookup=lookup)


# -- members --------------------------------------------------------------------------------------------


def list_members(conn: Connection, *, community_id: str, now: int) -> MemberList:
    """Every account of the community by username, and the invite and reset links still open."""
    return MemberList(
        members=accounts.account_summaries(conn, community_id=community_id),
        invites=accounts.list_invites(conn, community_id=community_id, now=now),
    )


def invite_member(
    conn: Connection, *, community_id: str, actor: Actor, roles: list[str], hours: int, now: int
) -> InviteLink:
    """A one-time link for a new member with these roles (its token is in the answer only)."""
    link = accounts.create_invite(
        conn, community_id=community_id, roles=roles, created_by=actor.account_uuid, now=now, hours=hours
    )
    detail = {"roles": link.roles, "expires": link.expires}
    audit(conn, community_id, actor, "member.invite", f"invite #{link.inviteId}", detail, now)
    return link


def revoke_invite(conn: Connection, *, community_id: str, actor: Actor, invite_id: int, now: int) -> Invite:
    """Make an invite or reset link dead before it expires."""
    revoked = accounts.revoke_invite(conn, community_id=community_id, invite_id=invite_id)
    detail = {"kind": revoked.kind, "username": revoked.username, "roles": revoked.roles}
    audit(conn, community_id, actor, "member.invite_revoke", f"invite #{invite_id}", detail, now)
    return revoked


def change_member(
    conn: Connection, *, community_id: str, actor: Actor, account_uuid: str, change: MemberChange, now: int
) -> AccountSummary:
    """Change a member's roles (the whole set sent) and linked ids; an admin keeps their own admin role."""
    before = _member(conn, community_id, account_uuid)
    add: frozenset[str] = frozenset()
    remove: frozenset[str] = frozenset()
    if change.roles is not None:
        wanted = frozenset(change.roles)
        units.role_columns(wanted)  # refuses an unknown role
        add, remove = wanted - set(before.roles), frozenset(before.roles) - wanted
        if account_uuid == actor.account_uuid and "admin" in remove:
            raise Conflict("You cannot take away your own admin role; another admin can.")
    after = accounts.change_account(
        conn,
        community_id=community_id,
        lookup=AccountLookup(accountUuid=account_uuid),
        community_user_id=change.communityUserId,
        discord=change.discord,
        roblox=change.roblox,
        add_roles=add,
        remove_roles=remove,
    )
    detail: dict[str, Any] = {}
    for name in ("roles", "communityUserId", "discord", "roblox"):
        old, new = getattr(before, name), getattr(after, name)
        if old != new:
            detail[name] = {"before": old, "after": new}
    audit(conn, community_id, actor, "member.change", f"member {after.username}", detail, now)
    return after


def set_member_disabled(
    conn: Connection, *, community_id: str, actor: Actor, account_uuid: str, disabled: bool, now: int
) -> AccountSummary:
    """Disable a member (no login, sessions end; units and links stay) or enable them again."""
    if disabled and account_uuid == actor.account_uuid:
        raise Conflict("You cannot disable your own account; another admin can.")
    changed = accounts.set_account_disabled(
        conn,
        community_id=community_id,
        lookup=AccountLookup(accountUuid=account_uuid),
        disabled=disabled,
        now=now,
    )
    action = "member.disable" if disabled else "member.enable"
    audit(conn, community_id, actor, action, f"member {changed.username}", {}, now)
    return changed


def reset_password(
    conn: Connection, *, community_id: str, actor: Actor, account_uuid: str, hours: int, now: int
) -> InviteLink:
    """A one-time link that sets the member's new password; the old one stops working at once."""
    if account_uuid == actor.account_uuid:
        raise Conflict("You cannot reset your own password here (it would log you out); another admin can.")
    link = accounts.create_password_reset(
        conn,
        community_id=community_id,
        lookup=AccountLookup(accountUuid=account_uuid),
        created_by=actor.account_uuid,
        now=now,
        hours=hours,
    )
    detail = {"invite": link.inviteId, "expires": link.expires}
    audit(conn, community_id, actor, "member.password_reset", f"member {link.username}", detail, now)
    return link


def answer_invite(
    conn: Connection, *, token: str, username: str, password_hash: str, now: int
) -> InviteAccepted:
    """Use an invite or reset link once; the audit log names the member who answered it."""
    accepted = accounts.accept_invite(
        conn, token=token, username=username, password_hash=password_hash, now=now
    )
    joined = accepted.kind == InviteKind.JOIN
    action = "member.join" if joined else "member.password_set"
    detail = {"roles": accepted.roles} if joined else {}
    actor = Actor(accepted.accountUuid, accepted.username)
    audit(conn, accepted.communityId, actor, action, f"member {accepted.username}", detail, now)
    return accepted


# -- units ----------------------------------------------------------------------------------------------


def list_units(conn: Connection, *, community_id: str) -> UnitRecords:
    """Every unit of the community by identId, with whose it is and the servers it is selected on."""
    return UnitRecords(units=units.unit_records(conn, community_id=community_id, limit=MAX_UNITS_LISTED))


def change_unit(
    conn: Connection, *, community_id: str, actor: Actor, ident_id: int, fields: UnitFields, now: int
) -> UnitRecord:
    """Change a member's unit's fields that were sent."""
    before = units.unit_record(conn, community_id=community_id, ident_id=ident_id)
    units.update_identifier(
        conn,
        community_id=community_id,
        account_uuid=before.accountUuid,
        ident_id=ident_id,
        fields=fields.changes(),
        now=now,
    )
    after = units.unit_record(conn, community_id=community_id, ident_id=ident_id)
    detail = {
        name: {"before": getattr(before, name), "after": getattr(after, name)}
        for name in fields.sent()
        if getattr(before, name) != getattr(after, name)
    }
    target = f"unit {ident_id} of {after.username}"
    audit(conn, community_id, actor, "unit.change", target, detail, now)
    return after


def select_unit(
    conn: Connection, *, community_id: str, actor: Actor, ident_id: int, server_id: int, now: int
) -> UnitRecord:
    """Make the unit its member's selected one on a server (it comes on duty there unless OFFLINE)."""
    owner = units.unit_record(conn, community_id=community_id, ident_id=ident_id).accountUuid
    units.choose_identifier(
        conn,
        community_id=community_id,
        account_uuid=owner,
        choice=SelectIdentifier(identId=ident_id, serverId=server_id),
        now=now,
    )
    after = units.unit_record(conn, community_id=community_id, ident_id=ident_id)
    target = f"unit {ident_id} of {after.username}"
    audit(conn, community_id, actor, "unit.select", target, {"serverId": server_id}, now)
    return after
