"""HTTP door of events: the live stream, and the servers' push settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from starlette.responses import StreamingResponse

from opendispatch.api.auth import Caller, api_caller
from opendispatch.api.params import ServerId
from opendispatch.api.problems import PROBLEM_RESPONSES
from opendispatch.api.routing import Operation
from opendispatch.events import service
from opendispatch.events.schemas import ServerChanges, ServerSettingsList
from opendispatch.events.tasks import LiveStream
from opendispatch.schemas import MAX_ID

router = APIRouter(responses=PROBLEM_RESPONSES, route_class=Operation)

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
LastEventId = Annotated[int | None, Header(alias="Last-Event-ID", ge=0, le=MAX_ID)]
ResumeAfter = Annotated[int | None, Query(ge=0, le=MAX_ID, description="Resume after this event id.")]


@router.get("/v2/general/servers", response_model=ServerSettingsList, summary="Get Servers", tags=["general"])
async def get_servers(caller: Annotated[Caller, api_caller("get_servers")]) -> ServerSettingsList:
    """The community's servers: the docs' fields, then their push settings."""
    return await caller.read(service.server_settings)


@router.put("/v2/general/servers", response_model=ServerSettingsList, summary="Set Servers", tags=["general"])
async def set_servers(
    changes: ServerChanges, caller: Annotated[Caller, api_caller("set_servers")]
) -> ServerSettingsList:
    """Change the servers named (the docs' fields, push target), adding any missing; others stay."""
    return await caller.write(service.change_server_settings, changes=changes, now=caller.now())


async def open_stream(
    request: Request, caller: Caller, server_id: int, last_event_id: int | None, resume: int | None
) -> LiveStream:
    """Open the caller's subscription before the response starts, so a bad server is still a 404."""
    return await LiveStream.open(
        caller.db,
        request.app.state.broker,
        community_id=caller.community_id,
        server_id=server_id,
        resume=last_event_id if last_event_id is not None else resume,
    )


@router.get(
    "/v2/emergency/servers/{serverId}/events",
    response_class=StreamingResponse,
    responses={200: {"description": "An endless text/event-stream.", "content": {"text/event-stream": {}}}},
    summary="Live Events",
    tags=["events"],
)
async def stream_events(
    request: Request,
    serverId: ServerId,
    caller: Annotated[Caller, api_caller()],
    last_event_id: LastEventId = None,
    lastEventId: ResumeAfter = None,
) -> StreamingResponse:
    """Server-Sent Events: one message per event, ``id`` increasing; resume with ``Last-Event-ID``."""
    stream = await open_stream(request, caller, serverId, last_event_id, lastEventId)
    return StreamingResponse(stream.frames(), media_type="text/event-stream", headers=SSE_HEADERS)
