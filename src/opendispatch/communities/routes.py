"""HTTP door of the community endpoints: version, info, heartbeat and the configuration the in-game
resource writes per server (servers themselves live with their push settings, in ``events``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from opendispatch.api.auth import Caller, api_caller
from opendispatch.api.params import ServerId
from opendispatch.api.problems import PROBLEM_RESPONSES
from opendispatch.api.routing import Operation
from opendispatch.communities import service
from opendispatch.communities.schemas import (
    Callouts,
    CalloutsSet,
    Heartbeat,
    HeartbeatReceived,
    Info,
    PagerConfig,
    PagerConfigChange,
    Plan,
    ServerAck,
    Stations,
    StreetSignConfig,
    StreetSignConfigSet,
    StreetSignsUpdated,
    StreetSignUpdate,
    Version,
)

router = APIRouter(tags=["general"], responses=PROBLEM_RESPONSES, route_class=Operation)
SERVER = "/v2/emergency/servers/{serverId}"


@router.get("/v2/general/version", response_model=Version, summary="Get Version")
async def get_version(caller: Annotated[Caller, api_caller("version")]) -> Version:
    """The community's plan as a number and a name (4, PRO on a self-hosted default)."""
    assert caller.key is not None  # an API key's route
    return Version(version=caller.key.plan, name=Plan(caller.key.plan).name)


@router.get("/v2/general/info", response_model=Info, summary="Get Info")
async def get_info(caller: Annotated[Caller, api_caller("info")]) -> Info:
    """The community's id and name, its time zone and shared codes."""
    return await caller.read(service.community_info)


@router.post(
    "/v2/general/servers/{serverId}/heartbeat", response_model=HeartbeatReceived, summary="Heartbeat"
)
async def heartbeat(
    serverId: ServerId, body: Heartbeat, caller: Annotated[Caller, api_caller("heartbeat")]
) -> HeartbeatReceived:
    """Store the game server's player count and the time it reported it."""
    return await caller.write(
        service.record_heartbeat, server_id=serverId, player_count=body.playerCount, now=caller.now()
    )


@router.put(SERVER + "/stations", response_model=ServerAck, summary="Set Stations", tags=["configuration"])
async def set_stations(
    serverId: ServerId, stations: Stations, caller: Annotated[Caller, api_caller("stations")]
) -> ServerAck:
    """Replace the server's station alert locations, tones and unit colours."""
    return await caller.write(service.set_stations, server_id=serverId, stations=stations, now=caller.now())


@router.put(SERVER + "/callouts", response_model=CalloutsSet, summary="Set Callouts", tags=["configuration"])
async def set_callouts(
    serverId: ServerId, callouts: Callouts, caller: Annotated[Caller, api_caller("callouts")]
) -> CalloutsSet:
    """Replace the server's ERS callouts."""
    return await caller.write(service.set_callouts, server_id=serverId, callouts=callouts, now=caller.now())


@router.put(
    SERVER + "/street-sign-config",
    response_model=StreetSignConfigSet,
    summary="Set Street Sign Config",
    tags=["configuration"],
)
async def set_street_sign_config(
    serverId: ServerId, config: StreetSignConfig, caller: Annotated[Caller, api_caller("street_sign_config")]
) -> StreetSignConfigSet:
    """Replace every street sign of the server."""
    return await caller.write(
        service.set_street_sign_config, server_id=serverId, config=config, now=caller.now()
    )


@router.patch(
    SERVER + "/street-signs",
    response_model=StreetSignsUpdated,
    summary="Update Street Signs",
    tags=["configuration"],
)
async def update_street_signs(
    serverId: ServerId, change: StreetSignUpdate, caller: Annotated[Caller, api_caller("street_signs")]
) -> StreetSignsUpdated:
    """Set the text of configured street signs."""
    return await caller.write(
        service.update_street_signs, server_id=serverId, change=change, now=caller.now()
    )


@router.get(
    SERVER + "/pager-config", response_model=PagerConfig, summary="Get Pager Config", tags=["configuration"]
)
async def get_pager_config(
    serverId: ServerId, caller: Annotated[Caller, api_caller("get_pager_config")]
) -> PagerConfig:
    """The server's Inferno pager configuration."""
    return await caller.read(service.get_pager_config, server_id=serverId)


@router.put(
    SERVER + "/pager-config", response_model=ServerAck, summary="Set Pager Config", tags=["configuration"]
)
async def set_pager_config(
    serverId: ServerId, change: PagerConfigChange, caller: Annotated[Caller, api_caller("set_pager_config")]
) -> ServerAck:
    """Replace the server's pager configuration; without ``nodes`` the node tree stays."""
    return await caller.write(service.set_pager_config, server_id=serverId, change=change, now=caller.now())
