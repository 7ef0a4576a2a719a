"""Invite and reset links as the accounts service keeps them: bounded, one-time, scoped."""

from __future__ import annotations

import pytest

from opendispatch.accounts import service
from opendispatch.accounts.schemas import AccountLookup
from opendispatch.errors import Conflict, InvalidInput, NotFound
from tests.support import Community, Provisioner

HOUR_MS = 60 * 60 * 1000


def test_at_most_200_links_are_open_per_community_and_expired_ones_make_room(
    provision: Provisioner, community: Community
) -> None:
    other = provision.community("Bravo")
    cid = community.community_id
    with provision.db.transaction() as conn:
        for n in range(service.MAX_OUTSTANDING_INVITES):
            hours = 1 if n < 10 else 72
            service.create_invite(
                conn, community_id=cid, roles=["member"], created_by="x", now=0, hours=hours
            )
        with pytest.raises(Conflict):
            service.create_invite(conn, community_id=cid, roles=["member"], created_by="x", now=0)
        # Another community has room of its own.
        service.create_invite(conn, community_id=other.community_id, roles=["member"], created_by="x", now=0)
        # Once ten have expired, ten more fit.
        for _ in range(10):
            service.create_invite(conn, community_id=cid, roles=["member"], created_by="x", now=HOUR_MS)
        with pytest.raises(Conflict):
            service.create_invite(conn, community_id=cid, roles=["member"], created_by="x", now=HOUR_MS)
        assert len(service.list_invites(conn, community_id=cid, now=HOUR_MS)) == 200
        assert len(service.list_invites(conn, community_id=other.community_id, now=HOUR_MS)) == 1


def test_links_are_checked_once_by_token_and_roles_and_lifetimes_are_bounded(
    provision: Provisioner, community: Community
) -> None:
    cid = community.community_id
    provision.account(community, "bob")
    with provision.db.transaction() as conn:
        for roles, hours in (([], 72), (["owner"], 72), (["member"], 0), (["member"], 169)):
            with pytest.raises(InvalidInput):
                service.create_invite(conn, community_id=cid, roles=roles, created_by="x", now=0, hours=hours)
        with pytest.raises(NotFound):
            service.create_invite(conn, community_id="nope", roles=["member"], created_by="x", now=0)
        link = service.create_invite(conn, community_id=cid, roles=["admin", "member"], created_by="x", now=0)
        assert link.roles == ["admin", "member"] and link.kind == "join"
        info = service.invite_info(conn, token=link.token, now=0)
        assert (info.kind, info.communityId, info.roles) == ("join", cid, ["admin", "member"])
        with pytest.raises(NotFound):
            service.invite_info(conn, token=link.token + "x", now=0)
        joined = service.accept_invite(conn, token=link.token, username="ann", password_hash="h", now=1)
        assert (joined.username, joined.roles) == ("ann", ["admin", "member"])
        with pytest.raises(NotFound):
            service.accept_invite(conn, token=link.token, username="ann2", password_hash="h", now=1)
        reset = service.create_password_reset(
            conn, community_id=cid, lookup=AccountLookup(username="bob"), created_by="x", now=0
        )
        assert (reset.kind, reset.username, reset.roles) == ("reset", "bob", [])
        with pytest.raises(NotFound):
            service.revoke_invite(conn, community_id="nope", invite_id=reset.inviteId)
        assert service.revoke_invite(conn, community_id=cid, invite_id=reset.inviteId).kind == "reset"
        with pytest.raises(NotFound):
            service.invite_info(conn, token=reset.token, now=0)
