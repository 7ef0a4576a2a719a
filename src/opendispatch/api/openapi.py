"""The OpenAPI document as served: FastAPI's, made true to what the server answers.

FastAPI documents each route from its declaration, but some answers come from elsewhere: the problem
handlers (400, 403, 409, 503 for every operation, never FastAPI's 422), the body-size middleware (413),
the rate limiter (429 in the reference's shape). This fills those in, writes integer bounds exactly
(FastAPI's models hold them as floats, and 2**63 - 1 became 2**63) and adds the OpenAPI links from each
create operation to the operations that take what it made. tests/test_openapi_fuzz.py holds the server
to the result.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from opendispatch.schemas import MAX_ID

Document = dict[str, Any]

SERVER = "/v2/emergency/servers/{serverId}"
DISPATCH_CALL = SERVER + "/dispatch-calls/{callId}"
IDENTIFIERS = "/v2/emergency/accounts/{accountUuid}/identifiers"

_PROBLEM = "#/components/schemas/Problem"
_PROBLEM_SCHEMA: Document = {
    "title": "Problem",
    "description": "An RFC 9457 problem; `errors` names each offending field of a 400.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "instance", "traceId"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "traceId": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
_RATE_LIMITED_SCHEMA: Document = {
    "title": "RateLimited",
    "description": "The reference's 429 answer.",
    "type": "object",
    "required": ["message", "request_id"],
    "properties": {"message": {"type": "string"}, "request_id": {"type": "string"}},
}
_RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "string"}}
}

# What each problem status means, wherever it is answered.
PROBLEMS: dict[str, str] = {
    "400": "Invalid input; `errors` names each offending field.",
    "401": "Missing, unknown or revoked API key.",
    "403": "The API is not enabled for this community (or a console change without its CSRF token).",
    "404": "No such server, call, account or identifier in the key's community.",
    "409": "The request is valid but the current state forbids it (a closed call, a bound reached).",
    "413": "The request body is larger than the server takes (OPENDISPATCH_MAX_BODY_BYTES, 64 KiB).",
    "503": "The database could not store the change; nothing was saved. See `Retry-After`.",
}
_KEYED = ("400", "401", "403", "404", "503")  # any operation taking the API key may answer these
_WRITES = frozenset({"post", "put", "patch", "delete"})

# (method, path) of a create operation → its links: name → (method, path of the target, parameters, body).
Link = tuple[str, str, dict[str, str], Any]
_CALL = {"serverId": "$request.path.serverId", "callId": "$response.body#/callId"}
_SERVER_ONLY = {"serverId": "$request.path.serverId"}
_DISPATCH_LINKS: dict[str, Link] = {
    "UpdateCall": ("patch", DISPATCH_CALL, _CALL, None),
    "AttachUnits": ("post", DISPATCH_CALL + "/attachments", _CALL, None),
    "AddNote": ("post", DISPATCH_CALL + "/notes", _CALL, None),
    "SetPostal": ("patch", DISPATCH_CALL + "/postal", _CALL, None),
    "SetPrimary": ("patch", DISPATCH_CALL + "/primary", _CALL, None),
    "CallHistory": ("get", DISPATCH_CALL + "/history", _CALL, None),
    "NearestUnits": ("get", DISPATCH_CALL + "/nearest-units", _CALL, None),
    "Snapshot": ("get", SERVER + "/calls/{callId}/snapshot.png", _CALL, None),
    "GetCalls": ("get", SERVER + "/calls", _SERVER_ONLY, None),
    "CloseCall": (
        "post",
        SERVER + "/dispatch-calls/close",
        _SERVER_ONLY,
        {"callIds": ["$response.body#/callId"]},
    ),
}
_IDENTIFIER = {"accountUuid": "$request.path.accountUuid", "identId": "$response.body#/identId"}
_BLIP = {"serverId": "$request.path.serverId", "blipId": "$response.body#/id"}
LINKS: dict[tuple[str, str], dict[str, Link]] = {
    ("post", SERVER + "/calls/911"): {
        "RemoveCall": ("delete", SERVER + "/calls/911/{callId}", _CALL, None),
        "Snapshot": ("get", SERVER + "/calls/{callId}/snapshot.png", _CALL, None),
        "GetCalls": ("get", SERVER + "/calls", _SERVER_ONLY, None),
    },
    ("post", SERVER + "/dispatch-calls"): _DISPATCH_LINKS,
    ("post", SERVER + "/custom-dispatch-calls"): _DISPATCH_LINKS,
    ("post", IDENTIFIERS): {
        "UpdateIdentifier": ("patch", IDENTIFIERS + "/{identId}", _IDENTIFIER, None),
        "DeleteIdentifier": ("delete", IDENTIFIERS + "/{identId}", _IDENTIFIER, None),
        "GetIdentifiers": ("get", IDENTIFIERS, {"accountUuid": "$request.path.accountUuid"}, None),
    },
    ("post", SERVER + "/blips"): {
        "UpdateBlip": ("patch", SERVER + "/blips/{blipId}", _BLIP, None),
        "DeleteBlip": ("post", SERVER + "/blips/delete", _SERVER_ONLY, {"ids": ["$response.body#/id"]}),
        "GetBlips": ("get", SERVER + "/blips", _SERVER_ONLY, None),
    },
}


def install_openapi(app: FastAPI) -> None:
    """Serve the corrected document at /openapi.json (made once per set of routes, as FastAPI's is)."""
    generate: Callable[[], Document] = app.openapi
    made: dict[int, Document] = {}

    def document() -> Document:
        base = generate()
        if id(base) not in made:
            made.clear()
            made[id(base)] = true_document(copy.deepcopy(base))
        return made[id(base)]

    app.openapi = document  # type: ignore[method-assign]


def true_document(document: Document) -> Document:
    """``document`` (FastAPI's) corrected in place: exact integer bounds, every answer, the links."""
    _exact_integer_bounds(document)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = _PROBLEM_SCHEMA
    schemas["RateLimited"] = _RATE_LIMITED_SCHEMA
    keyed = _keyed_schemes(document)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            _every_answer(method, operation, keyed)
            for name, (target_method, target_path, parameters, body) in LINKS.get((method, path), {}).items():
                target = document["paths"][target_path][target_method]
                link: Document = {"operationId": target["operationId"], "parameters": parameters}
                if body is not None:
                    link["requestBody"] = body
                operation["responses"]["200"].setdefault("links", {})[name] = link
    # FastAPI's 422 shapes, now unused: the server answers a 400 problem instead.
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def _keyed_schemes(document: Document) -> set[str]:
    return set(document.get("components", {}).get("securitySchemes", {}))


def _every_answer(method: str, operation: Document, keyed: set[str]) -> None:
    """Document the answers the problem handlers, the body-size limit and the rate limiter give."""
    responses: Document = operation["responses"]
    responses.pop("422", None)
    statuses: list[str] = []
    takes_key = any(set(requirement) & keyed for requirement in operation.get("security", []))
    if takes_key:
        statuses += _KEYED
        statuses += ["409"] if method in _WRITES else []
        responses["429"] = {
            "description": "Rate limit exceeded; see the `Retry-After` header.",
            "headers": _RETRY_AFTER,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RateLimited"}}},
        }
    if "requestBody" in operation:
        statuses.append("413")
    for status in statuses:
        answer = responses.setdefault(status, {"description": PROBLEMS[status]})
        answer.setdefault("content", {"application/problem+json": {"schema": {"$ref": _PROBLEM}}})


def _exact_integer_bounds(node: Any) -> None:
    """Write the bounds of integer schemas as integers, within the 64 bits ids are stored in."""
    if isinstance(node, list):
        for item in node:
            _exact_integer_bounds(item)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == "integer":
        for bound in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            value = node.get(bound)
            if isinstance(value, float):
                node[bound] = max(-MAX_ID, min(MAX_ID, int(value)))
    for key, value in node.items():
        if key not in ("example", "examples"):
            _exact_integer_bounds(value)
