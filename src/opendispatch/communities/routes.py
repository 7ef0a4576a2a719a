"""HTTP door of the community endpoints: version and servers."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from opendispatch.communities import service
from opendispatch.communities.schemas import Plan, Principal, ServerList, Version
from opendispatch.http import PROBLEM_RESPONSES, app_state, authenticated, json_response

router = APIRouter(prefix="/v2/general", tags=["general"], responses=PROBLEM_RESPONSES)


@router.get("/version", response_model=Version, summary="Get Version")
async def get_version(principal: Principal = Depends(authenticated)) -> Response:
    """The community's plan as a number and a name (4, PRO on a self-hosted default)."""
    return json_response(Version(version=principal.plan, name=Plan(principal.plan).name))


@router.get("/servers", response_model=ServerList, summary="Get Servers")
async def get_servers(request: Request, principal: Principal = Depends(authenticated)) -> Response:
    """The community's configured servers."""
    servers = await app_state(request).db.read(service.list_servers, principal.community_id)
    return json_response(ServerList(servers=servers))
