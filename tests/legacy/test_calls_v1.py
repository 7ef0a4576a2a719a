"""v1 call types as the JS SDK sends them: GET_MY_CALL, GET_CALLS' two spellings, refusals it can read."""

from __future__ import annotations

from typing import Any

import pytest

from tests.legacy.v1 import S1, World, sdk_body
from tests.support import every_row_count


def my_call(world: World, data: Any) -> Any:
    return world.post("/emergency/get_my_call", sdk_body(world.community, "GET_MY_CALL", data))


def test_get_my_call_in_the_js_sdks_form(world: World) -> None:
    # getMyCall({account}) goes out as data [{account}].
    on_call = my_call(world, [{"account": world.accounts[0]}])
    assert on_call.status_code == 200, on_call.text
    assert on_call.headers["content-type"].startswith("application/json")
    assert on_call.json() == {"IdentId": world.idents[0], "CallId": world.dispatch_id}
    free = my_call(world, [{"accountUuid": world.accounts[1]}])
    assert free.json() == {"IdentId": world.idents[1], "CallId": None}
    # The same answer as v2's.
    v2 = world.v2.get(f"/v2/emergency/accounts/{world.accounts[0]}/current-call")
    assert v2.json() == on_call.json()


@pytest.mark.parametrize(
    ("data", "status", "text"),
    [
        ([{}], 400, "INVALID DATA: data[0].account: Field required"),
        ([], 400, "INVALID DATA: data.account: Field required"),
        ([{"account": 5}], 400, "INVALID DATA: data[0].account: Input should be a valid string"),
        ([{"account": "a"}, {"account": "b"}], 400, "INVALID DATA: data: GET_MY_CALL takes one item"),
        ([{"account": "00000000-0000-0000-0000-000000000000"}], 404, "NOT FOUND: data[0]: Account"),
    ],
)
def test_get_my_call_refusals(world: World, data: Any, status: int, text: str) -> None:
    answer = my_call(world, data)
    assert (answer.status_code, answer.text[: len(text)]) == (status, text)


def test_get_my_call_of_another_communitys_account_is_not_found(world: World) -> None:
    other = world.provision.community("Other")
    answer = world.post(
        "/emergency/get_my_call", sdk_body(other, "GET_MY_CALL", [{"account": world.accounts[0]}])
    )
    assert answer.status_code == 404 and answer.text.startswith("NOT FOUND")


def test_get_calls_answers_both_spellings_with_no_data(world: World) -> None:
    # The JS SDK's GET_CALLS sends no data at all.
    body = sdk_body(world.community, "GET_CALLS", None)
    del body["data"]
    answer = world.post("/emergency/get_calls", body)
    assert answer.status_code == 200, answer.text
    listing = answer.json()
    assert [c["callId"] for c in listing["ActiveCalls"]] == [c["callId"] for c in listing["activeCalls"]]
    assert [c["callId"] for c in listing["EmergencyCalls"]] == [world.emergency_id]
    assert listing["ClosedCallCount"] == listing["closedCallCount"] == 0
    assert (
        listing["ActiveCalls"] == listing["activeCalls"]
        and listing["ActiveCalls"][0]["callId"] == world.dispatch_id
    )


def test_edit_dispatch_primary_goes_through_the_v2_rule(world: World) -> None:
    attach = sdk_body(
        world.community, "ATTACH_UNIT", [{"serverId": 1, "callId": world.dispatch_id, "units": ["license:1"]}]
    )
    assert world.post("/emergency/attach_unit", attach).text == "UNITS ATTACHED"
    edit = sdk_body(
        world.community,
        "EDIT_DISPATCH",
        [{"serverId": "1", "callId": world.dispatch_id, "primary": world.idents[1], "trackPrimary": "true"}],
    )
    assert world.post("/emergency/edit_dispatch", edit).text == f"DISPATCH CALL {world.dispatch_id} UPDATED"
    call = world.dispatch()
    assert (call["primary"], call["trackPrimary"]) == (world.idents[1], True)


@pytest.mark.parametrize(
    ("path", "type", "item", "text"),
    [
        (
            "/emergency/edit_dispatch",
            "EDIT_DISPATCH",
            lambda w: {"serverId": 1, "callId": w.dispatch_id, "primary": w.idents[1], "title": "Lost"},
            lambda w: (
                f"CONFLICT: data[0]: Unit {w.idents[1]} is not attached to dispatch call {w.dispatch_id}"
            ),
        ),
        (
            "/emergency/set_call_primary",
            "SET_CALL_PRIMARY",
            lambda w: {"serverId": 1, "callId": w.dispatch_id, "primary": w.idents[1]},
            lambda w: f"CONFLICT: data[0]: Unit {w.idents[1]} is not attached",
        ),
        (
            "/emergency/detach_unit",
            "DETACH_UNIT",
            lambda w: {"serverId": 1, "units": ["license:1"]},
            lambda w: "CONFLICT: data[0]: Unit(s)",
        ),
    ],
)
def test_a_refusal_of_the_calls_state_is_a_400_the_js_sdk_reads_as_an_error(
    world: World, path: str, type: str, item: Any, text: Any
) -> None:
    before = every_row_count(world.provision)
    answer = world.post(path, sdk_body(world.community, type, [item(world)]))
    assert answer.status_code == 400  # a 409 would be a success to the JS SDK
    assert answer.text.startswith(text(world))
    assert every_row_count(world.provision) == before


def test_attaching_to_a_closed_call_is_a_400(world: World) -> None:
    close = sdk_body(world.community, "CLOSE_CALL", [{"serverId": 1, "callId": world.dispatch_id}])
    assert world.post("/emergency/close_call", close).status_code == 200
    attach = sdk_body(
        world.community, "ATTACH_UNIT", [{"serverId": 1, "callId": world.dispatch_id, "units": ["license:1"]}]
    )
    answer = world.post("/emergency/attach_unit", attach)
    assert answer.status_code == 400 and answer.text.startswith("CONFLICT: data[0]: Dispatch call")
    assert world.v2.get(f"{S1}/calls").json()["closedCalls"][0]["idents"] == [world.idents[0]]
