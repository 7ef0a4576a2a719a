"""HTTP conventions shared by every route: problem answers, wrong methods, unknown routes."""

from __future__ import annotations

import json

import pytest

from tests.support import Community, Provisioner, Server, every_row_count, new_911

PROBLEM_FIELDS = {"type", "title", "status", "detail", "instance", "traceId"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/v2/emergency/servers/1/calls/911"),
        ("GET", "/v2/emergency/servers/1/calls/911"),
        ("POST", "/v2/emergency/servers/1/calls"),
        ("PUT", "/v2/emergency/servers/1/dispatch-calls"),
    ],
)
def test_a_wrong_method_gets_405_as_a_problem(
    server: Server, provision: Provisioner, community: Community, method: str, path: str
) -> None:
    before = every_row_count(provision)
    with server.client(community.api_key) as http:
        response = http.request(method, path, json=new_911())
    assert response.status_code == 405, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert set(problem) >= PROBLEM_FIELDS
    assert problem["status"] == 405
    assert problem["title"] == "Method Not Allowed"
    assert problem["instance"] == path
    assert every_row_count(provision) == before


def test_a_problem_answer_has_every_rfc_9457_field_and_a_fresh_trace_id(
    server: Server, community: Community
) -> None:
    with server.client(community.api_key) as http:
        first = http.post("/v2/emergency/servers/1/calls/911", json=new_911(caller=None))
        second = http.post("/v2/emergency/servers/1/calls/911", json=new_911(caller=None))
    for response in (first, second):
        assert response.status_code == 400
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert set(problem) >= PROBLEM_FIELDS
        assert isinstance(problem["type"], str) and problem["type"]
        assert problem["title"] == "Bad Request"
        assert problem["status"] == 400
        assert "caller" in problem["detail"]
        assert problem["instance"] == "/v2/emergency/servers/1/calls/911"
        assert isinstance(problem["traceId"], str) and problem["traceId"]
    assert first.json()["traceId"] != second.json()["traceId"]


def test_an_unknown_route_gets_404_as_a_problem(server: Server, community: Community) -> None:
    with server.client(community.api_key) as http:
        response = http.get("/v2/emergency/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert set(response.json()) >= PROBLEM_FIELDS


@pytest.mark.parametrize(("size", "status"), [(65_536, 200), (65_537, 413)])
def test_the_body_size_limit_is_exact(
    server: Server, provision: Provisioner, community: Community, size: int, status: int
) -> None:
    # JSON allows any amount of whitespace: pad a valid body to exactly `size` bytes.
    body = json.dumps(new_911()).encode()
    body += b" " * (size - len(body))
    assert len(body) == size == server.settings.max_body_bytes + (status == 413)
    before = every_row_count(provision)
    with server.client(community.api_key) as http:
        response = http.post(
            "/v2/emergency/servers/1/calls/911", content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code == status, response.text
    if status == 413:
        assert response.headers["content-type"] == "application/problem+json"
        assert every_row_count(provision) == before
