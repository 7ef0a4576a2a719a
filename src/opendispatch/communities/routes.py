"""HTTP door of the community endpoints: the version (servers live with their push settings)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from opendispatch.api.auth import Caller, api_caller
from opendispatch.api.problems import PROBLEM_RESPONSES
from opendispatch.api.routing import Operation
from opendispatch.communities.schemas import Plan, Version

router = APIRouter(tags=["general"], responses=PROBLEM_RESPONSES, route_class=Operation)


@router.get("/v2/general/version", response_model=Version, summary="Get Version")
async def get_version(caller: Annotated[Caller, api_caller()]) -> Version:
    """The community's plan as a number and a name (4, PRO on a self-hosted default)."""
    assert caller.key is not None  # an API key's route
    return Version(version=caller.key.plan, name=Plan(caller.key.plan).name)
