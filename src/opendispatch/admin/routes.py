"""The admin pages' door: ``/console/admin`` and its API under ``/console/api/admin``.

Same process, session cookie and CSRF rules as the console; every route needs the admin role (403
otherwise), every query is scoped to the admin's community (another community's ids are 404), and every
change writes an audit entry in its own transaction (``admin.service.record``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from opendispatch import __version__
from opendispatch.admin import service
from opendispatch.admin.schemas import AuditPage
from opendispatch.api.auth import Caller, console_session
from opendispatch.api.routing import Operation
from opendispatch.schemas import MAX_ID
from opendispatch.web.routes import PAGE_HEADERS, STATIC

admin = APIRouter(include_in_schema=False, route_class=Operation)
ADMIN = "/console/api/admin"
Admin = Annotated[Caller, console_session("admin")]


@admin.get("/console/admin")
async def admin_page() -> Response:
    """The admin pages: one page, its script from /console/static (the session decides what it shows)."""
    page = (STATIC / "admin.html").read_text().replace("{{version}}", __version__)
    return Response(page, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@admin.get(ADMIN + "/audit", response_model=AuditPage)
async def audit(
    caller: Admin,
    limit: Annotated[int, Query(ge=1, le=service.MAX_AUDIT_PAGE)] = 50,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> AuditPage:
    """The community's audit log, newest first, a page at a time."""
    return await caller.read(service.audit_page, limit=limit, before=before)
