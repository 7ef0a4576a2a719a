"""HTTP door of the console: the page and its assets, login and logout, the console's JSON API, its live
stream, and two v2 endpoints that take an API key or a console session (snapshot.png, nearest-units).

The console API is the v2 API's twin for a logged-in dispatcher: the same services, scoped to the
session's community, with the dispatcher as the author of every change. Every change needs the
session's CSRF token in ``X-CSRF-Token``.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections import OrderedDict
from collections.abc import Hashable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from opendispatch import __version__
from opendispatch.calls import service as calls
from opendispatch.calls.schemas import (
    CallNoteAdded,
    CloseCalls,
    ClosedCalls,
    DispatchCall,
    DispatchCallChanges,
    EmergencyCall,
    NewCallNote,
    NewEmergencyCall,
    RemovedEmergencyCall,
    SetPrimary,
    UnitsAttached,
)
from opendispatch.errors import NotAuthenticated
from opendispatch.events.routes import SSE_HEADERS
from opendispatch.events.tasks import LiveStream
from opendispatch.http import (
    PROBLEM_RESPONSES,
    ApiKey,
    RateLimited,
    app_state,
    json_response,
)
from opendispatch.ratelimit import RateLimiter
from opendispatch.schemas import MAX_ID, CallIdPath, ServerIdPath
from opendispatch.units import service as units
from opendispatch.units.schemas import AffectedUnits, Targets, UnitStatusChange, UnitStatusChanged
from opendispatch.web import service
from opendispatch.web.schemas import (
    Board,
    CallDetail,
    ConsoleNewDispatchCall,
    ConsoleUser,
    DispatchDraft,
    Login,
    NearestUnits,
    SessionInfo,
)
from opendispatch.web.service import Forbidden, SnapshotBase

STATIC = Path(__file__).parent / "static"
COOKIE = "od_console"
CSRF_HEADER = "X-CSRF-Token"
# The page loads nothing from elsewhere and runs no inline script: a bug that lets text into the DOM
# still cannot run code or send data out.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "connect-src 'self'; media-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
}
LOGIN_PER_MINUTE_PER_USER = 10
LOGIN_PER_MINUTE_PER_ADDRESS = 60

router = APIRouter()
# The console's own endpoints stay out of the API documentation: only its pages call them.
console = APIRouter(include_in_schema=False)
CONSOLE = "/console/api/servers/{serverId}"
V2 = "/v2/emergency/servers/{serverId}"
ServerId = ServerIdPath
CallId = Annotated[int, CallIdPath]


class _Static(StaticFiles):
    """The console's assets; browsers revalidate them (a cheap 304) so an upgrade shows at once."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


router.mount("/console/static", _Static(directory=STATIC), name="console-static")


class _Lru:
    """A small least-recently-used cache."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable) -> Any:
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
        return found

    def put(self, key: Hashable, value: Any) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)


class ConsoleState:
    """The console's in-process state: login throttling and the snapshot caches."""

    def __init__(self) -> None:
        self.logins = RateLimiter(enabled=True)  # never off: it guards passwords, not throughput
        self.map_bases = _Lru(2)  # decoded map images are large
        self.snapshots = _Lru(256)


def console_state(request: Request) -> ConsoleState:
    """The console state of this application, made on first use."""
    found: ConsoleState | None = getattr(request.app.state, "console", None)
    if found is None:
        found = request.app.state.console = ConsoleState()
    return found


# -- who is asking -----------------------------------------------------------------------------------------


async def console_user(request: Request) -> ConsoleUser:
    """The dispatcher behind the session cookie, or a 401."""
    token = request.cookies.get(COOKIE)
    if not token:
        raise NotAuthenticated("Log in to the console first.")
    state = app_state(request)
    user = await state.db.read(service.session_user, token=token, now=state.clock.now_ms())
    if user is None:
        raise NotAuthenticated("The console session has ended; log in again.")
    return user


def _same_origin(request: Request) -> None:
    # Browsers send Origin with every state-changing request; a page on another site is refused even
    # before the CSRF token is looked at.
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        raise Forbidden("The console accepts changes only from its own pages.")
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise Forbidden("The console accepts changes only from its own pages.")


async def console_change(request: Request, user: ConsoleUser = Depends(console_user)) -> ConsoleUser:
    """A dispatcher making a change: same origin, and the session's CSRF token in X-CSRF-Token."""
    _same_origin(request)
    sent = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(sent.encode(), user.csrf_token.encode()):
        raise Forbidden(f"A console change needs the session's {CSRF_HEADER} header.")
    return user


class KeyOrConsole(ApiKey):
    """The community of an API key (checked and rate limited as on every v2 route) or of a console session."""

    async def __call__(self, request: Request) -> str:  # type: ignore[override]
        if "authorization" not in request.headers and COOKIE in request.cookies:
            user: ConsoleUser = await console_user(request)
            return user.community_id
        principal = await super().__call__(request)
        return principal.community_id


def key_or_console(endpoint: str) -> Any:
    """A dependency: the community of an API key or of a console session."""
    return Depends(KeyOrConsole(endpoint))


def _set_cookie(request: Request, response: Response, token: str, max_age: int) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


# -- the page, login and logout ----------------------------------------------------------------------------


@console.get("/console")
async def console_page() -> Response:
    """The console: one page, its script and styles from /console/static."""
    page = (STATIC / "console.html").read_text().replace("{{version}}", __version__)
    return Response(page, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


def _throttle_login(request: Request, body: Login) -> None:
    limiter = console_state(request).logins
    now = time.monotonic()
    address = request.client.host if request.client else "unknown"
    for slot, per_minute in (
        (f"user:{body.communityId}:{body.username.strip().lower()}", LOGIN_PER_MINUTE_PER_USER),
        (f"address:{address}", LOGIN_PER_MINUTE_PER_ADDRESS),
    ):
        decision = limiter.hit(0, slot, per_minute, now)
        if not decision.allowed:
            raise RateLimited(decision.retry_after)


@console.post("/console/api/login", response_model=SessionInfo)
async def login(request: Request, body: Login) -> Response:
    """Check a dispatcher's password and start a session (an HttpOnly, SameSite=Strict cookie)."""
    _same_origin(request)
    _throttle_login(request, body)
    state = app_state(request)
    dispatcher = await state.db.read(
        service.find_dispatcher, community_id=body.communityId, username=body.username
    )
    loop = asyncio.get_running_loop()
    matches, rehash = await loop.run_in_executor(
        service.PASSWORD_THREAD,
        service.verify_password,
        dispatcher.password_hash if dispatcher else None,
        body.password,
    )
    if dispatcher is None or not matches:
        raise NotAuthenticated("Wrong community id, username or password.")
    new_hash = None
    if rehash:
        new_hash = await loop.run_in_executor(service.PASSWORD_THREAD, service.hash_password, body.password)
    now = state.clock.now_ms()
    token, expires_at = await state.db.write(
        service.open_session, dispatcher=dispatcher, now=now, new_hash=new_hash
    )
    user = await state.db.read(service.session_user, token=token, now=now)
    assert user is not None
    info = await state.db.read(service.session_info, user=user)
    response = json_response(info)
    _set_cookie(request, response, token, max_age=(expires_at - now) // 1000)
    return response


@console.post("/console/api/logout", status_code=204)
async def logout(request: Request, user: ConsoleUser = Depends(console_change)) -> Response:
    """End the session; the cookie is cleared."""
    await app_state(request).db.write(service.close_session, token_hash=user.token_hash)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


@console.get("/console/api/session", response_model=SessionInfo)
async def session(request: Request, user: ConsoleUser = Depends(console_user)) -> Response:
    """Who is logged in, their community's servers, and the CSRF token for changes."""
    return json_response(await app_state(request).db.read(service.session_info, user=user))


# -- reading the board -------------------------------------------------------------------------------------


@console.get(CONSOLE + "/board", response_model=Board)
async def board(
    request: Request,
    serverId: int = ServerId,
    closedLimit: int = Query(10, ge=0, le=100),
    closedOffset: int = Query(0, ge=0, le=MAX_ID),
    user: ConsoleUser = Depends(console_user),
) -> Response:
    """The 911 queue, open dispatch calls, a page of closed calls, the units and the map settings."""
    state = app_state(request)
    found = await state.db.read(
        service.board,
        community_id=user.community_id,
        server_id=serverId,
        closed_limit=closedLimit,
        closed_offset=closedOffset,
        now=state.clock.now_ms(),
    )
    return json_response(found)


@console.get(CONSOLE + "/calls/{callId}", response_model=CallDetail)
async def call_detail(
    request: Request, callId: CallId, serverId: int = ServerId, user: ConsoleUser = Depends(console_user)
) -> Response:
    """A 911 or dispatch call with its history."""
    found = await app_state(request).db.read(
        service.call_detail, community_id=user.community_id, server_id=serverId, call_id=callId
    )
    return json_response(found)


@console.get(CONSOLE + "/calls/{callId}/draft", response_model=DispatchDraft)
async def dispatch_draft(
    request: Request, callId: CallId, serverId: int = ServerId, user: ConsoleUser = Depends(console_user)
) -> Response:
    """A dispatch call pre-filled from a 911 call's location, description and metaData."""
    found = await app_state(request).db.read(
        service.dispatch_draft, community_id=user.community_id, server_id=serverId, call_id=callId
    )
    return json_response(found)


@console.get(CONSOLE + "/calls/{callId}/nearest-units", response_model=NearestUnits)
async def console_nearest_units(
    request: Request,
    callId: CallId,
    serverId: int = ServerId,
    limit: int = Query(5, ge=1, le=100),
    user: ConsoleUser = Depends(console_user),
) -> Response:
    """Available units nearest to a 911 or dispatch call."""
    found = await app_state(request).db.read(
        service.nearest_units,
        community_id=user.community_id,
        server_id=serverId,
        call_id=callId,
        limit=limit,
    )
    return json_response(found)


@console.get(CONSOLE + "/map/image")
async def map_image(
    request: Request, serverId: int = ServerId, user: ConsoleUser = Depends(console_user)
) -> Response:
    """The server's map image as the operator gave it (its URL changes when it is replaced)."""
    stored = await app_state(request).db.read(
        service.map_image, community_id=user.community_id, server_id=serverId
    )
    return Response(
        stored.image,
        media_type=stored.content_type,
        headers={"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


# -- changes, through the API's own services ---------------------------------------------------------------


async def _write(request: Request, work: Any, user: ConsoleUser, **kwargs: Any) -> Any:
    state = app_state(request)
    return await state.db.write(
        work, community_id=user.community_id, now=state.clock.now_ms(), actor=user.actor, **kwargs
    )


@console.post(CONSOLE + "/calls/911", response_model=EmergencyCall)
async def create_911_call(
    request: Request,
    call: NewEmergencyCall,
    serverId: int = ServerId,
    user: ConsoleUser = Depends(console_change),
) -> Response:
    """Place a 911 call from the console (its EVENT_911 carries the dispatcher's ids)."""
    created = await _write(request, calls.open_emergency_call, user, server_id=serverId, call=call)
    return json_response(created)


@console.delete(CONSOLE + "/calls/911/{callId}", response_model=RemovedEmergencyCall)
async def remove_911_call(
    request: Request, callId: CallId, serverId: int = ServerId, user: ConsoleUser = Depends(console_change)
) -> Response:
    """Remove a 911 call from the queue."""
    removed = await _write(request, calls.remove_emergency_call, user, server_id=serverId, call_id=callId)
    return json_response(removed)


@console.post(CONSOLE + "/dispatch-calls", response_model=DispatchCall)
async def create_dispatch_call(
    request: Request,
    call: ConsoleNewDispatchCall,
    serverId: int = ServerId,
    user: ConsoleUser = Depends(console_change),
) -> Response:
    """Open a dispatch call, optionally from a 911 call, with units picked by id."""
    created = await _write(request, service.open_dispatch_call, user, server_id=serverId, call=call)
    return json_response(created)


@console.post(CONSOLE + "/dispatch-calls/close", response_model=ClosedCalls)
async def close_calls(
    request: Request, body: CloseCalls, serverId: int = ServerId, user: ConsoleUser = Depends(console_change)
) -> Response:
    """Close calls; all or none."""
    closed = await _write(request, calls.close_calls, user, server_id=serverId, call_ids=body.callIds)
    return json_response(closed)


@console.patch(CONSOLE + "/dispatch-calls/{callId}", response_model=DispatchCall)
async def update_dispatch_call(
    request: Request,
    callId: CallId,
    changes: DispatchCallChanges,
    serverId: int = ServerId,
    user: ConsoleUser = Depends(console_change),
) -> Response:
    """Change any of a call's fields."""
    updated = await _write(
        request,
        calls.update_dispatch_call,
        user,
        server_id=serverId,
        call_id=callId,
        changes=changes.changes(),
    )
    return json_response(updated)


@console.post(CONSOLE + "/dispatch-calls/{callId}/attachments", response_model=UnitsAttached)
async def attach_units(
    request: Request,
    callId: CallId,
    targets: Targets,
    serverId: int = ServerId,
    user: ConsoleUser = Depends(console_change),
) -> Response:
    """Attach units; each leaves any other open call."""
    attached = await _write(
        request, calls.attach_to_call, user, server_id=serverId, call_id=callId, targets=targets
    )
    return json_response(attached)


@console.post(CONSOLE + "/dispatch-calls/{callId}/attach-nearest", response_model=UnitsAttached)
async def attach_nearest(
    request: Request, callId: CallId, serverId: int = ServerId, user: ConsoleUser = Depends(console_change)
) -> Response:
    """Attach the nearest available unit."""
    attached = await _write(request, service.attach_nearest, user, server_id=serverId, call_id=callId)
    return json_response(attached)


@console.post(CONSOLE + "/dispatch-calls/{callId}/detachments", response_model=AffectedUnits)
async def detach_units(
    request: Request,
    callId: CallId,
    targets: Targets,
    serverId: int = ServerId,
    user: ConsoleUser = Depends(console_change),
) -> Response:
    """Take units (by identIds) off this call."""
    detached = await _write(
        request,
        service.detach_from_call,
        user,
        server_id=serverId,
        call_id=callId,
        ident_ids=targets.identIds or [],
    )
    return json_response(AffectedUnits(identIds=detached))


@console.patch(CONSOLE + "/dispatch-calls/{callId}/primary", response_model=DispatchCall)
async def set_primary(
    request: Request,
    callId: CallId,
    body: SetPrimary,
    serverId: int = ServerId,
    user: ConsoleUser = Depends(console_change),
) -> Response:
    """Make an attached unit the primary."""
    updated = await _write(
        request,
        calls.set_primary,
        user,
        server_id=serverId,
        call_id=callId,
        ident_id=body.identId,
        track_primary=body.trackPrimary,
    )
    return json_response(updated)


@console.post(CONSOLE + "/dispatch-calls/{callId}/notes", response_model=CallNoteAdded)
async def add_note(
    request: Request,
    callId: CallId,
    note: NewCallNote,
    serverId: int = ServerId,
    user: ConsoleUser = Depends(console_change),
) -> Response:
    """Add a note."""
    added = await _write(request, calls.add_note, user, server_id=serverId, call_id=callId, note=note)
    return json_response(added)


@console.patch(CONSOLE + "/units/status", response_model=UnitStatusChanged)
async def set_unit_status(
    request: Request,
    change: UnitStatusChange,
    serverId: int = ServerId,
    user: ConsoleUser = Depends(console_change),
) -> Response:
    """Set units' status."""
    changed = await _write(request, units.set_unit_status, user, server_id=serverId, change=change)
    return json_response(changed)


# -- the live stream ---------------------------------------------------------------------------------------


async def open_console_stream(
    request: Request,
    serverId: Annotated[int, ServerIdPath],
    user: ConsoleUser = Depends(console_user),
    last_event_id: Annotated[int | None, Header(alias="Last-Event-ID", ge=0, le=MAX_ID)] = None,
    lastEventId: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
) -> LiveStream:
    """The v2 stream's subscription, opened for the session's community."""
    return await LiveStream.open(
        app_state(request).db,
        request.app.state.broker,
        community_id=user.community_id,
        server_id=serverId,
        resume=last_event_id if last_event_id is not None else lastEventId,
    )


@console.get(
    CONSOLE + "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def console_events(
    request: Request, stream: LiveStream = Depends(open_console_stream)
) -> StreamingResponse:
    """The server's live events for the console, resumable with Last-Event-ID like the v2 stream.

    The stream ends when the session does (checked at each keep-alive); the browser then reconnects
    and gets a 401.
    """
    state = app_state(request)
    token = request.cookies.get(COOKIE, "")

    async def still_logged_in() -> bool:
        return await state.db.read(service.session_user, token=token, now=state.clock.now_ms()) is not None

    # Reconnect after a second, not the browser's default three: the board must not fall behind.
    frames = stream.frames(greeting=b": connected\nretry: 1000\n\n", still_allowed=still_logged_in)
    return StreamingResponse(frames, media_type="text/event-stream", headers=SSE_HEADERS)


# -- v2: location snapshots and nearest units (API key or console session) ---------------------------------


async def _snapshot_base(
    request: Request, community_id: str, server_id: int, version: int | None
) -> SnapshotBase | None:
    if version is None:
        return None
    cache = console_state(request).map_bases
    key = (community_id, server_id, version)
    base: SnapshotBase | None = cache.get(key)
    if base is None:
        stored = await app_state(request).db.read(
            service.map_image, community_id=community_id, server_id=server_id
        )
        base = await run_in_threadpool(service.decode_map, stored)
        cache.put(key, base)
    return base


@router.get(
    V2 + "/calls/{callId}/snapshot.png",
    summary="Call Location Snapshot",
    tags=["console"],
    responses={
        **PROBLEM_RESPONSES,
        200: {"content": {"image/png": {}}, "description": "A PNG of the map around the call."},
        409: {"description": "The call has no x/y coordinates in its metaData."},
    },
)
async def snapshot(
    request: Request,
    callId: CallId,
    serverId: int = ServerId,
    community_id: str = key_or_console("snapshot"),
) -> Response:
    """A PNG of the map around a 911 or dispatch call that has metaData ``x``/``y``, its marker at the
    centre and its ``radius`` drawn as a circle (the server's map image when one is set, else a grid)."""
    state = app_state(request)
    located = await state.db.read(
        service.locate_call, community_id=community_id, server_id=serverId, call_id=callId
    )
    point = service.require_point(located)
    version = await state.db.read(service.map_version, community_id=community_id, server_id=serverId)
    cache = console_state(request).snapshots
    key = (community_id, serverId, callId, point.x, point.y, point.radius, version)
    png: bytes | None = cache.get(key)
    if png is None:
        base = await _snapshot_base(request, community_id, serverId, version)
        png = await run_in_threadpool(service.render_snapshot, point, base, label=f"#{callId}")
        cache.put(key, png)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=30"})


@router.get(
    V2 + "/dispatch-calls/{callId}/nearest-units",
    response_model=NearestUnits,
    summary="Nearest Units",
    tags=["console"],
    responses={**PROBLEM_RESPONSES, 409: {"description": "The call has no x/y coordinates."}},
)
async def nearest_units(
    request: Request,
    callId: CallId,
    serverId: int = ServerId,
    limit: int = Query(10, ge=1, le=100, description="Most units listed."),
    community_id: str = key_or_console("nearest_units"),
) -> Response:
    """Available units (AVAILABLE and on no open call) ordered by straight-line distance on the x/y plane
    from their last reported coordinates to the call's metaData ``x``/``y``."""
    found = await app_state(request).db.read(
        service.nearest_units,
        community_id=community_id,
        server_id=serverId,
        call_id=callId,
        limit=limit,
        dispatch_only=True,
    )
    return json_response(found)


router.include_router(console)
