"""HTTP door of the call endpoints of the reference: create 911 call, create dispatch call, get calls."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from opendispatch.calls import service
from opendispatch.calls.schemas import (
    CallListing,
    CallTableType,
    DispatchCall,
    EmergencyCall,
    NewDispatchCall,
    NewEmergencyCall,
    TableTypeParam,
)
from opendispatch.communities.schemas import Principal
from opendispatch.http import PROBLEM_RESPONSES, app_state, json_response, rate_limited

router = APIRouter(prefix="/v2/emergency/servers/{serverId}", tags=["calls"], responses=PROBLEM_RESPONSES)

ServerId = Path(description="Configured server ID.", examples=[1])


@router.post("/calls/911", response_model=EmergencyCall, summary="Create 911 Call")
async def create_911_call(
    request: Request,
    call: NewEmergencyCall,
    serverId: int = ServerId,
    principal: Principal = rate_limited("create_911"),
) -> Response:
    """Create a new 911 call for a server (10 requests per minute per key by default)."""
    state = app_state(request)
    created = await state.db.write(
        service.open_emergency_call,
        community_id=principal.community_id,
        server_id=serverId,
        call=call,
        now=state.clock.now_ms(),
    )
    return json_response(created)


@router.post("/dispatch-calls", response_model=DispatchCall, summary="Create Dispatch Call")
async def create_dispatch_call(
    request: Request,
    call: NewDispatchCall,
    serverId: int = ServerId,
    principal: Principal = rate_limited("create_dispatch"),
) -> Response:
    """Create a dispatch call and attach the units its community user ids and accounts resolve to."""
    state = app_state(request)
    created = await state.db.write(
        service.open_dispatch_call,
        community_id=principal.community_id,
        server_id=serverId,
        call=call,
        now=state.clock.now_ms(),
    )
    return json_response(created)


@router.get("/calls", response_model=CallListing, summary="Get Calls")
async def get_calls(
    request: Request,
    serverId: int = ServerId,
    closedLimit: int = Query(10, ge=0, le=100, description="Most closed dispatch calls returned."),
    closedOffset: int = Query(0, ge=0, description="Closed calls to skip, newest first."),
    type: TableTypeParam = Query(CallTableType.SEARCH_ALL, description="0/dispatch, 1/emergency, 100/all."),
    principal: Principal = rate_limited("get_calls"),
) -> Response:
    """Active dispatch calls, live 911 calls and a page of closed calls."""
    listing = await app_state(request).db.read(
        service.list_calls,
        community_id=principal.community_id,
        server_id=serverId,
        table_type=type,
        closed_limit=closedLimit,
        closed_offset=closedOffset,
    )
    return json_response(listing)
