"""The route class every operation is declared with: FastAPI documents it, a compiled handler serves it.

FastAPI re-inspects each route's dependencies on every request, which cost about 35 µs a request here,
a third of a create. Our routes take only a request, path and query parameters, one JSON body model and
dependencies that read the request (the caller); for that shape ``Operation`` builds a handler once, at
start-up, from the very ``Dependant`` FastAPI built for the OpenAPI document, so what is documented is
what is served: path and query parameters go through FastAPI's own validation, the body through its
model (``read_body``), and a model returned by the endpoint is written once by pydantic's serializer.
A route of any other shape (a header parameter, a streaming answer) keeps FastAPI's own handler.
``tests/api/test_routing.py`` sends the same requests through both handlers of every route.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_params_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel
from starlette._utils import get_route_path
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

from opendispatch.api.bodies import read_body

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class Operation(APIRoute):
    """An ``APIRoute`` served by a handler compiled for its parameters when they are of the plain shape."""

    # Paths of the routes that have a literal segment where this one has a parameter (set by
    # ``prefer_literal_segments``): a request for one of them is never this route's.
    literal_siblings: tuple[re.Pattern[str], ...] = ()

    def get_route_handler(self) -> Handler:
        """The compiled handler, or FastAPI's own when the route is of another shape."""
        return compile_handler(self.dependant, self.status_code) or super().get_route_handler()

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """Starlette's match, but no match at all for a path a route with a literal segment there owns."""
        match, child = super().matches(scope)
        if match is not Match.NONE and self.literal_siblings:
            path = get_route_path(scope)
            if any(sibling.match(path) for sibling in self.literal_siblings):
                return Match.NONE, {}
        return match, child


def prefer_literal_segments(routes: Iterable[BaseRoute]) -> None:
    """Give each path to its most literal route, whatever the method.

    ``PATCH .../dispatch-calls/close`` is a 405 (the path is Close Dispatch Calls', POST only), not a
    400 about the call id ``close`` of ``PATCH .../dispatch-calls/{callId}``.
    """
    plain = _plain_routes(routes)
    for route in plain:
        if isinstance(route, Operation):
            route.literal_siblings = tuple(
                other.path_regex for other in plain if _more_literal(other.path, route.path)
            )


def _more_literal(path: str, than: str) -> bool:
    """Whether ``path`` has the segments of ``than`` with a literal in place of at least one parameter."""
    mine, theirs = path.split("/"), than.split("/")
    if len(mine) != len(theirs) or path == than:
        return False
    literal_for_param = False
    for segment, other in zip(mine, theirs, strict=True):
        if segment == other:
            continue
        if not other.startswith("{") or segment.startswith("{"):
            return False
        literal_for_param = True
    return literal_for_param


def allowed_methods(scope: Scope, routes: Iterable[BaseRoute]) -> list[str]:
    """Every method some route serves at the scope's path (the ``Allow`` of a 405)."""
    allowed: set[str] = set()
    for route in _plain_routes(routes):
        if route.methods and route.matches(scope)[0] is not Match.NONE:
            allowed |= route.methods
    return sorted(allowed)


def _plain_routes(routes: Iterable[BaseRoute]) -> list[Route]:
    """The HTTP routes, those of included routers too (FastAPI keeps an included router whole)."""
    found = (context.original_route for context in iter_route_contexts(list(routes)))
    return [route for route in found if isinstance(route, Route)]


def compile_handler(dependant: Dependant, status_code: int | None) -> Handler | None:
    """A handler for ``dependant`` that solves its parameters without FastAPI's per-request inspection."""
    endpoint = dependant.call
    if endpoint is None or not inspect.iscoroutinefunction(endpoint) or not _plain(dependant):
        return None
    callers = [(sub.name, _request_reader(sub)) for sub in dependant.dependencies]
    if any(reader is None for _name, reader in callers):
        return None
    body_model = _body_model(dependant)
    if dependant.body_params and body_model is None:
        return None
    body_name = dependant.body_params[0].name if body_model is not None else None
    path_params, query_params = dependant.path_params, dependant.query_params
    request_name = dependant.request_param_name
    answer_status = status_code or 200

    async def handle(request: Request) -> Response:
        # Dependencies (who is calling) first: a bad key is a 401 whatever else is wrong.
        values: dict[str, Any] = {}
        for name, reader in callers:
            assert name is not None and reader is not None
            values[name] = await reader(request)
        path_values, errors = request_params_to_args(path_params, request.path_params)
        query_values, query_errors = request_params_to_args(query_params, request.query_params)
        errors += query_errors
        if body_model is not None:
            assert body_name is not None
            try:
                values[body_name] = await read_body(request, body_model)
            except RequestValidationError as exc:
                errors += exc.errors()  # one answer names every bad field, as FastAPI's does
        if errors:
            raise RequestValidationError(errors)
        values.update(path_values)
        values.update(query_values)
        if request_name is not None:
            values[request_name] = request
        answer = await endpoint(**values)
        if isinstance(answer, Response):
            return answer
        assert isinstance(answer, BaseModel), f"{endpoint.__name__} answered {type(answer).__name__}"
        return Response(
            answer.__pydantic_serializer__.to_json(answer), answer_status, media_type="application/json"
        )

    return handle


def _plain(dependant: Dependant) -> bool:
    """Whether the route takes nothing the compiled handler does not solve."""
    return not (
        dependant.header_params
        or dependant.cookie_params
        or dependant.websocket_param_name
        or dependant.http_connection_param_name
        or dependant.response_param_name
        or dependant.background_tasks_param_name
        or dependant.security_scopes_param_name
        or len(dependant.body_params) > 1
    )


def _request_reader(sub: Dependant) -> Callable[[Request], Awaitable[Any]] | None:
    """The dependency as ``await call(request)``, if that is all it takes."""
    call = sub.call
    if call is None or sub.name is None or sub.dependencies or not _plain(sub):
        return None
    if sub.path_params or sub.query_params or sub.body_params or sub.request_param_name is None:
        return None
    if not (inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(type(call).__call__)):
        return None
    return call


def _body_model(dependant: Dependant) -> type[BaseModel] | None:
    """The pydantic model of the route's one JSON body parameter, if it has one."""
    if len(dependant.body_params) != 1:
        return None
    annotation = dependant.body_params[0].field_info.annotation
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return annotation
    return None
