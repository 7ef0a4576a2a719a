"""Helpers of the admin pages' tests: a logged-in admin, the audit log, and what an admin sees."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from tests.support import Community, Provisioner, Server
from tests.web.support import Console, admin

ADMIN = "/console/api/admin"


def admin_console(
    server: Server, provision: Provisioner, community: Community, username: str = "root"
) -> Console:
    """A console session of a fresh admin of ``community``."""
    admin(provision, community, username)
    return Console(server, community, username)


def audit(console: Console) -> list[dict[str, Any]]:
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
