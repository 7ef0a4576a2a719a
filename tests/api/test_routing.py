"""The compiled handlers of ``api.routing`` answer exactly as FastAPI's own handlers of the same routes.

Every operation is documented by FastAPI from its signature but served by a handler compiled from the
same declaration; here both handlers of every route get the same requests, good and bad, and must give
the same status and body. This is what keeps the documented and the served behaviour one.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi.routing import APIRoute

from opendispatch.accounts import routes as account_routes
from opendispatch.admin import member_routes
from opendispatch.admin import routes as admin_routes
from opendispatch.admin import server_routes as admin_server_routes
from opendispatch.api.routing import Operation, compile_handler
from opendispatch.app import create_app
from opendispatch.calls import routes as call_routes
from opendispatch.communities import routes as community_routes
from opendispatch.events import routes as event_routes
from opendispatch.maps import routes as map_routes
from opendispatch.ops import routes as ops_routes
from opendispatch.settings import Settings
from opendispatch.units import routes as unit_routes
from opendispatch.web import routes as web_routes
from tests.support import Community, Provisioner

ROUTERS = [
    call_routes.router,
    community_routes.router,
    unit_routes.router,
    account_routes.router,
    event_routes.router,
    map_routes.router,
    ops_routes.router,
    web_routes.router,
    web_routes.console,
    admin_routes.admin,
    member_routes.members,
    admin_server_routes.servers,
]
# Endless streams keep FastAPI's handler (header parameters); everything else is compiled.
STREAMS = {"/v2/emergency/servers/{serverId}/events", "/console/api/servers/{serverId}/events"}

BAD_IDS = ["abc", "1.5", "99999999999999999999", "-9223372036854775808", "0"]
BAD_QUERY = ["abc", "-5", "100000", "true", ""]
BAD_BODIES: list[bytes | None] = [
    None,
    b"",
    b"not json",
    b"[]",
    b'"text"',
    b"{}",
    b'{"unknownField": 1}',
    b'{"callIds": "x", "identIds": [{}], "status": "busy", "note": 5, "metaData": [[1]]}',
    b'{"isEmergency": "maybe", "caller": 1, "location": null, "description": []}',
    b'{"note": "\\ud800"}',
]


def operations() -> Iterator[Operation]:
    for router in ROUTERS:
        for route in router.routes:
            if isinstance(route, Operation):
                yield route


def test_every_operation_but_the_streams_is_served_by_a_compiled_handler() -> None:
    routes = list(operations())
    assert len(routes) >= 30
    for route in routes:
        compiled = compile_handler(route.dependant, route.status_code)
        assert (compiled is None) == (route.path in STREAMS), route.path


def requests_for(route: APIRoute) -> list[tuple[str, str, bytes | None]]:
    """Good and bad requests for one route: bad path ids, bad query values, bad bodies."""
    method = sorted(route.methods)[0]
    names = re.findall(r"{(\w+)}", route.path)

    def path(**values: str) -> str:
        filled = route.path
        for name in names:
            filled = filled.replace("{" + name + "}", values.get(name, "1"))
        return filled

    sent: list[tuple[str, str, bytes | None]] = [(method, path(), b"{}")]
    for name in names:
        sent += [(method, path(**{name: bad}), b"{}") for bad in BAD_IDS]
    for param in route.dependant.query_params:
        sent += [(method, f"{path()}?{param.alias}={value}", None) for value in BAD_QUERY]
    if route.dependant.body_params:
        sent += [(method, path(), body) for body in BAD_BODIES]
        sent += [(method, path(serverId="abc"), b"[]")]  # a bad path and a bad body: both named
    return sent


async def answers(settings: Settings, key: str, sent: list[tuple[str, str, bytes | None]]) -> list[Any]:
    app = create_app(settings)
    found = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            for auth in ({}, {"Authorization": f"Bearer {key}"}):
                for method, url, body in sent:
                    headers = {**auth, "Content-Type": "application/json"} if body is not None else auth
                    answer = await http.request(method, url, content=body, headers=headers)
                    found.append((method, url, body, answer.status_code, _comparable(answer)))
    return found


def _comparable(answer: httpx.Response) -> Any:
    if "json" not in answer.headers.get("content-type", ""):
        return answer.content
    body = orjson.loads(answer.content)
    if isinstance(body, dict):
        body.pop("traceId", None)  # random per answer
    return body


@pytest.fixture
def parity_settings(tmp_path: Path) -> Settings:
    # Limits off: each app would count the same requests, but only the answers are compared here.
    return Settings(database_url=f"sqlite:///{tmp_path / 'parity.db'}", rate_limits_enabled=False)


def test_compiled_and_fastapi_handlers_answer_every_request_alike(
    parity_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    provision = Provisioner(parity_settings.database_url)
    try:
        community: Community = provision.community("Parity", servers=1)
    finally:
        provision.close()
    sent = [request for route in operations() if route.path not in STREAMS for request in requests_for(route)]
    assert len(sent) > 300

    served = asyncio.run(answers(parity_settings, community.api_key, sent))
    # The same routes with FastAPI's own handler: what its documentation of them promises.
    monkeypatch.setattr(Operation, "get_route_handler", APIRoute.get_route_handler)
    documented = asyncio.run(answers(parity_settings, community.api_key, sent))

    assert len(served) == len(documented)
    differing = [(ours, theirs) for ours, theirs in zip(served, documented, strict=True) if ours != theirs]
    # The one difference, on purpose: who is calling is checked first, so a request without credentials
    # gets 401 even when its body is not JSON (FastAPI parses the body before its dependencies).
    unreadable = [pair for pair in differing if pair[0][2] == b"not json"]
    assert {(ours[3], theirs[3]) for ours, theirs in unreadable} <= {(401, 400)}
    assert [pair for pair in differing if pair not in unreadable] == []
    statuses = {status for *_request, status, _body in served}
    assert {400, 401, 404}.issubset(statuses)  # the requests did reach every kind of refusal
