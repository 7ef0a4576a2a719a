"""HTTP door of units, identifiers and community links."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from opendispatch.api.auth import Caller, api_caller
from opendispatch.api.params import AccountUuid, IdentId, ServerId
from opendispatch.api.problems import PROBLEM_RESPONSES
from opendispatch.api.routing import Operation
from opendispatch.schemas import MAX_ID
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

router = APIRouter(tags=["units"], responses=PROBLEM_RESPONSES, route_class=Operation)
SERVER = "/v2/emergency/servers/{serverId}"
ACCOUNT = "/v2/emergency/accounts/{accountUuid}"


@router.get(SERVER + "/units", response_model=UnitList, summary="Get Units")
async def get_units(
    serverId: ServerId,
    caller: Annotated[Caller, api_caller("get_units")],
    includeOffline: Annotated[bool, Query(description="Also list UNAVAILABLE units.")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> UnitList:
    """Units selected on the server, in identId order."""
    return await caller.read(
        service.list_units, server_id=serverId, include_offline=includeOffline, limit=limit, offset=offset
    )


@router.patch(SERVER + "/units/status", response_model=UnitStatusChanged, summary="Set Unit Status")
async def set_unit_status(
    serverId: ServerId,
    change: UnitStatusChange,
    caller: Annotated[Caller, api_caller("unit_status", console=True)],
) -> UnitStatusChanged:
    """Set the status of units named by community user ids, accounts or identIds."""
    return await caller.write(
        service.set_unit_status, server_id=serverId, change=change, now=caller.now(), actor=caller.actor
    )


@router.patch(SERVER + "/units/panic", response_model=UnitPanicChanged, summary="Set Unit Panic")
async def set_unit_panic(
    serverId: ServerId, change: UnitPanicChange, caller: Annotated[Caller, api_caller("unit_panic")]
) -> UnitPanicChanged:
    """Raise or clear the panic flag of units."""
    return await caller.write(service.set_unit_panic, server_id=serverId, change=change, now=caller.now())


@router.patch(SERVER + "/unit-locations", response_model=AffectedUnits, summary="Update Unit Locations")
async def update_unit_locations(
    serverId: ServerId, updates: UnitLocations, caller: Annotated[Caller, api_caller("unit_locations")]
) -> AffectedUnits:
    """Store reported locations and coordinates; reports for players with no unit are skipped."""
    return await caller.write(
        service.update_unit_locations, server_id=serverId, updates=updates, now=caller.now()
    )


@router.get(ACCOUNT + "/identifiers", response_model=IdentifierList, summary="Get Identifiers")
async def get_identifiers(
    accountUuid: AccountUuid, caller: Annotated[Caller, api_caller("identifiers")]
) -> IdentifierList:
    """An account's identifiers and which is selected on each server."""
    return await caller.read(service.list_identifiers, account_uuid=accountUuid)


@router.post(ACCOUNT + "/identifiers", response_model=Identifier, summary="Create Identifier")
async def create_identifier(
    accountUuid: AccountUuid, fields: NewIdentifier, caller: Annotated[Caller, api_caller("identifiers")]
) -> Identifier:
    """Add an identifier to an account."""
    return await caller.write(
        service.create_identifier, account_uuid=accountUuid, fields=fields, now=caller.now()
    )


@router.patch(ACCOUNT + "/identifiers/{identId}", response_model=Identifier, summary="Update Identifier")
async def update_identifier(
    accountUuid: AccountUuid,
    identId: IdentId,
    fields: IdentifierChanges,
    caller: Annotated[Caller, api_caller("identifiers")],
) -> Identifier:
    """Change an identifier's unit number, name or department."""
    return await caller.write(
        service.update_identifier, account_uuid=accountUuid, ident_id=identId, fields=fields, now=caller.now()
    )


@router.delete(ACCOUNT + "/identifiers/{identId}", response_model=IdentifierList, summary="Delete Identifier")
async def delete_identifier(
    accountUuid: AccountUuid, identId: IdentId, caller: Annotated[Caller, api_caller("identifiers")]
) -> IdentifierList:
    """Delete an identifier that never worked a call; answers the account's remaining identifiers."""
    return await caller.write(service.delete_identifier, account_uuid=accountUuid, ident_id=identId)


@router.put(ACCOUNT + "/selected-identifier", response_model=IdentifierList, summary="Select Identifier")
async def select_identifier(
    accountUuid: AccountUuid, choice: SelectIdentifier, caller: Annotated[Caller, api_caller("identifiers")]
) -> IdentifierList:
    """Select an identifier on one server (``serverId``) or on every server."""
    return await caller.write(service.choose_identifier, account_uuid=accountUuid, choice=choice)


@router.post("/v2/general/links/set", response_model=Link, summary="Set Community Link", tags=["general"])
async def set_link(link: LinkSet, caller: Annotated[Caller, api_caller("links")]) -> Link:
    """Link an in-game community user id to an account, proven by the account's secret uuid."""
    return await caller.write(service.set_link, link=link, now=caller.now())


@router.post("/v2/general/links/check", response_model=Link, summary="Check Community Link", tags=["general"])
async def check_link(body: LinkCheck, caller: Annotated[Caller, api_caller("links")]) -> Link:
    """Whether a community user id is linked to an account."""
    return await caller.read(service.check_link, community_user_id=body.communityUserId)
