"""Every bad input gets a 4xx problem answer that names the problem, and changes nothing.

One server for the whole module: each case checks that the database is exactly as it was before it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from opendispatch.api.limits import DEFAULT_LIMITS
from opendispatch.settings import Settings
from tests.support import (
    Community,
    LiveServer,
    Provisioner,
    every_row_count,
    lift_limits,
    live_server,
    new_911,
    new_dispatch,
    without,
)

CREATE_911 = "/v2/emergency/servers/1/calls/911"
CREATE_DISPATCH = "/v2/emergency/servers/1/dispatch-calls"
CALLS = "/v2/emergency/servers/1/calls"
PROBLEM_FIELDS = {"type", "title", "status", "detail", "instance", "traceId"}
HUGE = 10**20  # beyond any 64-bit integer


@dataclass
class World:
    server: LiveServer
    provision: Provisioner
    community: Community

    def last_call_id(self) -> int:
        value: int = self.provision.scalar(
            f"SELECT last_call_id FROM communities WHERE community_id = '{self.community.community_id}'"
        )
        return value

    def state(self) -> tuple[dict[str, int], int]:
        return every_row_count(self.provision), self.last_call_id()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('bad-input')) / 'opendispatch.db'}"
    provision = Provisioner(url)
    community = provision.community("Alpha", servers=2)
    lift_limits(provision, community)
    for endpoint in DEFAULT_LIMITS:
        provision.set_limit(community, endpoint, 10_000)
    # Something on record already, so "unchanged" is not just "still empty".
    player = provision.account(community, "player", community_user_id="player-1234")
    provision.unit(community, player["uuid"])
    with live_server(Settings(database_url=url)) as server:
        with server.client(community.api_key) as http:
            assert http.post(CREATE_911, json=new_911()).status_code == 200
            body = new_dispatch(communityUserIds=["player-1234"], notes=[{"content": "seed"}])
            assert http.post(CREATE_DISPATCH, json=body).status_code == 200
        yield World(server, provision, community)
    provision.close()


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    status: int
    names: str  # what the problem's detail (and errors, for 400) must name
    body: Any = None  # a dict or list is sent as JSON, bytes as they are, a callable's chunks streamed
    params: dict[str, Any] | None = None
    headers: dict[str, str] | None = None


def post(path: str, body: Any, status: int, names: str) -> Case:
    return Case("POST", path, status, names, body=body)


def get(params: dict[str, Any], status: int, names: str, path: str = CALLS) -> Case:
    return Case("GET", path, status, names, params=params)


JSON = {"content-type": "application/json"}


def chunks(size: int) -> Iterator[bytes]:
    # No Content-Length: the server has to count the bytes as they come.
    yield b'{"isEmergency": true, "caller": "c", "location": "l", "description": "'
    for _ in range(size // 4096 + 1):
        yield b"x" * 4096
    yield b'"}'


CASES_911: dict[str, Case] = {
    **{
        f"911 without {name}": post(CREATE_911, without(new_911(), name), 400, name)
        for name in ("isEmergency", "caller", "location", "description")
    },
    "911 isEmergency as a string": post(CREATE_911, new_911(isEmergency="true"), 400, "isEmergency"),
    "911 isEmergency as a number": post(CREATE_911, new_911(isEmergency=1), 400, "isEmergency"),
    "911 caller as a number": post(CREATE_911, new_911(caller=5), 400, "caller"),
    "911 caller null": post(CREATE_911, new_911(caller=None), 400, "caller"),
    "911 caller too long": post(CREATE_911, new_911(caller="x" * 256), 400, "caller"),
    "911 caller with a lone surrogate": Case(
        "POST",
        CREATE_911,
        400,
        "caller",
        body=b'{"isEmergency": true, "caller": "\\ud800", "location": "l", "description": "d"}',
        headers=JSON,
    ),
    "911 body not UTF-8": Case("POST", CREATE_911, 400, "JSON", body=b"\xff\xfe{}", headers=JSON),
    "911 location as an array": post(CREATE_911, new_911(location=["x"]), 400, "location"),
    "911 description as an object": post(CREATE_911, new_911(description={"a": 1}), 400, "description"),
    "911 metaData nested object": post(CREATE_911, new_911(metaData={"a": {"b": "c"}}), 400, "metaData"),
    "911 metaData nested array": post(CREATE_911, new_911(metaData={"a": ["b"]}), 400, "metaData"),
    "911 metaData an array": post(CREATE_911, new_911(metaData=[{"a": "b"}]), 400, "metaData"),
    "911 metaData a string": post(CREATE_911, new_911(metaData="x=1"), 400, "metaData"),
    "911 metaData value null": post(CREATE_911, new_911(metaData={"a": None}), 400, "metaData"),
    "911 deleteAfterMinutes zero": post(CREATE_911, new_911(deleteAfterMinutes=0), 400, "deleteAfterMinutes"),
    "911 deleteAfterMinutes negative": post(
        CREATE_911, new_911(deleteAfterMinutes=-5), 400, "deleteAfterMinutes"
    ),
    "911 deleteAfterMinutes fractional": post(
        CREATE_911, new_911(deleteAfterMinutes=1.5), 400, "deleteAfterMinutes"
    ),
    "911 deleteAfterMinutes a string": post(
        CREATE_911, new_911(deleteAfterMinutes="15"), 400, "deleteAfterMinutes"
    ),
    "911 metaData with 65 keys": post(
        CREATE_911, new_911(metaData={f"k{n}": "v" for n in range(65)}), 400, "metaData"
    ),
    "911 metaData key of 65 characters": post(CREATE_911, new_911(metaData={"k" * 65: "v"}), 400, "metaData"),
    "911 metaData value of 1025 characters": post(
        CREATE_911, new_911(metaData={"k": "v" * 1025}), 400, "metaData"
    ),
    "911 deleteAfterMinutes over a year": post(
        CREATE_911, new_911(deleteAfterMinutes=525_601), 400, "deleteAfterMinutes"
    ),
    "911 location too long": post(CREATE_911, new_911(location="x" * 1025), 400, "location"),
    "911 description too long": post(CREATE_911, new_911(description="x" * 10_001), 400, "description"),
    "911 unknown server": post("/v2/emergency/servers/9/calls/911", new_911(), 404, "9"),
    "911 server id beyond 64 bits": post(
        f"/v2/emergency/servers/{HUGE}/calls/911", new_911(), 400, "serverId"
    ),
    "911 server id not a number": post("/v2/emergency/servers/one/calls/911", new_911(), 400, "serverId"),
    "911 malformed JSON": Case("POST", CREATE_911, 400, "JSON", body=b'{"isEmergency": true,', headers=JSON),
    "911 body a JSON array": post(CREATE_911, [new_911()], 400, "object"),
    "911 empty body": Case("POST", CREATE_911, 400, "body", body=b"", headers=JSON),
    "911 body over the size limit": post(CREATE_911, new_911(description="x" * 70_000), 413, "65536 bytes"),
    "911 body over the size limit, chunked": Case(
        "POST", CREATE_911, 413, "65536 bytes", body=lambda: chunks(70_000), headers=JSON
    ),
}

REQUIRED_DISPATCH = (
    "origin",
    "status",
    "priority",
    "block",
    "address",
    "postal",
    "title",
    "code",
    "description",
    "notes",
)

CASES_DISPATCH: dict[str, Case] = {
    **{
        f"dispatch without {name}": post(CREATE_DISPATCH, without(new_dispatch(), name), 400, name)
        for name in REQUIRED_DISPATCH
    },
    "dispatch without any targets": post(
        CREATE_DISPATCH, without(new_dispatch(), "communityUserIds"), 400, "communityUserIds"
    ),
    "dispatch origin as a string": post(CREATE_DISPATCH, new_dispatch(origin="0"), 400, "origin"),
    "dispatch origin unknown": post(CREATE_DISPATCH, new_dispatch(origin=4), 400, "origin"),
    "dispatch origin negative": post(CREATE_DISPATCH, new_dispatch(origin=-1), 400, "origin"),
    "dispatch status a boolean": post(CREATE_DISPATCH, new_dispatch(status=True), 400, "status"),
    "dispatch status unknown": post(CREATE_DISPATCH, new_dispatch(status=3), 400, "status"),
    "dispatch priority fractional": post(CREATE_DISPATCH, new_dispatch(priority=1.5), 400, "priority"),
    "dispatch block as a number": post(CREATE_DISPATCH, new_dispatch(block=100), 400, "block"),
    "dispatch address null": post(CREATE_DISPATCH, new_dispatch(address=None), 400, "address"),
    "dispatch title as an array": post(CREATE_DISPATCH, new_dispatch(title=["t"]), 400, "title"),
    "dispatch notes a string": post(CREATE_DISPATCH, new_dispatch(notes="note"), 400, "notes"),
    "dispatch note without content": post(
        CREATE_DISPATCH, new_dispatch(notes=[{"label": "x"}]), 400, "notes.0.content"
    ),
    "dispatch note with a bad time": post(
        CREATE_DISPATCH, new_dispatch(notes=[{"content": "c", "time": "yesterday"}]), 400, "notes.0.time"
    ),
    "dispatch note time past year 9999 in UTC": post(
        CREATE_DISPATCH,
        new_dispatch(notes=[{"content": "c", "time": "9999-12-31T23:59:59-12:00"}]),
        400,
        "notes.0.time",
    ),
    "dispatch note time before year 1 in UTC": post(
        CREATE_DISPATCH,
        new_dispatch(notes=[{"content": "c", "time": "0001-01-01T00:00:00+14:00"}]),
        400,
        "notes.0.time",
    ),
    "dispatch communityUserIds a number": post(
        CREATE_DISPATCH, new_dispatch(communityUserIds=5), 400, "communityUserIds"
    ),
    "dispatch communityUserIds of numbers": post(
        CREATE_DISPATCH, new_dispatch(communityUserIds=[5]), 400, "communityUserIds"
    ),
    "dispatch accounts of numbers": post(CREATE_DISPATCH, new_dispatch(accounts=[1]), 400, "accounts"),
    "dispatch metaData nested": post(
        CREATE_DISPATCH, new_dispatch(metaData={"a": {"b": 1}}), 400, "metaData"
    ),
    "dispatch deleteAfterMinutes zero": post(
        CREATE_DISPATCH, new_dispatch(deleteAfterMinutes=0), 400, "deleteAfterMinutes"
    ),
    "dispatch deleteAfterMinutes negative": post(
        CREATE_DISPATCH, new_dispatch(deleteAfterMinutes=-1), 400, "deleteAfterMinutes"
    ),
    "dispatch postal too long": post(CREATE_DISPATCH, new_dispatch(postal="9" * 65), 400, "postal"),
    "dispatch 101 notes": post(CREATE_DISPATCH, new_dispatch(notes=[{"content": "n"}] * 101), 400, "notes"),
    "dispatch 101 communityUserIds": post(
        CREATE_DISPATCH, new_dispatch(communityUserIds=[f"u{n}" for n in range(101)]), 400, "communityUserIds"
    ),
    "dispatch unknown server": post("/v2/emergency/servers/3/dispatch-calls", new_dispatch(), 404, "3"),
    "dispatch server id beyond 64 bits": post(
        f"/v2/emergency/servers/{HUGE}/dispatch-calls", new_dispatch(), 400, "serverId"
    ),
    "dispatch malformed JSON": Case("POST", CREATE_DISPATCH, 400, "JSON", body=b"{origin: 0}", headers=JSON),
    "dispatch body over the size limit": post(
        CREATE_DISPATCH, new_dispatch(notes=[{"content": "x" * 9_000}] * 8), 413, "65536 bytes"
    ),
}

CASES_GET: dict[str, Case] = {
    "get closedLimit over 100": get({"closedLimit": 101}, 400, "closedLimit"),
    "get closedLimit negative": get({"closedLimit": -1}, 400, "closedLimit"),
    "get closedLimit not a number": get({"closedLimit": "ten"}, 400, "closedLimit"),
    "get closedOffset negative": get({"closedOffset": -1}, 400, "closedOffset"),
    "get closedOffset not a number": get({"closedOffset": "x"}, 400, "closedOffset"),
    "get type unknown number": get({"type": 2}, 400, "type"),
    "get type unknown name": get({"type": "everything"}, 400, "type"),
    "get unknown server": get({}, 404, "7", path="/v2/emergency/servers/7/calls"),
    "get server id beyond 64 bits": get({}, 400, "serverId", path=f"/v2/emergency/servers/{HUGE}/calls"),
}

DISPATCH_2 = "/v2/emergency/servers/1/dispatch-calls/2"  # the world's dispatch call
CUSTOM = "/v2/emergency/servers/1/custom-dispatch-calls"


def patch(path: str, body: Any, status: int, names: str) -> Case:
    return Case("PATCH", path, status, names, body=body)


CASES_CALL_CHANGES: dict[str, Case] = {
    "patch primary as a string": patch(DISPATCH_2, {"primary": "1"}, 400, "primary"),
    "patch primary below -1": patch(DISPATCH_2, {"primary": -2}, 400, "primary"),
    "patch primary beyond 64 bits": patch(DISPATCH_2, {"primary": HUGE}, 400, "primary"),
    "patch trackPrimary as a string": patch(DISPATCH_2, {"trackPrimary": "true"}, 400, "trackPrimary"),
    "patch primary not attached": patch(DISPATCH_2, {"primary": 999, "title": "x"}, 409, "999"),
    "patch metaData a non-empty array": patch(DISPATCH_2, {"metaData": [{"a": "b"}]}, 400, "metaData"),
    "note empty": post(f"{DISPATCH_2}/notes", {"note": ""}, 400, "note"),
    "note missing": post(f"{DISPATCH_2}/notes", {"label": "x"}, 400, "note"),
    "note type too long": post(f"{DISPATCH_2}/notes", {"note": "n", "noteType": "x" * 33}, 400, "noteType"),
    "note type empty": post(f"{DISPATCH_2}/notes", {"note": "n", "noteType": ""}, 400, "noteType"),
    "postal as a number": patch(f"{DISPATCH_2}/postal", {"postal": 9001}, 400, "postal"),
    "postal too long": patch(f"{DISPATCH_2}/postal", {"postal": "9" * 65}, 400, "postal"),
    "primary missing identId": patch(f"{DISPATCH_2}/primary", {"trackPrimary": True}, 400, "identId"),
    "custom without templateId": post(CUSTOM, {"values": {}, "identIds": [1]}, 400, "templateId"),
    "custom templateId as a string": post(CUSTOM, {"templateId": "1", "values": {}}, 400, "templateId"),
    "custom values an array": post(CUSTOM, {"templateId": 1, "values": ["x"]}, 400, "values"),
    "custom values nested": post(CUSTOM, {"templateId": 1, "values": {"a": {"b": 1}}}, 400, "values"),
    "custom 201 values": post(
        CUSTOM, {"templateId": 1, "values": {f"v{n}": "x" for n in range(201)}}, 400, "values"
    ),
    "custom unknown template": post(
        CUSTOM, {"templateId": 9, "values": {}, "identIds": [1]}, 404, "template 9"
    ),
    "custom on an unknown server": post(
        "/v2/emergency/servers/3/custom-dispatch-calls", {"templateId": 1, "values": {}}, 404, "3"
    ),
    "current call of an unknown account": Case(
        "GET", "/v2/emergency/accounts/nobody/current-call", 404, "nobody"
    ),
    "template that does not exist": Case("GET", "/v2/emergency/dispatch-templates/4", 404, "4"),
    "template id not a number": Case("GET", "/v2/emergency/dispatch-templates/x", 400, "templateId"),
}

CASES = {**CASES_911, **CASES_DISPATCH, **CASES_GET, **CASES_CALL_CHANGES}


def send(world: World, case: Case) -> Any:
    with world.server.client(world.community.api_key) as http:
        if isinstance(case.body, dict | list):
            return http.request(case.method, case.path, json=case.body, params=case.params)
        content = case.body() if callable(case.body) else case.body
        return http.request(case.method, case.path, content=content, params=case.params, headers=case.headers)


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_bad_input_gets_a_4xx_naming_the_problem_and_changes_nothing(world: World, case: Case) -> None:
    before = world.state()
    response = send(world, case)
    assert response.status_code == case.status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert set(problem) >= PROBLEM_FIELDS
    assert problem["status"] == case.status
    assert case.names in problem["detail"]
    if case.status == 400:
        assert any(case.names in error["field"] + error["message"] for error in problem["errors"])
    assert world.state() == before


def test_every_offending_field_is_named(world: World) -> None:
    before = world.state()
    body = new_911(isEmergency="yes", caller=None, deleteAfterMinutes=0, metaData={"a": [1]})
    del body["location"]
    response = send(world, post(CREATE_911, body, 400, ""))
    assert response.status_code == 400
    named = {error["field"] for error in response.json()["errors"]}
    assert {"isEmergency", "caller", "location", "deleteAfterMinutes", "metaData"} <= named
    assert world.state() == before


def test_a_closed_offset_beyond_64_bits_is_not_a_server_error(world: World) -> None:
    response = send(world, get({"closedOffset": HUGE}, 400, "closedOffset"))
    # Either refused as invalid or answered with an empty page; never a 500.
    if response.status_code == 200:
        assert response.json()["closedCalls"] == []
    else:
        assert response.status_code == 400, response.text
        assert "closedOffset" in response.json()["detail"]


def test_a_bad_request_does_not_break_the_next_good_one(world: World) -> None:
    before_id = world.last_call_id()
    assert send(world, CASES["911 malformed JSON"]).status_code == 400
    assert send(world, CASES["911 body over the size limit, chunked"]).status_code == 413
    with world.server.client(world.community.api_key) as http:
        created = http.post(CREATE_911, json=new_911())
    assert created.status_code == 200, created.text
    assert created.json()["callId"] > before_id
