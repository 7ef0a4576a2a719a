"""HTTP plumbing shared by every v2 route: app state, API-key auth, rate limits and problem answers."""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, TypeVar

import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opendispatch.clock import Clock
from opendispatch.communities.schemas import Principal
from opendispatch.communities.service import KeyCache, authenticate
from opendispatch.errors import DomainError, InvalidInput, NotAuthenticated
from opendispatch.ratelimit import DEFAULT_LIMITS, RateLimiter
from opendispatch.settings import Settings
from opendispatch.storage.database import Database, StorageUnavailable

log = logging.getLogger(__name__)


@dataclass(slots=True)
class AppState:
    """Everything a request handler needs, built once by ``create_app``."""

    settings: Settings
    db: Database
    clock: Clock
    limiter: RateLimiter
    keys: KeyCache


def app_state(request: Request) -> AppState:
    """The state ``create_app`` attached to the application."""
    state: AppState = request.app.state.opendispatch
    return state


def json_response(model: BaseModel, status_code: int = 200) -> Response:
    """Serialize a wire model once, with pydantic's compiled serializer."""
    return Response(model.__pydantic_serializer__.to_json(model), status_code, media_type="application/json")


# -- authentication and rate limits ------------------------------------------------------------------


class ApiKey(HTTPBearer):
    """The community API key of ``Authorization: Bearer``, counted against ``endpoint``'s limit if named.

    One dependency rather than a chain (bearer → key → limit): FastAPI solves it for a fraction of the
    cost on every request, and being an ``HTTPBearer`` keeps the scheme in the OpenAPI document.
    """

    def __init__(self, endpoint: str | None = None) -> None:
        super().__init__(auto_error=False, scheme_name="bearerAuth", description="The community's API key.")
        if endpoint is not None and endpoint not in DEFAULT_LIMITS:  # fail at import, not on a request
            raise KeyError(endpoint)
        self.endpoint = endpoint

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        scheme, _, api_key = request.headers.get("authorization", "").partition(" ")
        api_key = api_key.strip()
        if scheme.lower() != "bearer" or not api_key:
            raise NotAuthenticated("Send the community API key as 'Authorization: Bearer <key>'.")
        state = app_state(request)
        principal = await lookup_key(state, api_key)
        if principal is None:
            raise NotAuthenticated("The API key is unknown or has been revoked.")
        if self.endpoint is not None:
            charge(state, principal, self.endpoint)
        return principal


authenticated = ApiKey()


async def lookup_key(state: AppState, api_key: str) -> Principal | None:
    """The principal behind a key, from the short-lived cache or the database."""
    now = time.monotonic()
    found, principal = state.keys.get(api_key, now)
    if not found:
        principal = await state.db.read(authenticate, api_key)
        state.keys.put(api_key, principal, now)
    return principal


class RateLimited(Exception):
    """The key has used up this endpoint's limit; ``retry_after`` whole seconds until it may retry."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


def limit_of(principal: Principal, endpoint: str) -> int:
    """The key's requests per minute on ``endpoint``: its community's override, or the default."""
    return principal.limits.get(endpoint, DEFAULT_LIMITS[endpoint])


def charge(state: AppState, principal: Principal, endpoint: str, cost: int = 1) -> None:
    """Count ``cost`` requests of the key against ``endpoint``'s limit, all or none; RateLimited if over."""
    per_minute = limit_of(principal, endpoint)
    decision = state.limiter.hit(principal.key_id, endpoint, per_minute, time.monotonic(), cost)
    if not decision.allowed:
        raise RateLimited(decision.retry_after)


Model = TypeVar("Model", bound=BaseModel)


async def read_body(request: Request, model: type[Model]) -> Model:
    """Validate the JSON body as ``model`` straight from its bytes; a 400 names each bad field.

    For the hottest routes, which take the body this way instead of as a parameter: pydantic parses and
    validates in one pass, and FastAPI has one parameter fewer to solve on every request.
    """
    body = await request.body()
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        failure = exc
    if any(error["type"] == "json_invalid" for error in failure.errors()):
        # pydantic's parser refuses some JSON the standard one reads (a lone surrogate in a string);
        # read it the standard way so the answer names the field, as on every other route.
        try:
            data = json.loads(body)
        except ValueError:
            raise RequestValidationError(
                [{"type": "json_invalid", "loc": ("body",), "msg": "invalid"}]
            ) from None
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            failure = exc
    raise RequestValidationError(
        [{**error, "loc": ("body", *error["loc"])} for error in failure.errors(include_url=False)]
    )


def documented_body(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI for a route that reads its body with ``read_body``: the schema, examples and the key."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        },
        "security": [{"bearerAuth": []}],
    }


def rate_limited(endpoint: str) -> Any:
    """A dependency that authenticates and counts the request against ``endpoint``'s per-key limit."""
    return Depends(ApiKey(endpoint))


# -- problem answers ----------------------------------------------------------------------------------

PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Invalid input; `errors` names each offending field."},
    401: {"description": "Missing, unknown or revoked API key."},
    404: {"description": "No such server or call in the key's community."},
    429: {"description": "Rate limit exceeded; see the `Retry-After` header."},
}


def problem(
    request: Request,
    status: int,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """An RFC 9457 problem answer."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "traceId": secrets.token_hex(8),
    }
    if errors:
        body["errors"] = errors
    return Response(orjson.dumps(body), status, headers=headers, media_type="application/problem+json")


def _field_name(location: tuple[int | str, ...]) -> str:
    # FastAPI prefixes the source ("body", "query", "path"); clients know fields by name alone.
    parts = (
        [str(part) for part in location[1:]] if location and location[0] in {"body", "query", "path"} else []
    )
    return ".".join(parts) or "body"


def _validation_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for error in exc.errors():
        message = str(error.get("msg", "invalid"))
        if error.get("type") == "json_invalid":
            errors.append({"field": "body", "message": "The body is not valid JSON."})
            continue
        if error.get("type") in {"model_attributes_type", "model_type"}:
            message = "The body must be a JSON object."
        errors.append(
            {
                "field": _field_name(tuple(error.get("loc", ()))),
                "message": message.removeprefix("Value error, "),
            }
        )
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return problem(request, 400, detail, errors=errors)


def _domain_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    errors = None
    if isinstance(exc, InvalidInput) and exc.fields:
        errors = [{"field": field, "message": message} for field, message in exc.fields.items()]
    return problem(request, exc.status, exc.detail, errors=errors)


def _http_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"There is no route {request.method} {request.url.path}."
    return problem(request, exc.status_code, detail, headers=dict(exc.headers or {}))


def _rate_limited(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RateLimited)
    body = {"message": "API rate limit exceeded", "request_id": secrets.token_hex(8)}
    return Response(
        orjson.dumps(body), 429, headers={"Retry-After": str(exc.retry_after)}, media_type="application/json"
    )


def _storage_problem(request: Request, exc: Exception) -> Response:
    reason = exc.orig if isinstance(exc, DBAPIError) else exc
    log.error("storage refused %s %s: %s", request.method, request.url.path, reason)
    return problem(
        request,
        503,
        "The database could not store the change; nothing was saved.",
        headers={"Retry-After": "1"},
    )


def _unexpected_problem(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error in %s %s", request.method, request.url.path, exc_info=exc)
    return problem(request, 500, "An unexpected error occurred; it has been logged.")


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error a client can cause with problem+json (and 429 in the reference's own shape)."""
    handlers: dict[type[Exception], Callable[[Request, Exception], Response]] = {
        RequestValidationError: _validation_problem,
        DomainError: _domain_problem,
        HTTPException: _http_problem,
        RateLimited: _rate_limited,
        StorageUnavailable: _storage_problem,
        DBAPIError: _storage_problem,
        Exception: _unexpected_problem,
    }
    for exc_type, handler in handlers.items():
        app.add_exception_handler(exc_type, handler)


class BodySizeLimit:
    """Refuse request bodies over ``max_bytes`` with 413, whether or not Content-Length announces them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, self._detail())
            return message

        await self.app(scope, counting_receive, send)

    def _detail(self) -> str:
        return f"The request body is larger than {self.max_bytes} bytes."

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(Request(scope, receive), 413, self._detail(), headers={"Connection": "close"})
        await response(scope, receive, send)
