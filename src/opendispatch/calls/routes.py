"""HTTP door of the call endpoints of the reference: create 911 call, create dispatch call, get calls."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from opendispatch.calls import service
from opendispatch.calls.schemas import (
    CallListing,
    CallNoteAdded,
    CallTableType,
    CloseCalls,
    ClosedCalls,
    DispatchCall,
    DispatchCallChanges,
    EmergencyCall,
    NewCallNote,
    NewDispatchCall,
    NewEmergencyCall,
    RemovedEmergencyCall,
    SetPostal,
    SetPrimary,
    TableTypeParam,
    UnitsAttached,
)
from opendispatch.communities.schemas import Principal
from opendispatch.errors import InvalidInput
from opendispatch.history.schemas import CallHistory
from opendispatch.http import (
    PROBLEM_RESPONSES,
    ApiKey,
    app_state,
    documented_body,
    json_response,
    rate_limited,
    read_body,
)
from opendispatch.schemas import MAX_ID, CallIdPath, ServerIdPath
from opendispatch.units.schemas import AffectedUnits, Targets

router = APIRouter(prefix="/v2/emergency/servers/{serverId}", tags=["calls"], responses=PROBLEM_RESPONSES)

ServerId = ServerIdPath


_CREATE_911_KEY = ApiKey("create_911")


@router.post(
    "/calls/911",
    response_model=EmergencyCall,
    summary="Create 911 Call",
    openapi_extra=documented_body(NewEmergencyCall),
)
async def create_911_call(request: Request, serverId: int = ServerId) -> Response:
    """Create a new 911 call for a server (10 requests per minute per key by default)."""
    return await open_911_call(request, serverId)


async def open_911_call(request: Request, server_id: int) -> Response:
    """The work of Create 911 Call, shared by its documented route and its fast door."""
    principal = await _CREATE_911_KEY(request)
    call = await read_body(request, NewEmergencyCall)
    state = app_state(request)
    created = await state.db.write(
        service.open_emergency_call,
        community_id=principal.community_id,
        server_id=server_id,
        call=call,
        now=state.clock.now_ms(),
        actor=principal.actor,
    )
    return json_response(created)


async def create_911_call_fast(request: Request) -> Response:
    """Create 911 Call as a plain Starlette route: the hottest path, measured against a bare ASGI floor.

    Starlette's ``int`` path convertor takes digits only; the range check is the one ServerIdPath makes.
    """
    server_id: int = request.path_params["serverId"]
    if server_id > MAX_ID:
        raise InvalidInput(
            f"serverId: Input should be less than or equal to {MAX_ID}",
            {"serverId": f"Input should be less than or equal to {MAX_ID}"},
        )
    return await open_911_call(request, server_id)


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
        actor=principal.actor,
    )
    return json_response(created)


@router.get("/calls", response_model=CallListing, summary="Get Calls")
async def get_calls(
    request: Request,
    serverId: int = ServerId,
    closedLimit: int = Query(10, ge=0, le=100, description="Most closed dispatch calls returned."),
    closedOffset: int = Query(0, ge=0, le=MAX_ID, description="Closed calls to skip, newest first."),
    # Annotated, not a Query default: only this form runs the validator that accepts the names.
    type: Annotated[
        TableTypeParam, Query(description="0 or dispatch, 1 or emergency, 100 or all.")
    ] = CallTableType.SEARCH_ALL,
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


@router.delete("/calls/911/{callId}", response_model=RemovedEmergencyCall, summary="Remove 911 Call")
async def remove_911_call(
    request: Request,
    callId: Annotated[int, CallIdPath],
    serverId: int = ServerId,
    principal: Principal = rate_limited("remove_911"),
) -> Response:
    """Remove a 911 call from the queue (it stays in the history)."""
    state = app_state(request)
    removed = await state.db.write(
        service.remove_emergency_call,
        community_id=principal.community_id,
        server_id=serverId,
        call_id=callId,
        now=state.clock.now_ms(),
        actor=principal.actor,
    )
    return json_response(removed)


# Declared before "/dispatch-calls/{callId}" so "attachments" and "close" are not taken for call ids.
@router.delete("/dispatch-calls/attachments", response_model=AffectedUnits, summary="Detach Units")
async def detach_units(
    request: Request,
    targets: Targets,
    serverId: int = ServerId,
    principal: Principal = rate_limited("detach_units"),
) -> Response:
    """Take the named units off the open calls they are on."""
    state = app_state(request)
    idents = await state.db.write(
        service.detach_from_calls,
        community_id=principal.community_id,
        server_id=serverId,
        targets=targets,
        now=state.clock.now_ms(),
        actor=principal.actor,
    )
    return json_response(AffectedUnits(identIds=idents))


@router.post("/dispatch-calls/close", response_model=ClosedCalls, summary="Close Dispatch Calls")
async def close_dispatch_calls(
    request: Request,
    body: CloseCalls,
    serverId: int = ServerId,
    principal: Principal = rate_limited("close_calls"),
) -> Response:
    """Close calls; all or none (409 if one is already closed)."""
    state = app_state(request)
    closed = await state.db.write(
        service.close_calls,
        community_id=principal.community_id,
        server_id=serverId,
        call_ids=body.callIds,
        now=state.clock.now_ms(),
        actor=principal.actor,
    )
    return json_response(closed)


@router.patch("/dispatch-calls/{callId}", response_model=DispatchCall, summary="Update Dispatch Call")
async def update_dispatch_call(
    request: Request,
    callId: Annotated[int, CallIdPath],
    changes: DispatchCallChanges,
    serverId: int = ServerId,
    principal: Principal = rate_limited("update_dispatch"),
) -> Response:
    """Change any subset of a call's fields; a sent metaData replaces the whole object."""
    state = app_state(request)
    updated = await state.db.write(
        service.update_dispatch_call,
        community_id=principal.community_id,
        server_id=serverId,
        call_id=callId,
        changes=changes.changes(),
        now=state.clock.now_ms(),
        actor=principal.actor,
    )
    return json_response(updated)


@router.post("/dispatch-calls/{callId}/attachments", response_model=UnitsAttached, summary="Attach Units")
async def attach_units(
    request: Request,
    callId: Annotated[int, CallIdPath],
    targets: Targets,
    serverId: int = ServerId,
    principal: Principal = rate_limited("attach_units"),
) -> Response:
    """Attach units by community user ids, account uuids or identIds; each leaves any other open call."""
    state = app_state(request)
    attached = await state.db.write(
        service.attach_to_call,
        community_id=principal.community_id,
        server_id=serverId,
        call_id=callId,
        targets=targets,
        now=state.clock.now_ms(),
        actor=principal.actor,
    )
    return json_response(attached)


@router.post("/dispatch-calls/{callId}/notes", response_model=CallNoteAdded, summary="Add Dispatch Note")
async def add_dispatch_note(
    request: Request,
    callId: Annotated[int, CallIdPath],
    note: NewCallNote,
    serverId: int = ServerId,
    principal: Principal = rate_limited("add_note"),
) -> Response:
    """Add a text or link note to a call."""
    state = app_state(request)
    added = await state.db.write(
        service.add_note,
        community_id=principal.community_id,
        server_id=serverId,
        call_id=callId,
        note=note,
        now=state.clock.now_ms(),
        actor=principal.actor,
    )
    return json_response(added)


@router.patch("/dispatch-calls/{callId}/postal", response_model=DispatchCall, summary="Set Dispatch Postal")
async def set_dispatch_postal(
    request: Request,
    callId: Annotated[int, CallIdPath],
    body: SetPostal,
    serverId: int = ServerId,
    principal: Principal = rate_limited("set_postal"),
) -> Response:
    """Set a call's postal."""
    state = app_state(request)
    updated = await state.db.write(
        service.update_dispatch_call,
        community_id=principal.community_id,
        server_id=serverId,
        call_id=callId,
        changes={"postal": body.postal},
        now=state.clock.now_ms(),
        actor=principal.actor,
    )
    return json_response(updated)


@router.patch("/dispatch-calls/{callId}/primary", response_model=DispatchCall, summary="Set Dispatch Primary")
async def set_dispatch_primary(
    request: Request,
    callId: Annotated[int, CallIdPath],
    body: SetPrimary,
    serverId: int = ServerId,
    principal: Principal = rate_limited("set_primary"),
) -> Response:
    """Make an attached unit the primary (-1 clears it) and set whether the call tracks it."""
    state = app_state(request)
    updated = await state.db.write(
        service.set_primary,
        community_id=principal.community_id,
        server_id=serverId,
        call_id=callId,
        ident_id=body.identId,
        track_primary=body.trackPrimary,
        now=state.clock.now_ms(),
        actor=principal.actor,
    )
    return json_response(updated)


@router.get("/dispatch-calls/{callId}/history", response_model=CallHistory, summary="Dispatch Call History")
async def dispatch_call_history(
    request: Request,
    callId: Annotated[int, CallIdPath],
    serverId: int = ServerId,
    principal: Principal = rate_limited("call_history"),
) -> Response:
    """Every change to the call with its time and author, and each unit's attach/en route/on scene/clear."""
    found = await app_state(request).db.read(
        service.dispatch_call_history,
        community_id=principal.community_id,
        server_id=serverId,
        call_id=callId,
    )
    return json_response(found)
