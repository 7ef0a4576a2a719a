"""Create and list calls over HTTP against the app: shapes, targets, filters, paging and timed removal."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.support import (
    Community,
    ManualClock,
    Provisioner,
    Server,
    lift_limits,
    new_911,
    new_dispatch,
)

CALLS = "/v2/emergency/servers/1/calls"
CREATE_911 = "/v2/emergency/servers/1/calls/911"
CREATE_DISPATCH = "/v2/emergency/servers/1/dispatch-calls"

EMERGENCY_FIELDS = {"callId", "isEmergency", "caller", "location", "description", "metaData", "updated"}
DISPATCH_FIELDS = {
    "callId",
    "origin",
    "status",
    "priority",
    "block",
    "address",
    "postal",
    "title",
    "code",
    "primary",
    "trackPrimary",
    "description",
    "notes",
    "idents",
    "metaData",
    "updated",
}
# Both spellings: the seed page's camelCase and the current docs' (and the in-game resource's) PascalCase.
LISTING_FIELDS = {
    "activeCalls",
    "emergencyCalls",
    "closedCalls",
    "closedCallCount",
    "ActiveCalls",
    "EmergencyCalls",
    "ClosedCalls",
    "ClosedCallCount",
}


def epoch_ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


@pytest.fixture
def http(server: Server, provision: Provisioner, community: Community) -> Iterator[httpx.Client]:
    lift_limits(provision, community)
    with server.client(community.api_key) as client:
        yield client


def create(http: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = http.post(path, json=body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    created: dict[str, Any] = response.json()
    return created


def listing(http: httpx.Client, **params: Any) -> dict[str, Any]:
    response = http.get(CALLS, params=params)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


# -- 911 calls -----------------------------------------------------------------------------------------


def test_911_call_is_answered_in_the_reference_shape_at_the_server_time(
    http: httpx.Client, clock: ManualClock
) -> None:
    clock.ms = epoch_ms("2026-04-08T21:31:00Z")
    call = create(http, CREATE_911, new_911(caller="Jane Doe", location="Innocence Blvd"))
    assert set(call) == EMERGENCY_FIELDS
    assert isinstance(call["callId"], int)
    assert call["isEmergency"] is True
    assert (call["caller"], call["location"], call["description"]) == (
        "Jane Doe",
        "Innocence Blvd",
        "Shots fired",
    )
    assert call["metaData"] == new_911()["metaData"]
    assert call["updated"] == "2026-04-08T21:31:00Z"


def test_911_call_is_listed_exactly_as_it_was_answered(http: httpx.Client) -> None:
    first = create(http, CREATE_911, new_911(isEmergency=False))
    second = create(http, CREATE_911, new_911(deleteAfterMinutes=15))
    answer = listing(http)
    assert set(answer) == LISTING_FIELDS
    assert answer["emergencyCalls"] == [first, second]
    assert answer["activeCalls"] == answer["closedCalls"] == []


def test_metadata_numbers_and_booleans_are_stored_as_their_json_text(http: httpx.Client) -> None:
    sent = {"phone": "555-0100", "radius": 1000, "x": 425.1, "y": -979.2, "night": True, "wet": False}
    expected = {
        "phone": "555-0100",
        "radius": "1000",
        "x": "425.1",
        "y": "-979.2",
        "night": "true",
        "wet": "false",
    }
    assert create(http, CREATE_911, new_911(metaData=sent))["metaData"] == expected
    assert create(http, CREATE_DISPATCH, new_dispatch(metaData=sent))["metaData"] == expected
    answer = listing(http)
    assert answer["emergencyCalls"][0]["metaData"] == expected
    assert answer["activeCalls"][0]["metaData"] == expected


def test_metadata_may_be_left_out_or_null(http: httpx.Client) -> None:
    body = new_911()
    del body["metaData"]
    assert create(http, CREATE_911, body)["metaData"] == {}
    assert create(http, CREATE_911, new_911(metaData=None))["metaData"] == {}


def test_metadata_at_its_documented_limits_is_accepted(http: httpx.Client) -> None:
    many = {f"key{n}": str(n) for n in range(64)}
    assert create(http, CREATE_911, new_911(metaData=many))["metaData"] == many
    largest = {"k" * 64: "v" * 1024}
    assert create(http, CREATE_911, new_911(metaData=largest))["metaData"] == largest


def test_unknown_fields_are_ignored(http: httpx.Client) -> None:
    # Scripts in the wild send more than the reference names (the SDKs' serverId, `product`).
    call = create(http, CREATE_911, new_911(serverId=1, product=0, extra={"a": [1]}))
    assert set(call) == EMERGENCY_FIELDS
    dispatch = create(http, CREATE_DISPATCH, new_dispatch(serverId=1, apiIds=["x"]))
    assert set(dispatch) == DISPATCH_FIELDS


# -- dispatch calls ----------------------------------------------------------------------------------


def test_dispatch_call_is_answered_in_the_reference_shape(http: httpx.Client, clock: ManualClock) -> None:
    clock.ms = epoch_ms("2026-04-08T21:30:00Z")
    call = create(http, CREATE_DISPATCH, new_dispatch())
    assert set(call) == DISPATCH_FIELDS
    expected = {key: value for key, value in new_dispatch().items() if key in DISPATCH_FIELDS}
    assert {key: call[key] for key in expected} == expected
    assert call["idents"] == []
    assert call["primary"] == -1
    assert call["trackPrimary"] is False
    assert call["updated"] == "2026-04-08T21:30:00Z"
    assert listing(http)["activeCalls"] == [call]


def test_reference_example_with_null_notes_and_a_single_user_id_string_is_accepted(
    http: httpx.Client, provision: Provisioner, community: Community
) -> None:
    # The reference's OpenAPI example sends `notes: null` and `communityUserIds: "player-1234"`.
    player = provision.account(community, "player", community_user_id="player-1234")
    unit = provision.unit(community, player["uuid"])
    call = create(http, CREATE_DISPATCH, new_dispatch(notes=None, communityUserIds="player-1234"))
    assert call["notes"] == []
    assert call["idents"] == [unit]
    assert call["primary"] == unit


def test_targets_resolve_to_selected_units_in_the_order_sent(
    http: httpx.Client, provision: Provisioner, community: Community
) -> None:
    units = {}
    for name in ("ann", "bob", "cat"):
        account = provision.account(community, name, community_user_id=f"license:{name}")
        units[name] = provision.unit(community, account["uuid"], unit_num=name)
    call = create(
        http,
        CREATE_DISPATCH,
        new_dispatch(
            communityUserIds=["license:bob", "license:ann"],
            accounts=[community.accounts["cat"]["uuid"]],
        ),
    )
    assert call["idents"] == [units["bob"], units["ann"], units["cat"]]
    assert call["primary"] == units["bob"]
    assert call["trackPrimary"] is False
    assert listing(http)["activeCalls"][0]["idents"] == call["idents"]


def test_targets_that_resolve_to_nothing_are_left_off_and_the_call_is_still_created(
    http: httpx.Client, provision: Provisioner, community: Community
) -> None:
    # Linked, but its only unit is on server 2; not linked at all; unknown account; unknown user id.
    elsewhere = provision.account(community, "elsewhere", community_user_id="license:elsewhere")
    provision.unit(community, elsewhere["uuid"], server_id=2)
    on_duty = provision.account(community, "onduty", community_user_id="license:onduty")
    on_duty_unit = provision.unit(community, on_duty["uuid"])
    call = create(
        http,
        CREATE_DISPATCH,
        new_dispatch(
            communityUserIds=["license:nobody", "license:elsewhere", "license:onduty"],
            accounts=["00000000-0000-4000-8000-000000000000", elsewhere["uuid"]],
        ),
    )
    assert call["idents"] == [on_duty_unit]
    assert call["primary"] == on_duty_unit
    nobody = create(http, CREATE_DISPATCH, new_dispatch(communityUserIds=["license:nobody"]))
    assert (nobody["idents"], nobody["primary"]) == ([], -1)
    assert [c["callId"] for c in listing(http)["activeCalls"]] == [call["callId"], nobody["callId"]]


def test_a_target_named_twice_is_attached_once(
    http: httpx.Client, provision: Provisioner, community: Community
) -> None:
    account = provision.account(community, "twice", community_user_id="license:twice")
    unit = provision.unit(community, account["uuid"])
    call = create(
        http,
        CREATE_DISPATCH,
        new_dispatch(communityUserIds=["license:twice", "license:twice"], accounts=[account["uuid"]]),
    )
    assert call["idents"] == [unit]


def test_notes_keep_their_order_and_get_the_server_time_when_sent_without_one(
    http: httpx.Client, clock: ManualClock
) -> None:
    clock.ms = epoch_ms("2026-04-08T21:30:00Z")
    notes = [
        {"label": "Sonoran CAD", "type": "text", "content": "Caller is hiding."},
        {"label": "Dispatch", "type": "INFO", "content": "Flames visible.", "time": "2026-04-08T20:00:00Z"},
    ]
    call = create(http, CREATE_DISPATCH, new_dispatch(notes=notes))
    assert call["notes"] == [
        {"time": "2026-04-08T21:30:00Z", **notes[0]},
        {"time": "2026-04-08T20:00:00Z", "label": "Dispatch", "type": "INFO", "content": "Flames visible."},
    ]
    assert listing(http)["activeCalls"][0]["notes"] == call["notes"]


@pytest.mark.parametrize("origin", [0, 1, 2, 3])
def test_every_known_call_origin_is_accepted(http: httpx.Client, origin: int) -> None:
    assert create(http, CREATE_DISPATCH, new_dispatch(origin=origin))["origin"] == origin


def test_status_decides_whether_a_call_is_active_or_closed(http: httpx.Client) -> None:
    pending = create(http, CREATE_DISPATCH, new_dispatch(status=0))
    active = create(http, CREATE_DISPATCH, new_dispatch(status=1))
    closed = create(http, CREATE_DISPATCH, new_dispatch(status=2))
    answer = listing(http)
    assert answer["activeCalls"] == [pending, active]
    assert answer["closedCalls"] == [closed]
    assert answer["closedCallCount"] == 1


# -- call ids ------------------------------------------------------------------------------------------


def test_call_ids_are_unique_and_increasing_across_911_and_dispatch_calls_and_servers(
    http: httpx.Client,
) -> None:
    ids = []
    for index in range(4):
        ids.append(create(http, CREATE_911, new_911())["callId"])
        ids.append(create(http, CREATE_DISPATCH, new_dispatch(status=index % 3))["callId"])
        ids.append(create(http, "/v2/emergency/servers/2/calls/911", new_911())["callId"])
    assert ids == sorted(set(ids))
    assert len(ids) == 12


# -- listing: servers, type filter, closed paging ----------------------------------------------------


def test_calls_are_listed_only_on_their_own_server(http: httpx.Client) -> None:
    on_one = create(http, CREATE_911, new_911())
    on_two = create(http, "/v2/emergency/servers/2/calls/911", new_911(caller="Server two"))
    dispatch_two = create(http, "/v2/emergency/servers/2/dispatch-calls", new_dispatch())
    assert listing(http)["emergencyCalls"] == [on_one]
    assert listing(http)["activeCalls"] == []
    second = http.get("/v2/emergency/servers/2/calls").json()
    assert second["emergencyCalls"] == [on_two]
    assert second["activeCalls"] == [dispatch_two]


@pytest.fixture
def one_of_each(http: httpx.Client) -> dict[str, dict[str, Any]]:
    return {
        "emergency": create(http, CREATE_911, new_911()),
        "active": create(http, CREATE_DISPATCH, new_dispatch(status=1)),
        "closed": create(http, CREATE_DISPATCH, new_dispatch(status=2)),
    }


@pytest.mark.parametrize("table_type", ["0", "dispatch"])
def test_type_dispatch_lists_only_dispatch_calls(
    http: httpx.Client, one_of_each: dict[str, dict[str, Any]], table_type: str
) -> None:
    answer = listing(http, type=table_type)
    assert answer["activeCalls"] == [one_of_each["active"]]
    assert answer["closedCalls"] == [one_of_each["closed"]]
    assert answer["closedCallCount"] == 1
    assert answer["emergencyCalls"] == []


@pytest.mark.parametrize("table_type", ["1", "emergency"])
def test_type_emergency_lists_only_911_calls(
    http: httpx.Client, one_of_each: dict[str, dict[str, Any]], table_type: str
) -> None:
    answer = listing(http, type=table_type)
    assert answer["emergencyCalls"] == [one_of_each["emergency"]]
    assert answer["activeCalls"] == answer["closedCalls"] == []


@pytest.mark.parametrize("table_type", ["100", "all", None])
def test_type_all_lists_every_kind(
    http: httpx.Client, one_of_each: dict[str, dict[str, Any]], table_type: str | None
) -> None:
    answer = listing(http, **({"type": table_type} if table_type else {}))
    expected = {
        "activeCalls": [one_of_each["active"]],
        "emergencyCalls": [one_of_each["emergency"]],
        "closedCalls": [one_of_each["closed"]],
        "closedCallCount": 1,
    }
    # The same lists under the PascalCase the current docs and the in-game resource use.
    assert answer == {**expected, **{name[0].upper() + name[1:]: value for name, value in expected.items()}}


def test_closed_calls_are_paged_most_recently_closed_first(http: httpx.Client, clock: ManualClock) -> None:
    closed = []
    for _ in range(5):
        closed.append(create(http, CREATE_DISPATCH, new_dispatch(status=2))["callId"])
        clock.advance(minutes=1)
    create(http, CREATE_DISPATCH, new_dispatch(status=1))
    newest_first = list(reversed(closed))

    def page(offset: int, limit: int) -> list[int]:
        answer = listing(http, closedLimit=limit, closedOffset=offset)
        assert answer["closedCallCount"] == 5
        return [call["callId"] for call in answer["closedCalls"]]

    assert page(0, 2) == newest_first[0:2]
    assert page(2, 2) == newest_first[2:4]
    assert page(4, 2) == newest_first[4:]
    assert page(5, 2) == []
    assert page(0, 10) == newest_first
    assert page(0, 0) == []


def test_closed_call_count_counts_every_closed_call_not_just_the_page(http: httpx.Client) -> None:
    for _ in range(12):
        create(http, CREATE_DISPATCH, new_dispatch(status=2))
    create(http, CREATE_DISPATCH, new_dispatch(status=0))
    create(http, CREATE_911, new_911())
    answer = listing(http)
    assert len(answer["closedCalls"]) == 10  # the default closedLimit
    assert answer["closedCallCount"] == 12
    assert len(listing(http, closedLimit=100)["closedCalls"]) == 12


def test_closed_limit_up_to_100_is_served(http: httpx.Client) -> None:
    assert listing(http, closedLimit=100)["closedCalls"] == []


# -- deleteAfterMinutes while running ------------------------------------------------------------------


def wait_until(condition: Any, seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_calls_disappear_once_their_delete_after_minutes_deadline_passes(
    http: httpx.Client, clock: ManualClock
) -> None:
    doomed_911 = create(http, CREATE_911, new_911(deleteAfterMinutes=15))["callId"]
    doomed_closed = create(http, CREATE_DISPATCH, new_dispatch(status=2, deleteAfterMinutes=15))["callId"]
    doomed_active = create(http, CREATE_DISPATCH, new_dispatch(status=1, deleteAfterMinutes=15))["callId"]
    kept_911 = create(http, CREATE_911, new_911())["callId"]
    kept_later = create(http, CREATE_911, new_911(deleteAfterMinutes=60))["callId"]
    kept_closed = create(http, CREATE_DISPATCH, new_dispatch(status=2))["callId"]

    def ids() -> tuple[set[int], set[int], set[int], int]:
        answer = listing(http)
        return (
            {c["callId"] for c in answer["emergencyCalls"]},
            {c["callId"] for c in answer["activeCalls"]},
            {c["callId"] for c in answer["closedCalls"]},
            answer["closedCallCount"],
        )

    clock.advance(minutes=14, seconds=59)
    time.sleep(0.5)  # a few expiry rounds (the harness runs one every 0.2 s) with the deadline not yet due
    assert ids() == ({doomed_911, kept_911, kept_later}, {doomed_active}, {doomed_closed, kept_closed}, 2)

    clock.advance(seconds=1)
    assert wait_until(lambda: ids() == ({kept_911, kept_later}, set(), {kept_closed}, 1)), ids()


# -- the API description ---------------------------------------------------------------------------------


def test_openapi_describes_the_three_reference_endpoints_and_docs_are_served(server: Server) -> None:
    with server.client() as anonymous:
        spec = anonymous.get("/openapi.json")
        docs = anonymous.get("/docs")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    assert "post" in paths["/v2/emergency/servers/{serverId}/calls/911"]
    assert "post" in paths["/v2/emergency/servers/{serverId}/dispatch-calls"]
    assert "get" in paths["/v2/emergency/servers/{serverId}/calls"]
    assert docs.status_code == 200
    assert "text/html" in docs.headers["content-type"]
