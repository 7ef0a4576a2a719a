"""HTTP door of the v1 legacy API: ``POST /{area}/{type}`` with ``{id, key, type, data: [...]}``.

A thin door onto the v2 services: it reads the envelope, checks the community, key, plan and limits,
parses every item into its v2 request, runs all items in order as one unit of work, and answers plain
text lines that in-game scripts match with string patterns (docs/v1.md lists every one). Its router is
registered last, so the two-segment catch-all shadows no other route.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson
from fastapi import APIRouter, Request
from pydantic import TypeAdapter
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse, Response

from opendispatch.api.auth import lookup_key
from opendispatch.api.bodies import json_response
from opendispatch.api.limits import RateLimited, charge, limit_of
from opendispatch.api.state import AppState, app_state
from opendispatch.calls import service as calls
from opendispatch.calls.schemas import CallTableType
from opendispatch.communities.schemas import Principal
from opendispatch.communities.service import require_community
from opendispatch.errors import Conflict, DomainError, NotFound
from opendispatch.events.service import server_settings
from opendispatch.history.schemas import Actor
from opendispatch.legacy import service
from opendispatch.legacy.schemas import (
    Attach,
    CallNote,
    CallPostal,
    CallPrimary,
    CallsQuery,
    CloseCall,
    Detach,
    DispatchEdit,
    Envelope,
    InvalidItems,
    Item,
    LocationReport,
    NewCall911,
    NewDispatch,
    PanicChange,
    Remove911,
    StatusChange,
    UnitsQuery,
    V1Type,
    V1Unit,
    parse_items,
    parse_query,
    read_envelope,
    resolve_type,
    v1_unit,
)
from opendispatch.storage.database import StorageUnavailable
from opendispatch.units import service as units
from opendispatch.units.schemas import UnitLocations

log = logging.getLogger(__name__)

# The four errors of the reference, word for word.
INVALID_REQUEST_TYPE = "INVALID REQUEST TYPE"
INVALID_COMMUNITY_ID = "INVALID COMMUNITY ID"
API_NOT_ENABLED = "API IS NOT ENABLED FOR THIS COMMUNITY"
INVALID_API_KEY = "INVALID API KEY"

UNIT_LOCATION_UPDATED = "UNIT LOCATION UPDATED"

# The areas of the hosted v1 API; civilian types are not served, so they answer INVALID REQUEST TYPE.
AREAS = frozenset({"general", "emergency", "civilian"})

_UNITS = TypeAdapter(list[V1Unit])

_EXAMPLE = {
    "id": "YOUR_COMMUNITY_ID",
    "key": "YOUR_API_KEY",
    "type": "CALL_911",
    "data": [
        {
            "serverId": 1,
            "isEmergency": True,
            "caller": "John Doe",
            "location": "1234 E. Test St.",
            "description": "Help, someone is breaking into my house!",
            "metaData": {"x": 1000, "y": 1000},
        }
    ],
}
_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}, "example": _EXAMPLE}},
    },
    "responses": {
        "200": {"description": "One line per item, e.g. `EMERGENCY CALL ADDED ID: 12`.", "content": {}},
        "400": {"description": "`INVALID REQUEST TYPE`, `INVALID COMMUNITY ID`, `INVALID API KEY`, ..."},
    },
}

router = APIRouter(tags=["v1 legacy"])


class Refused(Exception):
    """A plain-text refusal."""

    def __init__(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.headers = headers


def _text(text: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return PlainTextResponse(text, status, headers=headers)


@router.post(
    "/{area}/{requestType}",
    summary="v1 legacy request",
    response_class=PlainTextResponse,
    openapi_extra=_OPENAPI,
)
async def v1_request(request: Request, area: str, requestType: str) -> Response:
    """A v1 request, e.g. `POST /emergency/call_911` with `{id, key, type: "CALL_911", data: [...]}`."""
    if area.lower() not in AREAS:
        # Not a v1 path at all (a mistyped v2 one, say): the same 404 as any unknown route.
        raise HTTPException(404)
    return await _serve(request, area, requestType)


@router.post("/emergency", summary="v1 legacy request (type in the body only)", openapi_extra=_OPENAPI)
async def v1_emergency(request: Request) -> Response:
    """The oldest form: the area in the path, the type only in the body."""
    return await _serve(request, "emergency", None)


@router.post("/general", summary="v1 legacy request (type in the body only)", openapi_extra=_OPENAPI)
async def v1_general(request: Request) -> Response:
    """The oldest form: the area in the path, the type only in the body."""
    return await _serve(request, "general", None)


async def _serve(request: Request, area: str, path_type: str | None) -> Response:
    state = app_state(request)
    try:
        envelope = _envelope(await request.body())
        spec = resolve_type(area, path_type, envelope.type_name)
        if spec is None:
            raise Refused(400, INVALID_REQUEST_TYPE)
        principal = await _authenticate(state, envelope)
        if not principal.api_enabled or principal.plan < spec.min_plan:
            raise Refused(400, API_NOT_ENABLED)
        return await _answer(state, principal, spec, envelope.data)
    except Refused as refused:
        return _text(refused.text, refused.status, refused.headers)
    except InvalidItems as exc:
        return _text(f"INVALID DATA: {exc}", 400)
    except service.ItemFailed as exc:
        return _text(f"{_label(exc.error)}: {exc.label}: {exc.error.detail}", exc.error.status)
    except DomainError as exc:
        return _text(f"{_label(exc)}: {exc.detail}", exc.status)
    except RateLimited as exc:
        return _text("API RATE LIMIT EXCEEDED", 429, {"Retry-After": str(exc.retry_after)})
    except (StorageUnavailable, DBAPIError) as exc:
        # exc.orig only: SQLAlchemy's own text carries the statement's parameters.
        log.error(
            "storage refused a v1 %s request: %s", area, exc.orig if isinstance(exc, DBAPIError) else exc
        )
        return _text("STORAGE UNAVAILABLE: nothing was saved; try again", 503, {"Retry-After": "1"})


def _label(error: DomainError) -> str:
    if isinstance(error, NotFound):
        return "NOT FOUND"
    if isinstance(error, Conflict):
        return "CONFLICT"
    return "INVALID DATA"


def _envelope(body: bytes) -> Envelope:
    try:
        decoded = orjson.loads(body.removeprefix(b"\xef\xbb\xbf"))  # some script runtimes send a BOM
    except orjson.JSONDecodeError as exc:
        raise Refused(400, f"INVALID REQUEST BODY: not valid JSON ({exc})") from None
    envelope = read_envelope(decoded)
    if envelope is None:
        raise Refused(400, "INVALID REQUEST BODY: the body must be a JSON object {id, key, type, data}")
    return envelope


async def _authenticate(state: AppState, envelope: Envelope) -> Principal:
    """The key's principal, only if the key belongs to the community ``id`` names.

    The key is found by its hash and compared in constant time (communities.service.authenticate, behind
    the same short-lived cache as v2); only a refusal costs a second look, to tell which refusal it is.
    """
    if envelope.community_id is None:
        raise Refused(400, INVALID_COMMUNITY_ID)
    principal = await lookup_key(state, envelope.api_key) if envelope.api_key else None
    if principal is not None and principal.community_id == envelope.community_id:
        return principal
    try:
        await state.db.read(require_community, envelope.community_id)
    except NotFound:
        raise Refused(400, INVALID_COMMUNITY_ID) from None
    raise Refused(400, INVALID_API_KEY)


def _charge(state: AppState, principal: Principal, spec: V1Type, cost: int) -> None:
    """Count the request against its v2 twin's per-key limit: ``cost`` requests, all or none."""
    if spec.endpoint is None:
        return
    per_minute = limit_of(principal, spec.endpoint)
    if cost > per_minute:
        raise Refused(
            400,
            f"TOO MANY ITEMS: this key may send {per_minute} {spec.name} items a minute; "
            "send them in smaller requests",
        )
    charge(state.limiter, state.clock, principal, spec.endpoint, cost)


async def _answer(state: AppState, principal: Principal, spec: V1Type, data: Any) -> Response:
    community_id = principal.community_id
    if spec.name == "GET_VERSION":
        return _text(str(principal.plan))
    if spec.name == "GET_SERVERS":
        # Exactly what v2 GET /v2/general/servers answers: the servers with their push settings.
        return json_response(await state.db.read(server_settings, community_id))
    if spec.name == "GET_CALLS":
        label, calls_query = parse_query(spec, data, CallsQuery)
        _charge(state, principal, spec, 1)
        read_calls = partial(
            calls.list_calls,
            community_id=community_id,
            server_id=calls_query.serverId,
            table_type=CallTableType.SEARCH_ALL,
            closed_limit=calls_query.closedLimit,
            closed_offset=calls_query.closedOffset,
        )
        [listing] = await state.db.read(service.run_items, [(label, read_calls)])
        return json_response(listing)
    if spec.name == "GET_ACTIVE_UNITS":
        label, units_query = parse_query(spec, data, UnitsQuery)
        _charge(state, principal, spec, 1)
        read_units = partial(
            units.list_units,
            community_id=community_id,
            server_id=units_query.serverId,
            include_offline=units_query.includeOffline,
            limit=units_query.limit,
            offset=units_query.offset,
        )
        [found] = await state.db.read(service.run_items, [(label, read_units)])
        body = _UNITS.dump_json([v1_unit(unit) for unit in found.units])
        return Response(body, media_type="application/json")

    items = parse_items(spec, data)
    _charge(state, principal, spec, len(items) if spec.per_item else 1)
    context = _Context(community_id, principal.actor, state.clock.now_ms())
    if spec.name == "UNIT_LOCATION":
        await state.db.write(service.run_items, _location_steps(items, context))
        return _text(UNIT_LOCATION_UPDATED)
    steps = [(item.label, _STEPS[type(item)](item, context)) for item in items]
    lines = await state.db.write(service.run_items, steps)
    return _text("\n".join(lines))


# -- one step per item: the v2 service it calls and the line it answers ----------------------------------


@dataclass(frozen=True, slots=True)
class _Context:
    community_id: str
    actor: Actor
    now: int


Run = Callable[[Connection], str]


def _new_911(item: NewCall911, ctx: _Context) -> Run:
    def run(conn: Connection) -> str:
        created = calls.open_emergency_call(
            conn,
            community_id=ctx.community_id,
            server_id=item.server_id,
            call=item.call,
            now=ctx.now,
            actor=ctx.actor,
        )
        return f"EMERGENCY CALL ADDED ID: {created.callId}"

    return run


def _remove_911(item: Remove911, ctx: _Context) -> Run:
    def run(conn: Connection) -> str:
        removed = calls.remove_emergency_call(
            conn,
            community_id=ctx.community_id,
            server_id=item.server_id,
            call_id=item.call_id,
            now=ctx.now,
            actor=ctx.actor,
        )
        return f"EMERGENCY CALL REMOVED ID: {removed.callId}"

    return run


def _close(item: CloseCall, ctx: _Context) -> Run:
    def run(conn: Connection) -> str:
        calls.close_calls(
            conn,
            community_id=ctx.community_id,
            server_id=item.server_id,
            call_ids=[item.call_id],
            now=ctx.now,
            actor=ctx.actor,
        )
        return f"DISPATCH CALL {item.call_id} CLOSED"

    return run


def _new_dispatch(item: NewDispatch, ctx: _Context) -> Run:
    def run(conn: Connection) -> str:
        created = calls.open_dispatch_call(
            conn,
            community_id=ctx.community_id,
            server_id=item.server_id,
            call=item.call,
            now=ctx.now,
            actor=ctx.actor,
        )
        return f"NEW DISPATCH CREATED - ID: {created.callId}"

    return run


def _edit_dispatch(item: DispatchEdit, ctx: _Context) -> Run:
    def run(conn: Connection) -> str:
        service.edit_dispatch_call(
            conn,
            community_id=ctx.community_id,
            server_id=item.server_id,
            call_id=item.call_id,
            changes=item.changes.changes(),
            primary=item.primary,
            track_primary=item.track_primary,
            now=ctx.now,
            actor=ctx.actor,
        )
        return f"DISPATCH CALL {item.call_id} UPDATED"

    return run


def _attach(item: Attach, ctx: _Context) -> Run:
    def run(conn: Connection) -> str:
        calls.attach_to_call(
            conn,
            community_id=ctx.community_id,
            server_id=item.server_id,
            call_id=item.call_id,
            targets=item.targets,
            now=ctx.now,
            actor=ctx.actor,
        )
        return "UNITS ATTACHED"

    return run


def _detach(item: Detach, ctx: _Context) -> Run:
    def run(conn: Connection) -> str:
        calls.detach_from_calls(
            conn,
            community_id=ctx.community_id,
            server_id=item.server_id,
            targets=item.targets,
            now=ctx.now,
            actor=ctx.actor,
        )
        return "UNITS DETACHED"

    return run


def _note(item: CallNote, ctx: _Context) -> Run:
    def run(conn: Connection) -> str:
        calls.add_note(
            conn,
            community_id=ctx.community_id,
            server_id=item.server_id,
            call_id=item.call_id,
            note=item.note,
            now=ctx.now,
            actor=ctx.actor,
        )
        return f"NOTE '{item.note.note}' added to call #{item.call_id}"

    return run


def _postal(item: CallPostal, ctx: _Context) -> Run:
    def run(conn: Connection) -> str:
        calls.update_dispatch_call(
            conn,
            community_id=ctx.community_id,
            server_id=item.server_id,
            call_id=item.call_id,
            changes={"postal": item.body.postal},
            now=ctx.now,
            actor=ctx.actor,
        )
        return f"CALL {item.call_id} POSTAL SET TO {item.body.postal}"

    return run


def _primary(item: CallPrimary, ctx: _Context) -> Run:
    def run(conn: Connection) -> str:
        calls.set_primary(
            conn,
            community_id=ctx.community_id,
            server_id=item.server_id,
            call_id=item.call_id,
            ident_id=item.body.identId,
            track_primary=item.body.trackPrimary,
            now=ctx.now,
            actor=ctx.actor,
        )
        return f"CALL {item.call_id} PRIMARY SET TO {item.body.identId}"

    return run


def _status(item: StatusChange, ctx: _Context) -> Run:
    def run(conn: Connection) -> str:
        units.set_unit_status(
            conn,
            community_id=ctx.community_id,
            server_id=item.server_id,
            change=item.change,
            now=ctx.now,
            actor=ctx.actor,
        )
        return "UNIT STATUS UPDATED"

    return run


def _panic(item: PanicChange, ctx: _Context) -> Run:
    def run(conn: Connection) -> str:
        units.set_unit_panic(
            conn, community_id=ctx.community_id, server_id=item.server_id, change=item.change, now=ctx.now
        )
        return "UNIT PANIC UPDATED"

    return run


def _location_steps(items: list[Item], ctx: _Context) -> list[tuple[str, Run]]:
    """One v2 unit-locations batch per server the reports name, in the order the servers first appear."""
    by_server: dict[int, list[LocationReport]] = {}
    for item in items:
        assert isinstance(item, LocationReport)
        by_server.setdefault(item.server_id, []).append(item)

    def batch(server_id: int, reports: list[LocationReport]) -> Run:
        def run(conn: Connection) -> str:
            units.update_unit_locations(
                conn,
                community_id=ctx.community_id,
                server_id=server_id,
                updates=UnitLocations(updates=[report.update for report in reports]),
                now=ctx.now,
            )
            return UNIT_LOCATION_UPDATED

        return run

    return [(reports[0].label, batch(server_id, reports)) for server_id, reports in by_server.items()]


_STEPS: dict[type, Callable[[Any, _Context], Run]] = {
    NewCall911: _new_911,
    Remove911: _remove_911,
    CloseCall: _close,
    NewDispatch: _new_dispatch,
    DispatchEdit: _edit_dispatch,
    Attach: _attach,
    Detach: _detach,
    CallNote: _note,
    CallPostal: _postal,
    CallPrimary: _primary,
    StatusChange: _status,
    PanicChange: _panic,
}
