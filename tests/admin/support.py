"""Helpers of the admin tests: members who may log in, admins' sessions, the audit log, uploads."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image
from sqlalchemy import update

from opendispatch.units.models import accounts
from opendispatch.web import sessions
from tests.support import Community, Provisioner, Server
from tests.web.support import PASSWORD, Console, admin

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


# -- the servers, keys, and plan and limits sections -------------------------------------------------------

ADMIN = "/console/api/admin"


def admin_console(
    server: Server, provision: Provisioner, community: Community, username: str = "root"
) -> Console:
    """A console session of a fresh admin of ``community``."""
    admin(provision, community, username)
    return Console(server, community, username)


def latest_audit(console: Console) -> list[dict[str, Any]]:
    """The community's audit entries, newest first."""
    answer = console.get(ADMIN + "/audit")
    assert answer.status_code == 200, answer.text
    entries: list[dict[str, Any]] = answer.json()["entries"]
    return entries


def seen(console: Console) -> dict[str, Any]:
    """Everything the servers, keys, and plan and limits sections show: a change shows here."""
    return {
        "servers": console.get(ADMIN + "/servers").json(),
        "keys": console.get(ADMIN + "/keys", params={"revoked": "true"}).json(),
        "limits": console.get(ADMIN + "/limits").json(),
    }


def put(console: Console, path: str, content: bytes, **params: Any) -> Any:
    """A raw-body upload (a map image, tiles, a postal file) with the session's CSRF token."""
    return console.http.put(path, content=content, params=params)


def png(width: int, height: int, colour: tuple[int, int, int] = (10, 20, 30)) -> bytes:
    """A plain PNG image."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()
