"""HTTP door of the call operations: 911 calls, dispatch calls, their units, notes and history.

Each route parses, calls one service function as its ``Caller``, and answers the model it gets back.
The routes the console's buttons use take a console session as well as an API key.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from opendispatch.api.auth import Caller, api_caller
from opendispatch.api.params import AccountUuid, CallId, ServerId, TemplateId
from opendispatch.api.problems import PROBLEM_RESPONSES
from opendispatch.api.routing import Operation
from opendispatch.calls import service
from opendispatch.calls.schemas import (
    MAX_CLOSED_PAGE,
    CallListing,
    CallTableType,
    CloseCalls,
    ClosedCalls,
    CurrentCall,
    CustomDispatchCall,
    DispatchCall,
    DispatchCallChanges,
    DispatchTemplate,
    DispatchTemplates,
    EmergencyCall,
    NewCallNote,
    NewCustomDispatchCall,
    NewDispatchCall,
    NewEmergencyCall,
    NoteAdded,
    PostalSet,
    PrimarySet,
    RemovedEmergencyCall,
    SetPostal,
    SetPrimary,
    TableTypeParam,
    UnitsAttached,
)
from opendispatch.history.schemas import MAX_HISTORY_PAGE, CallHistory
from opendispatch.schemas import MAX_ID
from opendispatch.units.schemas import AffectedUnits, Targets

router = APIRouter(tags=["calls"], responses=PROBLEM_RESPONSES, route_class=Operation)
SERVER = "/v2/emergency/servers/{serverId}"


@router.post(SERVER + "/calls/911", response_model=EmergencyCall, summary="Create 911 Call")
async def create_911_call(
    serverId: ServerId,
    call: NewEmergencyCall,
    caller: Annotated[Caller, api_caller("create_911", console=True)],
) -> EmergencyCall:
    """Create a new 911 call for a server (10 requests per minute per key by default)."""
    return await caller.write(
        service.open_emergency_call, server_id=serverId, call=call, now=caller.now(), actor=caller.actor
    )


@router.post(SERVER + "/dispatch-calls", response_model=DispatchCall, summary="Create Dispatch Call")
async def create_dispatch_call(
    serverId: ServerId,
    call: NewDispatchCall,
    caller: Annotated[Caller, api_caller("create_dispatch")],
) -> DispatchCall:
    """Create a dispatch call and attach the units its community user ids and accounts resolve to."""
    return await caller.write(
        service.open_dispatch_call, server_id=serverId, call=call, now=caller.now(), actor=caller.actor
    )


@router.get(SERVER + "/calls", response_model=CallListing, summary="Get Calls")
async def get_calls(
    serverId: ServerId,
    caller: Annotated[Caller, api_caller("get_calls")],
    closedLimit: Annotated[
        int, Query(ge=0, le=MAX_CLOSED_PAGE, description="Most closed dispatch calls returned.")
    ] = 10,
    closedOffset: Annotated[
        int, Query(ge=0, le=MAX_ID, description="Closed calls to skip, newest first.")
    ] = 0,
    type: Annotated[
        TableTypeParam, Query(description="0 or dispatch, 1 or emergency, 100 or all.")
    ] = CallTableType.SEARCH_ALL,
) -> CallListing:
    """Active dispatch calls, live 911 calls and a page of closed calls."""
    return await caller.read(
        service.list_calls,
        server_id=serverId,
        table_type=type,
        closed_limit=closedLimit,
        closed_offset=closedOffset,
    )


@router.delete(SERVER + "/calls/911/{callId}", response_model=RemovedEmergencyCall, summary="Remove 911 Call")
async def remove_911_call(
    serverId: ServerId, callId: CallId, caller: Annotated[Caller, api_caller("remove_911", console=True)]
) -> RemovedEmergencyCall:
    """Remove a 911 call from the queue (it stays in the history)."""
    return await caller.write(
        service.remove_emergency_call,
        server_id=serverId,
        call_id=callId,
        now=caller.now(),
        actor=caller.actor,
    )


@router.post(
    SERVER + "/custom-dispatch-calls",
    response_model=CustomDispatchCall,
    summary="Create Custom Dispatch Call",
)
async def create_custom_dispatch_call(
    serverId: ServerId,
    call: NewCustomDispatchCall,
    caller: Annotated[Caller, api_caller("create_custom_dispatch")],
) -> CustomDispatchCall:
    """Create a dispatch call from a template, its values keyed by field uid."""
    return await caller.write(
        service.open_custom_dispatch_call, server_id=serverId, call=call, now=caller.now(), actor=caller.actor
    )


@router.get(
    "/v2/emergency/dispatch-templates", response_model=DispatchTemplates, summary="Get Dispatch Templates"
)
async def get_dispatch_templates(
    caller: Annotated[Caller, api_caller("dispatch_templates")],
) -> DispatchTemplates:
    """Every dispatch template of the community (a bare array)."""
    return await caller.read(service.list_templates)


@router.get(
    "/v2/emergency/dispatch-templates/{templateId}",
    response_model=DispatchTemplate,
    summary="Get Dispatch Template",
)
async def get_dispatch_template(
    templateId: TemplateId, caller: Annotated[Caller, api_caller("dispatch_templates")]
) -> DispatchTemplate:
    """One dispatch template of the community."""
    return await caller.read(service.get_template, template_id=templateId)


@router.get(
    "/v2/emergency/accounts/{accountUuid}/current-call",
    response_model=CurrentCall,
    summary="Get Current Call",
)
async def get_current_call(
    accountUuid: AccountUuid, caller: Annotated[Caller, api_caller("current_call")]
) -> CurrentCall:
    """The account's selected unit and the open call it is on (nulls when none)."""
    return await caller.read(service.current_call, account_uuid=accountUuid)


# Declared before "/dispatch-calls/{callId}" so "attachments" and "close" are not taken for call ids.
@router.delete(SERVER + "/dispatch-calls/attachments", response_model=AffectedUnits, summary="Detach Units")
async def detach_units(
    serverId: ServerId, targets: Targets, caller: Annotated[Caller, api_caller("detach_units")]
) -> AffectedUnits:
    """Take the named units off the open calls they are on."""
    idents = await caller.write(
        service.detach_from_calls, server_id=serverId, targets=targets, now=caller.now(), actor=caller.actor
    )
    return AffectedUnits(identIds=idents)


@router.post(SERVER + "/dispatch-calls/close", response_model=ClosedCalls, summary="Close Dispatch Calls")
async def close_dispatch_calls(
    serverId: ServerId, body: CloseCalls, caller: Annotated[Caller, api_caller("close_calls", console=True)]
) -> ClosedCalls:
    """Close calls; all or none (409 if one is already closed)."""
    return await caller.write(
        service.close_calls, server_id=serverId, call_ids=body.callIds, now=caller.now(), actor=caller.actor
    )


@router.patch(
    SERVER + "/dispatch-calls/{callId}", response_model=DispatchCall, summary="Update Dispatch Call"
)
async def update_dispatch_call(
    serverId: ServerId,
    callId: CallId,
    changes: DispatchCallChanges,
    caller: Annotated[Caller, api_caller("update_dispatch", console=True)],
) -> DispatchCall:
    """Change any subset of a call's fields; a sent metaData replaces the whole object.

    ``primary`` and ``trackPrimary`` change the primary as Update Call Primary does.
    """
    return await caller.write(
        service.update_dispatch_call,
        server_id=serverId,
        call_id=callId,
        changes=changes.changes(),
        primary=changes.primary,
        track_primary=changes.trackPrimary,
        now=caller.now(),
        actor=caller.actor,
    )


@router.post(
    SERVER + "/dispatch-calls/{callId}/attachments", response_model=UnitsAttached, summary="Attach Units"
)
async def attach_units(
    serverId: ServerId,
    callId: CallId,
    targets: Targets,
    caller: Annotated[Caller, api_caller("attach_units", console=True)],
) -> UnitsAttached:
    """Attach units by community user ids, account uuids or identIds; each leaves any other open call."""
    return await caller.write(
        service.attach_to_call,
        server_id=serverId,
        call_id=callId,
        targets=targets,
        now=caller.now(),
        actor=caller.actor,
    )


@router.post(SERVER + "/dispatch-calls/{callId}/notes", response_model=NoteAdded, summary="Add Call Note")
async def add_dispatch_note(
    serverId: ServerId,
    callId: CallId,
    note: NewCallNote,
    caller: Annotated[Caller, api_caller("add_note", console=True)],
) -> NoteAdded:
    """Add a note to a call; answers the call id and the note's text, as the docs page does."""
    added = await caller.write(
        service.add_note, server_id=serverId, call_id=callId, note=note, now=caller.now(), actor=caller.actor
    )
    return NoteAdded(callId=added.callId, note=added.note.content)


@router.patch(
    SERVER + "/dispatch-calls/{callId}/postal", response_model=PostalSet, summary="Update Call Postal"
)
async def set_dispatch_postal(
    serverId: ServerId, callId: CallId, body: SetPostal, caller: Annotated[Caller, api_caller("set_postal")]
) -> PostalSet:
    """Set a call's postal."""
    updated = await caller.write(
        service.update_dispatch_call,
        server_id=serverId,
        call_id=callId,
        changes={"postal": body.postal},
        now=caller.now(),
        actor=caller.actor,
    )
    return PostalSet(callId=updated.callId, postal=updated.postal)


@router.patch(
    SERVER + "/dispatch-calls/{callId}/primary", response_model=PrimarySet, summary="Update Call Primary"
)
async def set_dispatch_primary(
    serverId: ServerId,
    callId: CallId,
    body: SetPrimary,
    caller: Annotated[Caller, api_caller("set_primary", console=True)],
) -> PrimarySet:
    """Make an attached unit the primary (-1 clears it) and set whether the call tracks it."""
    updated = await caller.write(
        service.set_primary,
        server_id=serverId,
        call_id=callId,
        ident_id=body.identId,
        track_primary=body.trackPrimary,
        now=caller.now(),
        actor=caller.actor,
    )
    return PrimarySet(callId=updated.callId, identId=updated.primary, trackPrimary=updated.trackPrimary)


@router.get(
    SERVER + "/dispatch-calls/{callId}/history", response_model=CallHistory, summary="Dispatch Call History"
)
async def dispatch_call_history(
    serverId: ServerId,
    callId: CallId,
    caller: Annotated[Caller, api_caller("call_history")],
    limit: Annotated[
        int, Query(ge=1, le=MAX_HISTORY_PAGE, description="Most entries listed, oldest first.")
    ] = MAX_HISTORY_PAGE,
    offset: Annotated[int, Query(ge=0, le=MAX_ID, description="Entries skipped.")] = 0,
) -> CallHistory:
    """A page of the changes to the call with their time and author (``entryCount`` counts them all), and
    each unit's attach/en route/on scene/clear."""
    return await caller.read(
        service.dispatch_call_history, server_id=serverId, call_id=callId, limit=limit, offset=offset
    )
