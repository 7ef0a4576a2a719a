"""Tenant isolation and API-key authentication over HTTP."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from opendispatch.communities.service import create_api_key
from opendispatch.settings import Settings
from tests.support import (
    Community,
    ManualClock,
    Provisioner,
    Server,
    every_row_count,
    in_process_server,
    lift_limits,
    new_911,
    new_dispatch,
)

CREATE_911 = "/v2/emergency/servers/{server}/calls/911"
CREATE_DISPATCH = "/v2/emergency/servers/{server}/dispatch-calls"
CALLS = "/v2/emergency/servers/{server}/calls"
PROBLEM_FIELDS = {"type", "title", "status", "detail", "instance", "traceId"}


@dataclass
class Tenants:
    """Community A has server 1; community B has servers 1, 2 and 3, with calls and a unit on 1 and 2."""

    a: Community
    b: Community
    b_account: dict[str, Any]
    b_units: dict[int, int]
    b_calls: dict[int, dict[str, dict[str, Any]]]


@pytest.fixture
def tenants(server: Server, provision: Provisioner) -> Tenants:
    a = provision.community("A", servers=1)
    b = provision.community("B", servers=3)
    for community in (a, b):
        lift_limits(provision, community)
    b_account = provision.account(b, "bee", community_user_id="license:bee")
    b_units = {1: provision.unit(b, b_account["uuid"], server_id=1)}
    # The same account's unit on server 2 (a unit is selected per server).
    b_units[2] = provision.unit(b, b_account["uuid"], server_id=2)
    b_calls: dict[int, dict[str, dict[str, Any]]] = {}
    with server.client(b.api_key) as http:
        for server_id in (1, 2):
            b_calls[server_id] = {
                "emergency": http.post(CREATE_911.format(server=server_id), json=new_911()).json(),
                "dispatch": http.post(
                    CREATE_DISPATCH.format(server=server_id),
                    json=new_dispatch(communityUserIds=["license:bee"]),
                ).json(),
            }
    assert b_calls[2]["dispatch"]["idents"] == [b_units[2]]
    return Tenants(a, b, b_account, b_units, b_calls)


def b_listing(server: Server, tenants: Tenants, server_id: int) -> dict[str, Any]:
    with server.client(tenants.b.api_key) as http:
        answer: dict[str, Any] = http.get(CALLS.format(server=server_id)).json()
        return answer


def comparable(response: httpx.Response, server_id: int) -> tuple[Any, ...]:
    """The parts of a problem answer that must not tell whether the server exists elsewhere."""
    problem = response.json()
    detail = re.sub(rf"(?i)(server ){server_id}\b", r"\1N", problem["detail"])
    return response.status_code, problem["type"], problem["title"], detail


# -- isolation -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("b_only_server", [2, 3])
def test_a_key_gets_404_on_the_reference_routes_of_servers_only_another_community_has(
    server: Server, provision: Provisioner, tenants: Tenants, b_only_server: int
) -> None:
    before = every_row_count(provision)
    b_before = b_listing(server, tenants, 2)
    with server.client(tenants.a.api_key) as http:
        answers = [
            http.post(CREATE_911.format(server=b_only_server), json=new_911()),
            http.post(
                CREATE_DISPATCH.format(server=b_only_server),
                json=new_dispatch(communityUserIds=["license:bee"], accounts=[tenants.b_account["uuid"]]),
            ),
            http.get(CALLS.format(server=b_only_server)),
        ]
    for response in answers:
        assert response.status_code == 404, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert set(response.json()) >= PROBLEM_FIELDS
        # Nothing of B's leaks into the answer.
        assert tenants.b.community_id not in response.text
    assert every_row_count(provision) == before
    assert b_listing(server, tenants, 2) == b_before


def test_every_server_route_answers_the_same_whether_the_server_is_another_communitys_or_nobodys(
    server: Server, provision: Provisioner, tenants: Tenants
) -> None:
    b_call = tenants.b_calls[2]
    # One body carrying what any server route may need, every value pointing at B's things.
    body = {
        **new_dispatch(),
        **new_911(),
        "communityUserIds": ["license:bee"],
        "accounts": [tenants.b_account["uuid"]],
        "identIds": [tenants.b_units[2]],
        "identId": tenants.b_units[2],
        "callIds": [b_call["dispatch"]["callId"]],
        "note": "from A",
        "noteType": "text",
        "label": "A",
        "trackPrimary": False,
        "isPanic": True,
        "updates": [{"communityUserId": "license:bee", "location": "A", "coordinates": {"x": 1, "y": 2}}],
        "templateId": 1,
        "values": {},
        # The per-server configuration routes (callouts, street signs).
        "callouts": [],
        "signs": [],
        "ids": [1],
        "coordinates": {"x": 1, "y": 2},  # a blip's
    }
    with server.client() as anonymous:
        paths = anonymous.get("/openapi.json").json()["paths"]
    routes = [
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith("/v2/emergency/servers/{serverId}")
        for method in operations
    ]
    assert len(routes) >= 3
    before = every_row_count(provision)
    b_before = {server_id: b_listing(server, tenants, server_id) for server_id in (1, 2)}
    with server.client(tenants.a.api_key) as http:
        for method, template in routes:
            call_key = "emergency" if "/calls/911/" in template else "dispatch"
            answers = {}
            for server_id in (2, 77):
                path = (
                    template.replace("{serverId}", str(server_id))
                    .replace("{callId}", str(b_call[call_key]["callId"]))
                    .replace("{blipId}", "1")
                )
                answers[server_id] = http.request(method, path, json=None if method == "GET" else body)
            assert answers[2].status_code == 404, (method, template, answers[2].text)
            assert comparable(answers[2], 2) == comparable(answers[77], 77), (method, template)
    assert every_row_count(provision) == before
    assert {server_id: b_listing(server, tenants, server_id) for server_id in (1, 2)} == b_before


def test_each_community_sees_only_its_own_calls_on_its_own_server_1(server: Server, tenants: Tenants) -> None:
    with server.client(tenants.a.api_key) as http:
        ours = http.post(CREATE_911.format(server=1), json=new_911(caller="A caller")).json()
        listing = http.get(CALLS.format(server=1)).json()
    assert listing["emergencyCalls"] == [ours]
    assert listing["activeCalls"] == listing["closedCalls"] == []
    assert listing["closedCallCount"] == 0
    theirs = b_listing(server, tenants, 1)
    assert theirs["emergencyCalls"] == [tenants.b_calls[1]["emergency"]]
    assert theirs["activeCalls"] == [tenants.b_calls[1]["dispatch"]]


def test_another_communitys_users_and_accounts_never_resolve_to_units(
    server: Server, tenants: Tenants
) -> None:
    with server.client(tenants.a.api_key) as http:
        call = http.post(
            CREATE_DISPATCH.format(server=1),
            json=new_dispatch(communityUserIds=["license:bee"], accounts=[tenants.b_account["uuid"]]),
        )
    assert call.status_code == 200, call.text
    assert call.json()["idents"] == []
    assert call.json()["primary"] == -1
    # B's unit stays on B's call.
    assert b_listing(server, tenants, 1)["activeCalls"][0]["idents"] == [tenants.b_units[1]]


def test_the_server_list_shows_only_the_keys_community(server: Server, tenants: Tenants) -> None:
    with server.client(tenants.a.api_key) as http:
        a_servers = http.get("/v2/general/servers").json()["servers"]
    with server.client(tenants.b.api_key) as http:
        b_servers = http.get("/v2/general/servers").json()["servers"]
    assert [entry["id"] for entry in a_servers] == [1]
    assert [entry["id"] for entry in b_servers] == [1, 2, 3]


# -- authentication ----------------------------------------------------------------------------------


def reference_requests(http: httpx.Client) -> list[httpx.Response]:
    return [
        http.post(CREATE_911.format(server=1), json=new_911()),
        http.post(CREATE_DISPATCH.format(server=1), json=new_dispatch()),
        http.get(CALLS.format(server=1)),
    ]


def assert_unauthorized(responses: list[httpx.Response]) -> None:
    for response in responses:
        assert response.status_code == 401, response.text
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert set(problem) >= PROBLEM_FIELDS
        assert problem["status"] == 401
        assert "key" in problem["detail"].lower()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer od_not-a-real-key"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
    ids=["no header", "empty bearer", "unknown key", "basic auth"],
)
def test_requests_without_a_valid_key_get_401_and_change_nothing(
    server: Server, provision: Provisioner, community: Community, headers: dict[str, str]
) -> None:
    before = every_row_count(provision)
    with server.client() as http:
        http.headers.update(headers)
        assert_unauthorized(reference_requests(http))
    assert every_row_count(provision) == before


def test_the_key_in_the_body_or_the_query_is_not_enough(server: Server, community: Community) -> None:
    with server.client() as http:
        body = {**new_911(), "key": community.api_key, "id": community.community_id}
        assert http.post(CREATE_911.format(server=1), json=body).status_code == 401
        assert http.get(CALLS.format(server=1), params={"key": community.api_key}).status_code == 401


def test_a_revoked_key_gets_401_at_once_while_the_communitys_other_keys_keep_working(
    uncached_server: Server, provision: Provisioner, community: Community
) -> None:
    lift_limits(provision, community)
    with provision.db.transaction() as conn:
        rotated = create_api_key(conn, community_id=community.community_id, now=provision.now())
    with uncached_server.client(community.api_key) as old:
        assert [r.status_code for r in reference_requests(old)] == [200, 200, 200]
        provision.revoke(community, community.api_key)
        before = every_row_count(provision)
        assert_unauthorized(reference_requests(old))
        assert every_row_count(provision) == before
    with uncached_server.client(rotated) as new:
        assert [r.status_code for r in reference_requests(new)] == [200, 200, 200]


def test_with_the_key_cache_on_a_revoked_key_stops_working_once_the_cache_time_passes(
    server: Server, provision: Provisioner, community: Community, clock: ManualClock
) -> None:
    lift_limits(provision, community)
    ttl = server.settings.key_cache_seconds
    assert ttl > 0  # the default: the cache is on
    with server.client(community.api_key) as http:
        assert http.get(CALLS.format(server=1)).status_code == 200
        provision.revoke(community, community.api_key)
        clock.advance(seconds=ttl - 0.01)  # the documented bound: it may still work until the TTL passes
        assert http.get(CALLS.format(server=1)).status_code == 200
        clock.advance(seconds=0.01)
        assert_unauthorized(reference_requests(http))


def test_a_revoked_key_stops_working_on_every_process_within_the_cache_time(
    settings: Settings, provision: Provisioner, community: Community
) -> None:
    # Two server processes over one database, each with its own key cache (and clock, to move it).
    lift_limits(provision, community)
    ttl = settings.key_cache_seconds
    clocks = [ManualClock(), ManualClock()]
    with in_process_server(settings, clocks[0]) as one, in_process_server(settings, clocks[1]) as two:
        clients = [one.client(community.api_key), two.client(community.api_key)]
        for http in clients:
            assert http.get(CALLS.format(server=1)).status_code == 200  # now cached in both
        provision.revoke(community, community.api_key)
        for clock in clocks:
            clock.advance(seconds=ttl)
        for http in clients:
            assert_unauthorized(reference_requests(http))
            http.close()
