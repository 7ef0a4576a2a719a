"""Every way a v1 request is refused: the four strings of the reference, bad items, failing items, limits.

Every refusal is plain text with the exact line docs/v1.md gives, and leaves nothing behind: no row, no
history entry, no change v2 can see, and (for a multi-item request) none of its other items either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from opendispatch.communities.schemas import Plan
from opendispatch.communities.service import create_api_key
from tests.legacy.v1 import S1, SDK_HEADERS, envelope, sdk_body, set_community
from tests.support import Community, Provisioner, Server

CALL = {"serverId": 1, "isEmergency": True, "caller": "Jane", "location": "Alta St", "description": "Fire"}


@dataclass
class Scene:
    server: Server
    provision: Provisioner
    community: Community
    other: Community
    v1: httpx.Client
    v2: httpx.Client
    revoked_key: str = ""

    def snapshot(self) -> dict[str, Any]:
        """Everything a refused request must leave as it was."""
        return {
            "rows": self.provision.row_counts(),
            "history": self.provision.scalar("SELECT count(*) FROM call_history"),
            "board": _read(self.v2.get(f"{S1}/calls")),
            "units": _read(self.v2.get(f"{S1}/units", params={"includeOffline": "true"})),
        }


def _read(answer: httpx.Response) -> Any:
    # With the API switched off v2 refuses too (403, a problem with its own request id): the row counts
    # above still show that nothing changed.
    return answer.json() if answer.status_code == 200 else answer.status_code


@pytest.fixture
def scene(server: Server, provision: Provisioner, community: Community) -> Iterator[Scene]:
    other = provision.community("Bravo", servers=1)
    for endpoint in ("get_calls", "get_units"):  # the snapshots read through v2
        provision.set_limit(community, endpoint, 10_000)
    account = provision.account(community, "officer0", "license:0")
    provision.unit(community, account["uuid"])
    with server.client() as v1, server.client(community.api_key) as v2:
        v1.headers.update(SDK_HEADERS)
        yield Scene(server, provision, community, other, v1, v2)


def assert_refused(scene: Scene, send: Callable[[], httpx.Response], status: int, text: str) -> None:
    before = scene.snapshot()
    answer = send()
    assert (answer.status_code, answer.text) == (status, text)
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    assert scene.snapshot() == before


# -- the four errors of the reference --------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    id: str
    text: str
    request: Callable[[Scene], tuple[str, Any]]
    setup: Callable[[Scene], None] | None = None


def call_911(scene: Scene, **changes: Any) -> tuple[str, Any]:
    body = envelope(scene.community, "CALL_911", [CALL])
    body.update(changes)
    return "/emergency/call_911", {key: value for key, value in body.items() if value is not None}


def revoke(scene: Scene) -> None:
    # A second key, so the snapshots can still read through v2 with the first.
    with scene.provision.db.transaction() as conn:
        scene.revoked_key = create_api_key(conn, community_id=scene.community.community_id, now=0)
    scene.provision.revoke(scene.community, scene.revoked_key)


def invalid_type(path: str, **changes: Any) -> Callable[[Scene], tuple[str, Any]]:
    return lambda scene: (path, call_911(scene, **changes)[1])


def with_fields(**changes: Any) -> Callable[[Scene], tuple[str, Any]]:
    return lambda scene: call_911(scene, **changes)


REFUSALS = [
    Refusal("unknown type", "INVALID REQUEST TYPE", invalid_type("/emergency/call_912", type="CALL_912")),
    Refusal(
        "body and path differ", "INVALID REQUEST TYPE", invalid_type("/emergency/call_911", type="REMOVE_911")
    ),
    Refusal("type in the wrong area", "INVALID REQUEST TYPE", invalid_type("/general/call_911")),
    Refusal(
        "a civilian type",
        "INVALID REQUEST TYPE",
        invalid_type("/civilian/get_characters", type="GET_CHARACTERS"),
    ),
    Refusal("no type at all", "INVALID REQUEST TYPE", invalid_type("/emergency", type=None)),
    Refusal(
        "no such type, bad key", "INVALID REQUEST TYPE", invalid_type("/emergency/nope", type="NOPE", key="x")
    ),
    Refusal("unknown community", "INVALID COMMUNITY ID", with_fields(id="no-such-community")),
    Refusal("no community id", "INVALID COMMUNITY ID", with_fields(id=None)),
    Refusal("empty community id", "INVALID COMMUNITY ID", with_fields(id="")),
    Refusal("unknown community, bad key", "INVALID COMMUNITY ID", with_fields(id="nope", key="bad")),
    Refusal("wrong key", "INVALID API KEY", with_fields(key="od_not-a-key")),
    Refusal("no key", "INVALID API KEY", with_fields(key=None)),
    Refusal("another community's key", "INVALID API KEY", lambda s: call_911(s, key=s.other.api_key)),
    Refusal("revoked key", "INVALID API KEY", lambda s: call_911(s, key=s.revoked_key), setup=revoke),
    Refusal(
        "API switched off",
        "API IS NOT ENABLED FOR THIS COMMUNITY",
        call_911,
        setup=lambda s: set_community(s.provision, s.community, api_enabled=False),
    ),
    Refusal(
        "API switched off, GET_VERSION",
        "API IS NOT ENABLED FOR THIS COMMUNITY",
        lambda s: ("/general/get_version", envelope(s.community, "GET_VERSION", [])),
        setup=lambda s: set_community(s.provision, s.community, api_enabled=False),
    ),
    Refusal(
        "FREE has no API",
        "API IS NOT ENABLED FOR THIS COMMUNITY",
        lambda s: ("/general/get_version", envelope(s.community, "GET_VERSION", [])),
        setup=lambda s: set_community(s.provision, s.community, plan=Plan.FREE),
    ),
    Refusal(
        "911 calls need STANDARD",
        "API IS NOT ENABLED FOR THIS COMMUNITY",
        call_911,
        setup=lambda s: set_community(s.provision, s.community, plan=Plan.STARTER),
    ),
    Refusal(
        "dispatch calls need PLUS",
        "API IS NOT ENABLED FOR THIS COMMUNITY",
        lambda s: (
            "/emergency/new_dispatch",
            envelope(s.community, "NEW_DISPATCH", [{"title": "x", "units": []}]),
        ),
        setup=lambda s: set_community(s.provision, s.community, plan=Plan.STANDARD),
    ),
    Refusal(
        "API switched off and a bad key",
        "INVALID API KEY",
        lambda s: call_911(s, key="bad"),
        setup=lambda s: set_community(s.provision, s.community, api_enabled=False),
    ),
]


@pytest.mark.parametrize("refusal", REFUSALS, ids=[refusal.id for refusal in REFUSALS])
def test_the_four_errors_of_the_reference(scene: Scene, refusal: Refusal) -> None:
    if refusal.setup is not None:
        refusal.setup(scene)
    path, body = refusal.request(scene)
    assert_refused(scene, lambda: scene.v1.post(path, json=body), 400, refusal.text)


def test_a_plan_at_the_minimum_is_served(scene: Scene) -> None:
    set_community(scene.provision, scene.community, plan=Plan.STANDARD)
    path, body = call_911(scene)
    answer = scene.v1.post(path, json=body)
    assert (answer.status_code, answer.text) == (200, "EMERGENCY CALL ADDED ID: 1")
    version = scene.v1.post("/general/get_version", json=envelope(scene.community, "GET_VERSION", []))
    assert (version.status_code, version.text) == (200, "2")


def test_starter_may_ask_its_version(scene: Scene) -> None:
    set_community(scene.provision, scene.community, plan=Plan.STARTER)
    version = scene.v1.post("/general/get_version", json=envelope(scene.community, "GET_VERSION", []))
    assert (version.status_code, version.text) == (200, "1")


# -- bad items and failing items ------------------------------------------------------------------------


def open_dispatch(scene: Scene) -> int:
    answer = scene.v2.post(
        f"{S1}/dispatch-calls",
        json={
            "origin": 0,
            "status": 1,
            "priority": 1,
            "block": "",
            "address": "Mission Row",
            "postal": "",
            "title": "Robbery",
            "code": "211",
            "description": "",
            "notes": [],
            "communityUserIds": [],
        },
    )
    assert answer.status_code == 200, answer.text
    return int(answer.json()["callId"])


def open_911(scene: Scene) -> int:
    answer = scene.v2.post(f"{S1}/calls/911", json={key: CALL[key] for key in CALL if key != "serverId"})
    assert answer.status_code == 200, answer.text
    return int(answer.json()["callId"])


@dataclass(frozen=True)
class Failure:
    id: str
    path: str
    type: str
    data: Callable[[Scene, int], Any]  # given the open 911 call's id
    status: int
    text: Callable[[int], str]


FAILURES = [
    Failure(
        "an item without a field v2 requires",
        "/emergency/call_911",
        "CALL_911",
        lambda s, c: [{key: CALL[key] for key in CALL if key != "caller"}],
        400,
        lambda c: "INVALID DATA: data[0].caller: Field required",
    ),
    Failure(
        "the second item of two is bad: the first is not kept",
        "/emergency/call_911",
        "CALL_911",
        lambda s, c: [CALL, {**CALL, "isEmergency": "maybe"}],
        400,
        lambda c: "INVALID DATA: data[1].isEmergency: must be true or false",
    ),
    Failure(
        "every bad field of every item is named",
        "/emergency/call_911",
        "CALL_911",
        lambda s, c: [{**CALL, "metaData": {"nested": {"a": 1}}}, {**CALL, "caller": None, "location": 5}],
        400,
        lambda c: (
            "INVALID DATA: data[0].metaData: 'nested' must be a string, number or boolean, not dict; "
            "data[1].caller: Field required; data[1].location: Input should be a valid string"
        ),
    ),
    Failure(
        "the second item of two fails in the service: the first is undone",
        "/emergency/remove_911",
        "REMOVE_911",
        lambda s, c: [{"serverId": 1, "callId": c}, {"serverId": 1, "callId": c + 100}],
        404,
        lambda c: f"NOT FOUND: data[1]: 911 call {c + 100} does not exist on server 1.",
    ),
    Failure(
        "the same call removed twice in one request",
        "/emergency/remove_911",
        "REMOVE_911",
        lambda s, c: [{"serverId": 1, "callId": c}, {"serverId": 1, "callId": c}],
        404,
        lambda c: f"NOT FOUND: data[1]: 911 call {c} does not exist on server 1.",
    ),
    Failure(
        "an unknown server",
        "/emergency/call_911",
        "CALL_911",
        lambda s, c: [{**CALL, "serverId": 9}],
        404,
        lambda c: "NOT FOUND: data[0]: Server 9 does not exist.",
    ),
    Failure(
        "another community's call",
        "/emergency/remove_911",
        "REMOVE_911",
        lambda s, c: [{"serverId": 1, "callId": other_communitys_911(s)}],
        404,
        lambda c: "NOT FOUND: data[0]: 911 call 2 does not exist on server 1.",
    ),
    Failure(
        "a unit that is nobody",
        "/emergency/unit_status",
        "UNIT_STATUS",
        lambda s, c: [{"apiId": "steam:nobody", "status": 2}],
        404,
        lambda c: "NOT FOUND: data[0]: None of the targets is a unit on this server.",
    ),
    Failure(
        "a unit named by nothing",
        "/emergency/unit_panic",
        "UNIT_PANIC",
        lambda s, c: [{"isPanic": True}],
        400,
        lambda c: (
            "INVALID DATA: data[0]: Name the units with communityUserId(s), units, apiId(s), accountUuid, "
            "accounts, discord, roblox, groupName or identIds."
        ),
    ),
    Failure(
        "detaching a unit that is on no call",
        "/emergency/detach_unit",
        "DETACH_UNIT",
        lambda s, c: [{"serverId": 1, "units": ["license:0"]}],
        400,  # never a 409: the JS SDK counts a 409 as a success
        lambda c: "CONFLICT: data[0]: Unit(s) 1 are not attached to an open call on this server.",
    ),
    Failure(
        "a serverId that is not a number",
        "/emergency/call_911",
        "CALL_911",
        lambda s, c: [{**CALL, "serverId": "one"}],
        400,
        lambda c: "INVALID DATA: data[0].serverId: must be a whole number",
    ),
    Failure(
        "every unreadable value of an item is named",
        "/emergency/call_911",
        "CALL_911",
        lambda s, c: [{**CALL, "serverId": "one", "isEmergency": "maybe"}],
        400,
        lambda c: (
            "INVALID DATA: data[0].serverId: must be a whole number; "
            "data[0].isEmergency: must be true or false"
        ),
    ),
    Failure(
        "a serverId beyond 64 bits",
        "/emergency/call_911",
        "CALL_911",
        lambda s, c: [{**CALL, "serverId": 2**64 - 1}],
        400,
        lambda c: "INVALID DATA: data[0].serverId: is out of range",
    ),
    Failure(
        "a callId far beyond 64 bits, as text",
        "/emergency/remove_911",
        "REMOVE_911",
        lambda s, c: [{"serverId": 1, "callId": "123456789012345678901234567890"}],
        400,
        lambda c: "INVALID DATA: data[0].callId: must be a whole number",
    ),
    Failure(
        "an identId beyond 64 bits",
        "/emergency/unit_status",
        "UNIT_STATUS",
        lambda s, c: [{"identIds": [1, 2**63], "status": 2}],
        400,
        lambda c: "INVALID DATA: data[0].identIds: is out of range",
    ),
    Failure(
        "a primary v2 does not take",
        "/emergency/set_call_primary",
        "SET_CALL_PRIMARY",
        lambda s, c: [{"0": 1, "1": c, "2": -5, "3": True}],
        400,
        lambda c: "INVALID DATA: data[0].primary: Input should be greater than or equal to -1",
    ),
    Failure(
        "a dispatch type given a 911 call's id",
        "/emergency/set_call_postal",
        "SET_CALL_POSTAL",
        lambda s, c: [{"0": 1, "1": c, "2": "7001"}],
        404,
        lambda c: f"NOT FOUND: data[0]: Dispatch call {c} does not exist on server 1.",
    ),
    Failure(
        "a status v2 does not have",
        "/emergency/unit_status",
        "UNIT_STATUS",
        lambda s, c: [{"apiId": "license:0", "status": 5}],
        400,
        lambda c: "INVALID DATA: data[0].status: must be a UNIT_STATUS: 0, 1, 2, 3, 4 or 100",
    ),
    Failure(
        "data that is not an array",
        "/emergency/call_911",
        "CALL_911",
        lambda s, c: "CALL",
        400,
        lambda c: "INVALID DATA: data: must be an array of items",
    ),
    Failure(
        "an item that is not an object",
        "/emergency/remove_911",
        "REMOVE_911",
        lambda s, c: ["1"],
        400,
        lambda c: "INVALID DATA: data[0]: must be an object",
    ),
    Failure(
        "no items",
        "/emergency/call_911",
        "CALL_911",
        lambda s, c: [],
        400,
        lambda c: "INVALID DATA: data: send at least one item",
    ),
    Failure(
        "more items than one request takes",
        "/emergency/unit_panic",
        "UNIT_PANIC",
        lambda s, c: [{"apiId": "license:0", "isPanic": True}] * 101,
        400,
        lambda c: "INVALID DATA: data: at most 100 items in one request",
    ),
    Failure(
        "two items for a reading type",
        "/emergency/get_calls",
        "GET_CALLS",
        lambda s, c: [{"serverId": 1}, {"serverId": 1}],
        400,
        lambda c: "INVALID DATA: data: GET_CALLS takes one item",
    ),
    Failure(
        "a closed-call page beyond v2's bounds",
        "/emergency/get_calls",
        "GET_CALLS",
        lambda s, c: [{"serverId": 1, "closedLimit": 101}],
        400,
        lambda c: "INVALID DATA: data[0].closedLimit: Input should be less than or equal to 100",
    ),
]


def other_communitys_911(scene: Scene) -> int:
    # Call ids count per community: the other community's second call has an id this one has not used.
    with scene.server.client(scene.other.api_key) as other:
        for _ in range(2):
            answer = other.post(f"{S1}/calls/911", json={key: CALL[key] for key in CALL if key != "serverId"})
            assert answer.status_code == 200, answer.text
    return int(answer.json()["callId"])


@pytest.mark.parametrize("failure", FAILURES, ids=[failure.id for failure in FAILURES])
def test_a_bad_or_failing_item_is_a_plain_line_and_nothing_of_the_request_is_kept(
    scene: Scene, failure: Failure
) -> None:
    call_id = open_911(scene)
    data = failure.data(scene, call_id)
    body = sdk_body(scene.community, failure.type, data)
    assert_refused(
        scene, lambda: scene.v1.post(failure.path, json=body), failure.status, failure.text(call_id)
    )


def test_closing_a_closed_call_is_a_refusal_the_js_sdk_reads_and_changes_nothing(scene: Scene) -> None:
    call_id = open_dispatch(scene)
    close = sdk_body(scene.community, "CLOSE_CALL", [{"serverId": 1, "callId": call_id}])
    assert scene.v1.post("/emergency/close_call", json=close).text == f"DISPATCH CALL {call_id} CLOSED"
    assert_refused(
        scene,
        lambda: scene.v1.post("/emergency/close_call", json=close),
        400,  # the JS SDK reads 400, 401 and 404 as errors and anything else below 500 as a success
        f"CONFLICT: data[0]: Dispatch call(s) {call_id} are already closed.",
    )


@pytest.mark.parametrize(
    ("content", "text"),
    [
        (b"not json", "INVALID REQUEST BODY: not valid JSON"),
        (b"", "INVALID REQUEST BODY: not valid JSON"),
        (b'{"id": "\xff", "type": "CALL_911"}', "INVALID REQUEST BODY: not valid JSON"),
        (b'{"id": "\\ud800", "type": "CALL_911"}', "INVALID REQUEST BODY: not valid JSON"),
        (b'["CALL_911"]', "INVALID REQUEST BODY: the body must be a JSON object {id, key, type, data}"),
    ],
)
def test_a_body_that_is_not_a_json_object(scene: Scene, content: bytes, text: str) -> None:
    before = scene.snapshot()
    answer = scene.v1.post("/emergency/call_911", content=content)
    assert answer.status_code == 400 and answer.text.startswith(text)
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    assert scene.snapshot() == before


def test_paths_that_are_not_v1_keep_the_apps_own_answers(scene: Scene) -> None:
    # A two-segment POST outside the v1 areas is an unknown route, not a v1 request.
    unknown = scene.v1.post("/v2/general", json={})
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    # v1 is POST only.
    wrong_method = scene.v1.get("/emergency/call_911")
    assert wrong_method.status_code == 405
    # And the v2 routes are not shadowed.
    assert scene.v2.get("/v2/general/version").json()["version"] == 4


# -- rate limits: the same per-key limits as the v2 twins ------------------------------------------------


def test_call_911_items_count_against_the_v2_create_911_limit_all_or_none(scene: Scene) -> None:
    body = {key: CALL[key] for key in CALL if key != "serverId"}
    for _ in range(4):
        assert scene.v2.post(f"{S1}/calls/911", json=body).status_code == 200
    # 10 a minute: 6 are left, so 7 items are refused whole ...
    before = scene.snapshot()
    refused = scene.v1.post("/emergency/call_911", json=sdk_body(scene.community, "CALL_911", [CALL] * 7))
    assert (refused.status_code, refused.text) == (429, "API RATE LIMIT EXCEEDED")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert scene.snapshot() == before
    # ... and the refusal took none of them: 6 items go through.
    taken = scene.v1.post("/emergency/call_911", json=sdk_body(scene.community, "CALL_911", [CALL] * 6))
    assert taken.status_code == 200
    assert taken.text == "\n".join(f"EMERGENCY CALL ADDED ID: {call_id}" for call_id in range(5, 11))
    # The key is spent for v2 as well.
    assert scene.v2.post(f"{S1}/calls/911", json=body).status_code == 429


def test_more_items_than_the_limit_allows_at_all_are_a_400_not_an_endless_429(scene: Scene) -> None:
    before = scene.snapshot()
    answer = scene.v1.post("/emergency/call_911", json=sdk_body(scene.community, "CALL_911", [CALL] * 11))
    assert (answer.status_code, answer.text) == (
        400,
        "TOO MANY ITEMS: this key may send 10 CALL_911 items a minute; send them in smaller requests",
    )
    assert scene.snapshot() == before
    full = scene.v1.post("/emergency/call_911", json=sdk_body(scene.community, "CALL_911", [CALL] * 10))
    assert full.status_code == 200 and full.text.count("\n") == 9


def test_get_calls_shares_the_v2_get_calls_limit(server: Server, provision: Provisioner) -> None:
    fresh = provision.community("Charlie")
    with server.client(fresh.api_key) as v2, server.client() as v1:
        for _ in range(2):
            assert v2.get(f"{S1}/calls").status_code == 200
        get_calls = sdk_body(fresh, "GET_CALLS", [{"serverId": 1}])
        assert v1.post("/emergency/get_calls", json=get_calls).status_code == 200
        refused = v1.post("/emergency/get_calls", json=get_calls)
        assert (refused.status_code, refused.text) == (429, "API RATE LIMIT EXCEEDED")
        assert v2.get(f"{S1}/calls").status_code == 429


def test_unit_location_counts_once_per_request(scene: Scene) -> None:
    scene.provision.set_limit(scene.community, "unit_locations", 2)
    reports = sdk_body(
        scene.community,
        "UNIT_LOCATION",
        [{"apiId": "license:0", "location": f"Street {n}"} for n in range(5)],
    )
    for _ in range(2):
        answer = scene.v1.post("/emergency/unit_location", json=reports)
        assert (answer.status_code, answer.text) == (200, "UNIT LOCATION UPDATED")
    assert scene.v1.post("/emergency/unit_location", json=reports).status_code == 429


def test_version_and_servers_count_against_their_v2_twins_limits(scene: Scene) -> None:
    # Unlimited once (the JS SDK sends each once as it starts); now each has its v2 twin's 10 a minute.
    for type, path in (("GET_VERSION", "/general/get_version"), ("GET_SERVERS", "/general/get_servers")):
        for _ in range(10):
            assert scene.v1.post(path, json=sdk_body(scene.community, type, [])).status_code == 200
        refused = scene.v1.post(path, json=sdk_body(scene.community, type, []))
        assert (refused.status_code, refused.text) == (429, "API RATE LIMIT EXCEEDED"), type
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
