"""HTTP door of units, identifiers and community links."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from opendispatch.communities.schemas import Principal
from opendispatch.http import PROBLEM_RESPONSES, app_state, json_response, rate_limited
from opendispatch.schemas import MAX_ID, IdentIdPath, ServerIdPath
from opendispatch.units import service
from opendispatch.units.schemas import (
    AffectedUnits,
    Identifier,
    IdentifierChanges,
    IdentifierList,
    Link,
    LinkCheck,
    LinkSet,
    NewIdentifier,
    SelectIdentifier,
    UnitList,
    UnitLocations,
    UnitPanicChange,
    UnitPanicChanged,
    UnitStatusChange,
    UnitStatusChanged,
)

router = APIRouter(tags=["units"], responses=PROBLEM_RESPONSES)

ServerId = ServerIdPath
SERVER = "/v2/emergency/servers/{serverId}"
ACCOUNT = "/v2/emergency/accounts/{accountUuid}"


@router.get(SERVER + "/units", response_model=UnitList, summary="Get Units")
async def get_units(
    request: Request,
    serverId: int = ServerId,
    includeOffline: bool = Query(False, description="Also list UNAVAILABLE units."),
    limit: int = Query(100, ge=1, le=500),
    offset: int = Query(0, ge=0, le=MAX_ID),
    principal: Principal = rate_limited("get_units"),
) -> Response:
    """Units selected on the server, in identId order."""
    units = await app_state(request).db.read(
        service.list_units,
        community_id=principal.community_id,
        server_id=serverId,
        include_offline=includeOffline,
        limit=limit,
        offset=offset,
    )
    return json_response(units)


@router.patch(SERVER + "/units/status", response_model=UnitStatusChanged, summary="Set Unit Status")
async def set_unit_status(
    request: Request,
    change: UnitStatusChange,
    serverId: int = ServerId,
    principal: Principal = rate_limited("unit_status"),
) -> Response:
    """Set the status of units named by community user ids, accounts or identIds."""
    state = app_state(request)
    changed = await state.db.write(
        service.set_unit_status,
        community_id=principal.community_id,
        server_id=serverId,
        change=change,
        now=state.clock.now_ms(),
        actor=principal.actor,
    )
    return json_response(changed)


@router.patch(SERVER + "/units/panic", response_model=UnitPanicChanged, summary="Set Unit Panic")
async def set_unit_panic(
    request: Request,
    change: UnitPanicChange,
    serverId: int = ServerId,
    principal: Principal = rate_limited("unit_panic"),
) -> Response:
    """Raise or clear the panic flag of units."""
    state = app_state(request)
    changed = await state.db.write(
        service.set_unit_panic,
        community_id=principal.community_id,
        server_id=serverId,
        change=change,
        now=state.clock.now_ms(),
    )
    return json_response(changed)


@router.patch(SERVER + "/unit-locations", response_model=AffectedUnits, summary="Update Unit Locations")
async def update_unit_locations(
    request: Request,
    updates: UnitLocations,
    serverId: int = ServerId,
    principal: Principal = rate_limited("unit_locations"),
) -> Response:
    """Store reported locations and coordinates; reports for players with no unit are skipped."""
    state = app_state(request)
    moved = await state.db.write(
        service.update_unit_locations,
        community_id=principal.community_id,
        server_id=serverId,
        updates=updates,
        now=state.clock.now_ms(),
    )
    return json_response(moved)


@router.get(ACCOUNT + "/identifiers", response_model=IdentifierList, summary="Get Identifiers")
async def get_identifiers(
    request: Request, accountUuid: str, principal: Principal = rate_limited("identifiers")
) -> Response:
    """An account's identifiers and which is selected on each server."""
    found = await app_state(request).db.read(
        service.list_identifiers, community_id=principal.community_id, account_uuid=accountUuid
    )
    return json_response(found)


@router.post(ACCOUNT + "/identifiers", response_model=Identifier, summary="Create Identifier")
async def create_identifier(
    request: Request,
    accountUuid: str,
    fields: NewIdentifier,
    principal: Principal = rate_limited("identifiers"),
) -> Response:
    """Add an identifier to an account."""
    state = app_state(request)
    created = await state.db.write(
        service.create_identifier,
        community_id=principal.community_id,
        account_uuid=accountUuid,
        fields=fields,
        now=state.clock.now_ms(),
    )
    return json_response(created)


@router.patch(ACCOUNT + "/identifiers/{identId}", response_model=Identifier, summary="Update Identifier")
async def update_identifier(
    request: Request,
    accountUuid: str,
    identId: Annotated[int, IdentIdPath],
    fields: IdentifierChanges,
    principal: Principal = rate_limited("identifiers"),
) -> Response:
    """Change an identifier's unit number, name or department."""
    state = app_state(request)
    updated = await state.db.write(
        service.update_identifier,
        community_id=principal.community_id,
        account_uuid=accountUuid,
        ident_id=identId,
        fields=fields,
        now=state.clock.now_ms(),
    )
    return json_response(updated)


@router.delete(ACCOUNT + "/identifiers/{identId}", response_model=IdentifierList, summary="Delete Identifier")
async def delete_identifier(
    request: Request,
    accountUuid: str,
    identId: Annotated[int, IdentIdPath],
    principal: Principal = rate_limited("identifiers"),
) -> Response:
    """Delete an identifier that never worked a call; answers the account's remaining identifiers."""
    remaining = await app_state(request).db.write(
        service.delete_identifier,
        community_id=principal.community_id,
        account_uuid=accountUuid,
        ident_id=identId,
    )
    return json_response(remaining)


@router.put(ACCOUNT + "/selected-identifier", response_model=IdentifierList, summary="Select Identifier")
async def select_identifier(
    request: Request,
    accountUuid: str,
    choice: SelectIdentifier,
    principal: Principal = rate_limited("identifiers"),
) -> Response:
    """Select an identifier on one server (``serverId``) or on every server."""
    chosen = await app_state(request).db.write(
        service.choose_identifier,
        community_id=principal.community_id,
        account_uuid=accountUuid,
        choice=choice,
    )
    return json_response(chosen)


@router.post("/v2/general/links/set", response_model=Link, summary="Set Community Link", tags=["general"])
async def set_link(request: Request, link: LinkSet, principal: Principal = rate_limited("links")) -> Response:
    """Link an in-game community user id to an account, proven by the account's secret uuid."""
    linked = await app_state(request).db.write(
        service.set_link, community_id=principal.community_id, link=link
    )
    return json_response(linked)


@router.post("/v2/general/links/check", response_model=Link, summary="Check Community Link", tags=["general"])
async def check_link(
    request: Request, body: LinkCheck, principal: Principal = rate_limited("links")
) -> Response:
    """Whether a community user id is linked to an account."""
    found = await app_state(request).db.read(
        service.check_link, community_id=principal.community_id, community_user_id=body.communityUserId
    )
    return json_response(found)
