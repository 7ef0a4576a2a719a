"""Helpers of the admin tests: members who may log in, and reading the audit log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from opendispatch.units.models import accounts
from opendispatch.web import sessions
from tests.support import Community, Provisioner, Server
from tests.web.support import PASSWORD, Console

MEMBERS = "/console/api/admin/members"
UNITS = "/console/api/admin/units"
AUDIT = "/console/api/admin/audit"
ME = "/console/api/me"


def member(
    provision: Provisioner, community: Community, username: str, community_user_id: str | None = None
) -> dict[str, Any]:
    """An account with only the member role and a password (as an answered invite leaves it)."""
    account = provision.account(community, username, community_user_id)
    with provision.db.transaction() as conn:
        conn.execute(
            update(accounts)
            .where(accounts.c.account_uuid == account["uuid"])
            .values(password_hash=sessions.hash_password(PASSWORD))
        )
    return account


def can_log_in(server: Server, community: Community, username: str, password: str = PASSWORD) -> bool:
    with server.client() as http:
        body = {"communityId": community.community_id, "username": username, "password": password}
        return http.post("/console/api/login", json=body).status_code == 200


def audit(console: Console) -> list[dict[str, Any]]:
    """The community's audit entries, oldest first."""
    answer = console.get(AUDIT, params={"limit": 200})
    assert answer.status_code == 200, answer.text
    return list(reversed(answer.json()["entries"]))


def actions(console: Console) -> list[str]:
    return [entry["action"] for entry in audit(console)]
