"""HTTP door of events: the live stream, and the servers' push settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent
from starlette.responses import Response

from opendispatch.communities.schemas import Principal
from opendispatch.events import service
from opendispatch.events.schemas import ServerChanges, ServerSettingsList
from opendispatch.events.service import StoredEvent
from opendispatch.events.tasks import StreamBroker, Subscription
from opendispatch.http import PROBLEM_RESPONSES, app_state, authenticated, json_response
from opendispatch.schemas import ServerIdPath

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


class _Stream:
    """A subscription opened before the response starts, so a bad server is still a 404."""

    def __init__(
        self, broker: StreamBroker, subscription: Subscription, backlog: list[StoredEvent], start: int
    ):
        self.broker = broker
        self.subscription = subscription
        self.backlog = backlog
        self.last_sent = start


async def open_stream(
    request: Request,
    serverId: Annotated[int, ServerIdPath],
    principal: Principal = Depends(authenticated),
    last_event_id: Annotated[int | None, Header(alias="Last-Event-ID", ge=0)] = None,
    lastEventId: Annotated[int | None, Query(ge=0, description="Resume after this event id.")] = None,
) -> _Stream:
    """Subscribe first, then read what was missed, so nothing falls between the two."""
    state = app_state(request)
    broker: StreamBroker = request.app.state.broker
    resume = last_event_id if last_event_id is not None else lastEventId
    start = broker.last_id if resume is None else resume
    subscription = broker.subscribe(principal.community_id, serverId)
    try:
        backlog = await state.db.read(
            service.server_events_after,
            community_id=principal.community_id,
            server_id=serverId,
            after_id=start,
        )
    except BaseException:
        broker.unsubscribe(subscription)
        raise
    return _Stream(broker, subscription, backlog, start)


def _message(event: StoredEvent) -> ServerSentEvent:
    return ServerSentEvent(raw_data=event.data, event=event.type, id=str(event.event_id))


@router.get(
    "/v2/emergency/servers/{serverId}/events",
    response_class=EventSourceResponse,
    summary="Live Events",
    tags=["events"],
)
async def stream_events(stream: _Stream = Depends(open_stream)) -> AsyncIterator[ServerSentEvent]:
    """Server-Sent Events: one message per event, ``id`` increasing; resume with ``Last-Event-ID``."""
    try:
        for event in stream.backlog:
            yield _message(event)
            stream.last_sent = event.event_id
        while True:
            event_or_end = await stream.subscription.queue.get()
            if event_or_end is None:
                return  # fell too far behind: the client reconnects with Last-Event-ID
            if event_or_end.event_id > stream.last_sent:
                yield _message(event_or_end)
                stream.last_sent = event_or_end.event_id
    finally:
        stream.broker.unsubscribe(stream.subscription)
