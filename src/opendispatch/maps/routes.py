"""HTTP door of the map: the community's postal list and each server's blips."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from opendispatch.api.auth import Caller, api_caller
from opendispatch.api.params import ServerId
from opendispatch.api.problems import PROBLEM_RESPONSES
from opendispatch.api.routing import Operation
from opendispatch.maps import service
from opendispatch.maps.schemas import (
    Blip,
    BlipChanges,
    BlipIds,
    BlipList,
    BlipsDeleted,
    BlipUpdated,
    NewBlip,
    PostalList,
    PostalsSet,
)
from opendispatch.schemas import MAX_ID

router = APIRouter(responses=PROBLEM_RESPONSES, route_class=Operation)
BLIPS = "/v2/emergency/servers/{serverId}/blips"
BlipId = Annotated[int, Path(ge=-MAX_ID, le=MAX_ID, description="Blip ID.")]


@router.put("/v2/general/postals", response_model=PostalsSet, summary="Set Postal Config", tags=["general"])
async def set_postals(body: PostalList, caller: Annotated[Caller, api_caller("set_postals")]) -> PostalsSet:
    """Replace the community's postal list (``[{code, x, y}]``, at most 20,000); 911 and dispatch calls
    with coordinates and no postal then get the nearest one, and a postal places a call without them."""
    return await caller.write(service.set_postals, postal_list=body.postals)


@router.get(BLIPS, response_model=BlipList, summary="Get Blips", tags=["map"])
async def get_blips(serverId: ServerId, caller: Annotated[Caller, api_caller("get_blips")]) -> BlipList:
    """The server's custom map blips."""
    return BlipList(await caller.read(service.list_blips, server_id=serverId))


@router.post(BLIPS, response_model=Blip, summary="Create Blip", tags=["map"])
async def create_blip(
    serverId: ServerId, body: NewBlip, caller: Annotated[Caller, api_caller("create_blip")]
) -> Blip:
    """Put a custom blip on the server's map (at most 500 per server)."""
    return await caller.write(service.create_blip, server_id=serverId, blip=body, now=caller.now())


@router.patch(BLIPS + "/{blipId}", response_model=BlipUpdated, summary="Update Blip", tags=["map"])
async def update_blip(
    serverId: ServerId,
    blipId: BlipId,
    body: BlipChanges,
    caller: Annotated[Caller, api_caller("update_blip")],
) -> BlipUpdated:
    """Change the fields sent of a blip (a sent ``coordinates`` changes the axes it names)."""
    return await caller.write(
        service.update_blip, server_id=serverId, blip_id=blipId, changes=body, now=caller.now()
    )


@router.post(BLIPS + "/delete", response_model=BlipsDeleted, summary="Delete Blips", tags=["map"])
async def delete_blips(
    serverId: ServerId, body: BlipIds, caller: Annotated[Caller, api_caller("delete_blips")]
) -> BlipsDeleted:
    """Delete blips by id; when one is not on this server none is deleted (404)."""
    return await caller.write(service.delete_blips, server_id=serverId, blip_ids=body.ids, now=caller.now())
