"""HTTP door of units, identifiers and community links."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from opendispatch.api.auth import Caller, api_caller
from opendispatch.api.params import AccountUuid, IdentId, ServerId
from opendispatch.api.problems import PROBLEM_RESPONSES
from opendispatch.api.routing import Operation
from opendispatch.schemas import MAX_ID
from opendispatch.units import duty, service
from opendispatch.units.schemas import (
    MAX_UNITS_PAGE,
    AccountUnits,
    ActiveUnits,
    GroupSet,
    Identifier,
    IdentifierChanges,
    IdentifierDeleted,
    IdentifierList,
    IdentifierSelected,
    Kicked,
    KickedBatch,
    KickOrders,
    Link,
    LinkCheck,
    LinkSet,
    NewIdentifier,
    SelectIdentifier,
    Targets,
    UnitLocations,
    UnitPanicChange,
    UnitPanicChanged,
    UnitStatusChange,
    UnitStatusChanged,
    UnitsUpdated,
    active_unit,
)

router = APIRouter(tags=["units"], responses=PROBLEM_RESPONSES, route_class=Operation)
SERVER = "/v2/emergency/servers/{serverId}"
ACCOUNT = "/v2/emergency/accounts/{accountUuid}"


@router.get(SERVER + "/units", response_model=ActiveUnits, summary="Get Active Units")
async def get_units(
    serverId: ServerId,
    caller: Annotated[Caller, api_caller("get_units")],
    includeOffline: Annotated[bool, Query(description="Also list OFFLINE (100) units.")] = False,
    onlyUnits: Annotated[bool, Query(description="Leave dispatchers out.")] = True,
    limit: Annotated[int, Query(ge=1, le=MAX_UNITS_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> ActiveUnits:
    """Units on the server, in identId order: a bare array."""
    listed = await caller.read(
        service.list_units,
        server_id=serverId,
        include_offline=includeOffline,
        only_units=onlyUnits,
        limit=limit,
        offset=offset,
    )
    return ActiveUnits([active_unit(unit) for unit in listed.units])


@router.get(
    SERVER + "/accounts/{accountUuid}/units", response_model=AccountUnits, summary="Get Account Units"
)
async def get_account_units(
    serverId: ServerId,
    accountUuid: AccountUuid,
    caller: Annotated[Caller, api_caller("account_units")],
    onlyOnline: Annotated[bool, Query(description="Only the unit the account has on duty here.")] = True,
    onlyUnits: Annotated[bool, Query(description="Leave dispatcher identifiers out.")] = True,
    limit: Annotated[int, Query(ge=1, le=MAX_UNITS_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> AccountUnits:
    """An account's units: its selected, not OFFLINE, identifier on the server, or all its identifiers."""
    listed = await caller.read(
        service.list_units,
        server_id=serverId,
        account_uuid=accountUuid,
        selected_only=onlyOnline,
        include_offline=not onlyOnline,
        only_units=onlyUnits,
        limit=limit,
        offset=offset,
    )
    return AccountUnits(Units=[active_unit(unit) for unit in listed.units])


@router.patch(SERVER + "/units/status", response_model=UnitStatusChanged, summary="Set Unit Status")
async def set_unit_status(
    serverId: ServerId,
    change: UnitStatusChange,
    caller: Annotated[Caller, api_caller("unit_status", console=True)],
) -> UnitStatusChanged:
    """Set the status of the units the targets name."""
    return await caller.write(
        service.set_unit_status, server_id=serverId, change=change, now=caller.now(), actor=caller.actor
    )


@router.patch(SERVER + "/units/panic", response_model=UnitPanicChanged, summary="Set Unit Panic")
async def set_unit_panic(
    serverId: ServerId, change: UnitPanicChange, caller: Annotated[Caller, api_caller("unit_panic")]
) -> UnitPanicChanged:
    """Raise or clear the panic flag of the units the targets name."""
    return await caller.write(service.set_unit_panic, server_id=serverId, change=change, now=caller.now())


# POST is the docs'; DELETE the older SDKs' (with the same JSON body): one operation, two methods, each
# with its own operation id so the OpenAPI document stays valid.
@router.post(SERVER + "/units/kick", response_model=Kicked | KickedBatch, summary="Kick Unit")
@router.delete(
    SERVER + "/units/kick",
    response_model=Kicked | KickedBatch,
    summary="Kick Unit (DELETE, as sonoran-py sends it)",
    operation_id="kick_unit_delete",
    name="kick_unit_delete",
)
async def kick_unit(
    serverId: ServerId, orders: KickOrders, caller: Annotated[Caller, api_caller("kick_unit")]
) -> Kicked | KickedBatch:
    """Put the named units OFFLINE and take them off their calls; one kick or an array of them."""
    return await caller.write(
        duty.kick_units, server_id=serverId, orders=orders, now=caller.now(), actor=caller.actor
    )


@router.put(
    SERVER + "/identifier-groups/{groupName}", response_model=GroupSet, summary="Set Identifier Group"
)
async def set_identifier_group(
    serverId: ServerId,
    groupName: Annotated[str, Path(max_length=64, description="Identifier group name.")],
    targets: Targets,
    caller: Annotated[Caller, api_caller("identifier_group")],
) -> GroupSet:
    """Put the units the targets name in the group."""
    return await caller.write(
        service.set_identifier_group, server_id=serverId, group=groupName, targets=targets, now=caller.now()
    )


@router.patch(SERVER + "/unit-locations", response_model=UnitsUpdated, summary="Update Unit Locations")
async def update_unit_locations(
    serverId: ServerId, updates: UnitLocations, caller: Annotated[Caller, api_caller("unit_locations")]
) -> UnitsUpdated:
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


@router.delete(
    ACCOUNT + "/identifiers/{identId}", response_model=IdentifierDeleted, summary="Delete Identifier"
)
async def delete_identifier(
    accountUuid: AccountUuid, identId: IdentId, caller: Annotated[Caller, api_caller("identifiers")]
) -> IdentifierDeleted:
    """Delete an identifier that never worked a call; answers the account's remaining identifiers."""
    return await caller.write(
        service.delete_identifier, account_uuid=accountUuid, ident_id=identId, now=caller.now()
    )


@router.put(
    ACCOUNT + "/selected-identifier", response_model=IdentifierSelected, summary="Set Selected Identifier"
)
async def select_identifier(
    accountUuid: AccountUuid, choice: SelectIdentifier, caller: Annotated[Caller, api_caller("identifiers")]
) -> IdentifierSelected:
    """Select an identifier on one server (``serverId``) or on every server."""
    return await caller.write(
        service.choose_identifier, account_uuid=accountUuid, choice=choice, now=caller.now()
    )


@router.post("/v2/general/links/set", response_model=Link, summary="Set Community Link", tags=["general"])
async def set_link(link: LinkSet, caller: Annotated[Caller, api_caller("links")]) -> Link:
    """Link an in-game community user id to an account, proven by the account's secret uuid."""
    return await caller.write(service.set_link, link=link, now=caller.now())


@router.post("/v2/general/links/check", response_model=Link, summary="Check Community Link", tags=["general"])
async def check_link(body: LinkCheck, caller: Annotated[Caller, api_caller("links")]) -> Link:
    """Whether a community user id is linked to an account."""
    return await caller.read(service.check_link, community_user_id=body.communityUserId)
