"""HTTP door of the v1 legacy API: ``POST /{area}/{type}`` with ``{id, key, type, data: [...]}``.

The same few steps for every type: read the envelope, look the type up in ``service.TYPES``, authenticate,
check the plan, parse the items, charge the limit, run the items in one unit of work and answer, in plain
text lines that in-game scripts match with string patterns (docs/v1.md lists every one). Its router is
registered last, so the two-segment catch-all shadows no other route.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import APIRouter, Request
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse, Response

from opendispatch.api.auth import lookup_key
from opendispatch.api.bodies import json_response
from opendispatch.api.limits import RateLimited, charge, limit_of
from opendispatch.api.state import AppState, app_state
from opendispatch.communities.schemas import Principal
from opendispatch.communities.service import require_community
from opendispatch.errors import Conflict, DomainError, NotFound
from opendispatch.legacy import service
from opendispatch.legacy.schemas import Envelope, InvalidItems, read_envelope
from opendispatch.storage.database import StorageUnavailable

log = logging.getLogger(__name__)

# The four errors of the reference, word for word.
INVALID_REQUEST_TYPE = "INVALID REQUEST TYPE"
INVALID_COMMUNITY_ID = "INVALID COMMUNITY ID"
API_NOT_ENABLED = "API IS NOT ENABLED FOR THIS COMMUNITY"
INVALID_API_KEY = "INVALID API KEY"

# The areas of the hosted v1 API; civilian types are not served, so they answer INVALID REQUEST TYPE.
AREAS = frozenset({"general", "emergency", "civilian"})

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
_TEXT = {"text/plain": {"schema": {"type": "string"}}}
# Documented by hand: the handler reads the raw body and answers text, so FastAPI sees neither.
_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}, "example": _EXAMPLE}},
    },
    "responses": {
        "200": {
            "description": "One line per item, e.g. `EMERGENCY CALL ADDED ID: 12` (the GET types: JSON).",
            "content": {"text/plain": {"schema": {"type": "string"}}, "application/json": {"schema": {}}},
        },
        "400": {
            "description": "`INVALID REQUEST TYPE`, `INVALID COMMUNITY ID`, `INVALID API KEY`, ...",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        "401": {"description": "An item's account secret is wrong.", "content": _TEXT},
        "404": {
            "description": "An item names nothing of the community; or the path's area is not a v1 one "
            "(general, emergency, civilian), answered as any unknown route is.",
            "content": {
                **_TEXT,
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}},
            },
        },
        "429": {"description": "`API RATE LIMIT EXCEEDED`, with `Retry-After`.", "content": _TEXT},
        "503": {"description": "`STORAGE UNAVAILABLE`: nothing was saved.", "content": _TEXT},
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
        spec = service.resolve_type(area, path_type, envelope.type_name)
        if spec is None:
            raise Refused(400, INVALID_REQUEST_TYPE)
        principal = await _authenticate(state, envelope)
        if not principal.api_enabled or principal.plan < spec.min_plan:
            raise Refused(400, API_NOT_ENABLED)
        items = spec.items(envelope.data)
        await _charge(state, principal, spec, spec.cost(items))
        now = state.clock.now_ms()
        context = service.Context(principal.community_id, principal.plan, principal.actor, now)
        unit_of_work = state.db.write if spec.writes else state.db.read
        answer = await unit_of_work(spec.run, items, context)
        return _text(answer) if isinstance(answer, str) else json_response(answer)
    except Refused as refused:
        return _text(refused.text, refused.status, refused.headers)
    except InvalidItems as exc:
        return _text(f"INVALID DATA: {exc}", 400)
    except service.ItemFailed as exc:
        return _text(f"{_label(exc.error)}: {exc.label}: {exc.error.detail}", _status(exc.error))
    except DomainError as exc:
        return _text(f"{_label(exc)}: {exc.detail}", _status(exc))
    except RateLimited as exc:
        return _text("API RATE LIMIT EXCEEDED", 429, {"Retry-After": str(exc.retry_after)})
    except (StorageUnavailable, DBAPIError) as exc:
        # exc.orig only: SQLAlchemy's own text carries the statement's parameters.
        log.error(
            "storage refused a v1 %s request: %s", area, exc.orig if isinstance(exc, DBAPIError) else exc
        )
        return _text("STORAGE UNAVAILABLE: nothing was saved; try again", 503, {"Retry-After": "1"})


def _status(error: DomainError) -> int:
    """The status of a refusal: the JS SDK reads only 400, 401 and 404 as errors (a 409 is a success to
    it), so a refusal of the current state (already closed, not on a call) is a 400 like any other."""
    return error.status if error.status in (400, 401, 404) else 400


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


async def _charge(state: AppState, principal: Principal, spec: service.V1Type[Any], cost: int) -> None:
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
    await charge(state.limiter, state.clock, principal, spec.endpoint, cost)
