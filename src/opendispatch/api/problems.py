"""Problem answers (RFC 9457) for every error a client can cause, and the 429 in the reference's shape."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from opendispatch.api.gcra import LimiterUnavailable
from opendispatch.api.limits import RateLimited
from opendispatch.api.routing import allowed_methods
from opendispatch.errors import DomainError, InvalidInput
from opendispatch.storage.database import StorageUnavailable

log = logging.getLogger(__name__)

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
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # Starlette names the methods of the first route at the path; the path may have several.
        headers["Allow"] = ", ".join(allowed_methods(request.scope, request.app.router.routes))
        detail = f"{request.url.path} does not take {request.method}; it takes {headers['Allow']}."
    return problem(request, exc.status_code, detail, headers=headers)


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


def _limiter_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LimiterUnavailable)
    # Logged by the limiter, once per outage: not here, once per request.
    return problem(
        request,
        503,
        "Tries cannot be counted right now (the rate-limit store is unreachable), so this one is refused; "
        "sessions already open keep working.",
        headers={"Retry-After": str(exc.retry_after)},
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
        LimiterUnavailable: _limiter_problem,
        DBAPIError: _storage_problem,
        Exception: _unexpected_problem,
    }
    for exc_type, handler in handlers.items():
        app.add_exception_handler(exc_type, handler)
