"""HTTP door of the console: the page and its assets, login and logout, the board's reads, the console's
own operations, its live stream, and two v2 endpoints that take an API key or a console session.

The console's other changes (create or remove a 911 call, update, attach, note, primary, close, unit
status) go to the v2 routes themselves with the session cookie in place of the key (``calls.routes``,
``units.routes``): one route per operation, whatever door the caller came through.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from starlette.responses import Response, StreamingResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from opendispatch import __version__
from opendispatch.api.auth import SESSION_COOKIE, Caller, api_caller, console_session, require_same_origin
from opendispatch.api.limits import RateLimited
from opendispatch.api.params import CallId, ServerId
from opendispatch.api.problems import PROBLEM_RESPONSES
from opendispatch.api.routing import Operation
from opendispatch.api.state import app_state
from opendispatch.calls.schemas import DispatchCall, UnitsAttached
from opendispatch.events.routes import SSE_HEADERS, LastEventId, ResumeAfter, open_stream
from opendispatch.maps import service as map_service
from opendispatch.maps.schemas import MAX_POSTAL_CODE, PostalPosition
from opendispatch.ops.metrics import rate_limit_refused
from opendispatch.schemas import MAX_ID
from opendispatch.units.schemas import AffectedUnits, Targets
from opendispatch.web import board, maps, sessions
from opendispatch.web.schemas import (
    Board,
    CallDetail,
    ConsoleNewDispatchCall,
    DispatchDraft,
    Login,
    LoginOptions,
    NearestUnits,
    SessionInfo,
)

STATIC = Path(__file__).parent / "static"
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

router = APIRouter(route_class=Operation)
# The console's own endpoints stay out of the API documentation: only its pages call them.
console = APIRouter(include_in_schema=False, route_class=Operation)
CONSOLE = "/console/api/servers/{serverId}"
V2 = "/v2/emergency/servers/{serverId}"
# The board and its operations need the dispatcher role; logging out and reading one's session do not
# (a member logs in to its own page, an admin to the admin pages).
Dispatcher = Annotated[Caller, console_session("dispatcher")]
Session = Annotated[Caller, console_session()]


class _Static(StaticFiles):
    """The console's assets; browsers revalidate them (a cheap 304) so an upgrade shows at once."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


router.mount("/console/static", _Static(directory=STATIC), name="console-static")


class ConsoleState:
    """The console's state: its login throttle (over the application's login limiter) and snapshot caches."""

    def __init__(self, request: Request) -> None:
        state = app_state(request)
        self.logins = sessions.LoginThrottle(state.login_limiter, state.clock)
        self.snapshots = maps.Snapshots()


def console_state(request: Request) -> ConsoleState:
    """The console state of this application, made on first use."""
    found: ConsoleState | None = getattr(request.app.state, "console", None)
    if found is None:
        found = request.app.state.console = ConsoleState(request)
    return found


# -- the page, login and logout ----------------------------------------------------------------------------


@console.get("/console")
async def console_page() -> Response:
    """The console: one page, its script and styles from /console/static."""
    page = (STATIC / "console.html").read_text().replace("{{version}}", __version__)
    return Response(page, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@console.get("/console/link")
async def link_page() -> Response:
    """The page where a logged-in user redeems an in-game link code (``?code=...``)."""
    page = (STATIC / "link.html").read_text().replace("{{version}}", __version__)
    return Response(page, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@console.get("/console/api/login", response_model=LoginOptions)
async def login_options(request: Request) -> LoginOptions:
    """What the login form asks for: no community id while the server holds one community."""
    return await app_state(request).db.read(sessions.login_options)


@console.post("/console/api/login", response_model=SessionInfo)
async def login(request: Request, body: Login) -> Response:
    """Check a dispatcher's password and start a session (an HttpOnly, SameSite=Strict cookie)."""
    require_same_origin(request)
    address = request.client.host if request.client else "unknown"
    wait = await console_state(request).logins.check(body.communityId, body.username, address)
    if wait:
        rate_limit_refused("console_login")
        told = {"message": f"Too many login attempts from here; try again in {wait} s.", "retryAfter": wait}
        return Response(
            orjson.dumps(told), 429, headers={"Retry-After": str(wait)}, media_type="application/json"
        )
    state = app_state(request)
    opened = await sessions.log_in(state.db, state.clock, body)
    response = Response(opened.info.model_dump_json(), media_type="application/json")
    set_session_cookie(request, response, opened)
    return response


def set_session_cookie(request: Request, response: Response, opened: sessions.NewSession) -> None:
    """Give the browser a just-opened session: an HttpOnly, SameSite=Strict cookie."""
    response.set_cookie(
        SESSION_COOKIE,
        opened.token,
        max_age=(opened.expires_at - app_state(request).clock.now_ms()) // 1000,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


@console.post("/console/api/logout", status_code=204)
async def logout(caller: Session) -> Response:
    """End the session; the cookie is cleared."""
    assert caller.session is not None
    await caller.db.write(sessions.close_session, token_hash=caller.session.token_hash)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@console.get("/console/api/session", response_model=SessionInfo)
async def session(request: Request, caller: Session) -> SessionInfo:
    """Who is logged in, their community's servers, and the CSRF token for changes."""
    assert caller.session is not None
    info = await caller.db.read(sessions.session_info, user=caller.session)
    info.staleAfterMs = round(app_state(request).settings.position_stale_seconds * 1000)
    return info


# -- reading the board -------------------------------------------------------------------------------------


async def charge_session(request: Request, caller: Caller, operation: str, per_minute: int) -> None:
    """Count one read of ``operation`` against the console session's own limit; RateLimited when over."""
    assert caller.session is not None
    state = app_state(request)
    # The session's token hash names its bucket: each dispatcher's console is limited on its own.
    slot = f"{operation}:{caller.session.token_hash}"
    decision = await state.limiter.hit(0, slot, per_minute, state.clock.monotonic())
    if not decision.allowed:
        rate_limit_refused(operation)
        raise RateLimited(decision.retry_after)


@console.get(CONSOLE + "/board", response_model=Board)
async def read_board(
    request: Request,
    serverId: ServerId,
    caller: Dispatcher,
    closedLimit: Annotated[int, Query(ge=0, le=board.MAX_CLOSED_ON_BOARD)] = 10,
    closedOffset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> Board:
    """The newest 911 calls and open dispatch calls, a page of closed calls, the units and the map.

    Each list is bounded (web.board); a session reads the board at most BOARD_READS_PER_MINUTE a minute.
    """
    await charge_session(request, caller, "console_board", board.BOARD_READS_PER_MINUTE)
    return await caller.read(
        board.board,
        server_id=serverId,
        closed_limit=closedLimit,
        closed_offset=closedOffset,
        now=caller.now(),
    )


@console.get(CONSOLE + "/calls/{callId}", response_model=CallDetail)
async def call_detail(serverId: ServerId, callId: CallId, caller: Dispatcher) -> CallDetail:
    """A 911 or dispatch call with its history."""
    return await caller.read(board.call_detail, server_id=serverId, call_id=callId)


@console.get(CONSOLE + "/calls/{callId}/draft", response_model=DispatchDraft)
async def dispatch_draft(serverId: ServerId, callId: CallId, caller: Dispatcher) -> DispatchDraft:
    """A dispatch call pre-filled from a 911 call's location, description and metaData."""
    return await caller.read(board.dispatch_draft, server_id=serverId, call_id=callId)


@console.get(CONSOLE + "/calls/{callId}/nearest-units", response_model=NearestUnits)
async def console_nearest_units(
    serverId: ServerId,
    callId: CallId,
    caller: Dispatcher,
    limit: Annotated[int, Query(ge=1, le=100)] = 5,
) -> NearestUnits:
    """Available units nearest to a 911 or dispatch call."""
    return await caller.read(board.nearest_units, server_id=serverId, call_id=callId, limit=limit)


@console.get("/console/api/postals/{code}", response_model=PostalPosition)
async def find_postal(
    code: Annotated[str, PathParam(min_length=1, max_length=MAX_POSTAL_CODE)], caller: Dispatcher
) -> PostalPosition:
    """Where a postal of the community's postal list is (the map's postal search)."""
    return await caller.read(map_service.find_postal, code=code)


@console.get(CONSOLE + "/map/image")
async def map_image(serverId: ServerId, caller: Dispatcher) -> Response:
    """The server's map image as the operator gave it (its URL changes when it is replaced)."""
    stored = await caller.read(maps.map_image, server_id=serverId)
    return Response(
        stored.image,
        media_type=stored.content_type,
        headers={"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


# -- the console's own operations (the rest go to the v2 routes) -------------------------------------------


@console.post(CONSOLE + "/dispatch-calls", response_model=DispatchCall, name="console_create_dispatch_call")
async def create_dispatch_call(
    serverId: ServerId, call: ConsoleNewDispatchCall, caller: Dispatcher
) -> DispatchCall:
    """Open a dispatch call, optionally from a 911 call, with units picked by id."""
    return await caller.write(
        board.open_dispatch_call, server_id=serverId, call=call, now=caller.now(), actor=caller.actor
    )


@console.post(CONSOLE + "/dispatch-calls/{callId}/attach-nearest", response_model=UnitsAttached)
async def attach_nearest(serverId: ServerId, callId: CallId, caller: Dispatcher) -> UnitsAttached:
    """Attach the nearest available unit."""
    return await caller.write(
        board.attach_nearest, server_id=serverId, call_id=callId, now=caller.now(), actor=caller.actor
    )


@console.post(
    CONSOLE + "/dispatch-calls/{callId}/detachments",
    response_model=AffectedUnits,
    name="console_detach_units",
)
async def detach_units(
    serverId: ServerId, callId: CallId, targets: Targets, caller: Dispatcher
) -> AffectedUnits:
    """Take units (by identIds) off this call."""
    detached = await caller.write(
        board.detach_from_call,
        server_id=serverId,
        call_id=callId,
        ident_ids=targets.identIds or [],
        now=caller.now(),
        actor=caller.actor,
    )
    return AffectedUnits(identIds=detached)


# -- the live stream ---------------------------------------------------------------------------------------


@console.get(
    CONSOLE + "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def console_events(
    request: Request,
    serverId: ServerId,
    caller: Dispatcher,
    last_event_id: LastEventId = None,
    lastEventId: ResumeAfter = None,
) -> StreamingResponse:
    """The server's live events for the console, resumable with Last-Event-ID like the v2 stream.

    The stream ends when the session does (checked at each keep-alive); the browser then reconnects
    and gets a 401.
    """
    stream = await open_stream(request, caller, serverId, last_event_id, lastEventId)
    token = request.cookies.get(SESSION_COOKIE, "")

    async def still_logged_in() -> bool:
        user = await caller.db.read(sessions.session_user, token=token, now=caller.now())
        return user is not None

    # Reconnect after a second, not the browser's default three: the board must not fall behind.
    frames = stream.frames(greeting=b": connected\nretry: 1000\n\n", still_allowed=still_logged_in)
    return StreamingResponse(frames, media_type="text/event-stream", headers=SSE_HEADERS)


# -- v2: location snapshots and nearest units (API key or console session) ---------------------------------


@router.get(
    V2 + "/calls/{callId}/snapshot.png",
    summary="Call Location Snapshot",
    tags=["console"],
    response_class=Response,  # a PNG only: FastAPI's default would also document a JSON answer
    responses={
        **PROBLEM_RESPONSES,
        200: {"content": {"image/png": {}}, "description": "A PNG of the map around the call."},
        409: {"description": "The call has no x/y coordinates in its metaData."},
    },
)
async def snapshot(
    request: Request,
    serverId: ServerId,
    callId: CallId,
    caller: Annotated[Caller, api_caller("snapshot", console=True)],
) -> Response:
    """A PNG of the map around a 911 or dispatch call that has metaData ``x``/``y``, its marker at the
    centre and its ``radius`` drawn as a circle (the server's map image when one is set, else a grid)."""
    png = await console_state(request).snapshots.render(
        caller.db, community_id=caller.community_id, server_id=serverId, call_id=callId
    )
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=30"})


@router.get(
    V2 + "/dispatch-calls/{callId}/nearest-units",
    response_model=NearestUnits,
    summary="Nearest Units",
    tags=["console"],
    responses={**PROBLEM_RESPONSES, 409: {"description": "The call has no x/y coordinates."}},
)
async def nearest_units(
    serverId: ServerId,
    callId: CallId,
    caller: Annotated[Caller, api_caller("nearest_units", console=True)],
    limit: Annotated[int, Query(ge=1, le=100, description="Most units listed.")] = 10,
) -> NearestUnits:
    """Available units (AVAILABLE and on no open call) ordered by straight-line distance on the x/y plane
    from their last reported coordinates to the call's metaData ``x``/``y``."""
    return await caller.read(
        board.nearest_units, server_id=serverId, call_id=callId, limit=limit, dispatch_only=True
    )


router.include_router(console)
