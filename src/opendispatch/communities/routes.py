"""HTTP door of the community endpoints: the version (servers live with their push settings)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.responses import Response

from opendispatch.communities.schemas import Plan, Principal, Version
from opendispatch.http import PROBLEM_RESPONSES, authenticated, json_response

router = APIRouter(prefix="/v2/general", tags=["general"], responses=PROBLEM_RESPONSES)


@router.get("/version", response_model=Version, summary="Get Version")
async def get_version(principal: Principal = Depends(authenticated)) -> Response:
    """The community's plan as a number and a name (4, PRO on a self-hosted default)."""
    return json_response(Version(version=principal.plan, name=Plan(principal.plan).name))
