"""HTTP door of events: the live stream, and the servers' push settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from starlette.responses import Response, StreamingResponse

from opendispatch.communities.schemas import Principal
from opendispatch.events import service
from opendispatch.events.schemas import ServerChanges, ServerSettingsList
from opendispatch.events.tasks import LiveStream
from opendispatch.http import PROBLEM_RESPONSES, app_state, authenticated, json_response
from opendispatch.schemas import MAX_ID, ServerIdPath

router = APIRouter(responses=PROBLEM_RESPONSES)


@router.get("/v2/general/servers", response_model=ServerSettingsList, summary="Get Servers", tags=["general"])
async def get_servers(request: Request, principal: Principal = Depends(authenticated)) -> Response:
    """The community's servers with their push settings."""
    found = await app_state(request).db.read(service.server_settings, principal.community_id)
    return json_response(found)


@router.put("/v2/general/servers", response_model=ServerSettingsList, summary="Set Servers", tags=["general"])
async def set_servers(
    request: Request, changes: ServerChanges, principal: Principal = Depends(authenticated)
) -> Response:
    """Rename servers and set their push target (URL, body shape, on/off); all or nothing."""
    state = app_state(request)
    changed = await state.db.write(
        service.change_server_settings,
        community_id=principal.community_id,
        changes=changes,
        now=state.clock.now_ms(),
    )
    return json_response(changed)


async def open_stream(
    request: Request,
    serverId: Annotated[int, ServerIdPath],
    principal: Principal = Depends(authenticated),
    last_event_id: Annotated[int | None, Header(alias="Last-Event-ID", ge=0, le=MAX_ID)] = None,
    lastEventId: Annotated[
        int | None, Query(ge=0, le=MAX_ID, description="Resume after this event id.")
    ] = None,
) -> LiveStream:
    """Open the subscription before the response starts, so a bad server is still a 404."""
    return await LiveStream.open(
        app_state(request).db,
        request.app.state.broker,
        community_id=principal.community_id,
        server_id=serverId,
        resume=last_event_id if last_event_id is not None else lastEventId,
    )


SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@router.get(
    "/v2/emergency/servers/{serverId}/events",
    response_class=StreamingResponse,
    responses={200: {"description": "An endless text/event-stream.", "content": {"text/event-stream": {}}}},
    summary="Live Events",
    tags=["events"],
)
async def stream_events(stream: LiveStream = Depends(open_stream)) -> StreamingResponse:
    """Server-Sent Events: one message per event, ``id`` increasing; resume with ``Last-Event-ID``."""
    return StreamingResponse(stream.frames(), media_type="text/event-stream", headers=SSE_HEADERS)
