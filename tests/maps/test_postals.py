"""The community's postal list: set as the in-game resource sends it, then placing calls that lack a
postal or coordinates, on the API, the console's board and details, snapshots and nearest units."""

from __future__ import annotations

import json
from typing import Any

import pytest

from opendispatch.maps.schemas import MAX_POSTALS
from tests.maps.support import POSTALS, RESOURCE_POSTALS, S1, console
from tests.support import Community, Provisioner, Server, every_row_count, lift_limits, new_911, new_dispatch
from tests.web.support import C1, place_unit

JSON = {"content-type": "application/json"}


def set_postals(server: Server, community: Community, postals: Any) -> Any:
    with server.client(community.api_key) as api:
        answer = api.put(POSTALS, json={"postals": postals})
        assert answer.status_code == 200, answer.text
        return answer.json()


def emergency_calls(server: Server, community: Community) -> dict[int, dict[str, Any]]:
    with server.client(community.api_key) as api:
        listed = api.get(f"{S1}/calls").json()
    return {call["callId"]: call for call in listed["emergencyCalls"]}


def dispatch_calls(server: Server, community: Community) -> dict[int, dict[str, Any]]:
    with server.client(community.api_key) as api:
        listed = api.get(f"{S1}/calls").json()
    return {call["callId"]: call for call in listed["activeCalls"]}


def test_the_resources_exact_startup_body_is_taken_and_answers_how_many(
    server: Server, community: Community, provision: Provisioner
) -> None:
    # sv_postals.lua sends the decoded file once at start: a PUT of {postals: [...]}.
    assert set_postals(server, community, RESOURCE_POSTALS) == {"updated": 3}
    rows = provision.scalar("SELECT count(*) FROM postals")
    assert rows == 3


def test_lua_quirks_numbers_as_text_codes_as_numbers_and_an_empty_table(
    server: Server, community: Community, alice: Any
) -> None:
    quirky = [
        {"code": 100, "x": "425.1", "y": "-979.2"},  # a number for a code, text for coordinates
        {"code": " 200 ", "x": 10, "y": 20, "extra": {"anything": True}},
        {"code": "100", "x": 0, "y": 0},  # listed twice: the first position stands
    ]
    assert set_postals(server, community, quirky) == {"updated": 2}
    with console(server, community) as session:
        assert session.get("/console/api/postals/100").json() == {"code": "100", "x": 425.1, "y": -979.2}
        assert session.get("/console/api/postals/200").json() == {"code": "200", "x": 10.0, "y": 20.0}
    # Lua writes an empty table as {} as readily as []: either empties the list.
    with server.client(community.api_key) as api:
        assert api.put(POSTALS, json={"postals": {}}).json() == {"updated": 0}


def test_a_new_list_replaces_the_old_one(server: Server, community: Community, alice: Any) -> None:
    set_postals(server, community, RESOURCE_POSTALS)
    set_postals(server, community, [{"code": "5", "x": 1, "y": 1}])
    with console(server, community) as session:
        assert session.get("/console/api/postals/100").status_code == 404
        assert session.get("/console/api/postals/5").json() == {"code": "5", "x": 1.0, "y": 1.0}


def test_the_whole_bounded_list_fits_in_one_request_and_one_more_is_refused(
    server: Server, community: Community, provision: Provisioner
) -> None:
    full = [
        {"code": str(n), "x": float(n % 3000) - 1500.0, "y": float(n // 3000) * 100.0}
        for n in range(MAX_POSTALS)
    ]
    # Far beyond the 64 KiB every other body is held to.
    assert set_postals(server, community, full) == {"updated": MAX_POSTALS}
    before = every_row_count(provision)
    with server.client(community.api_key) as api:
        answer = api.put(POSTALS, json={"postals": [*full, {"code": "x", "x": 0, "y": 0}]})
    assert answer.status_code == 400 and "postals" in answer.text
    assert every_row_count(provision) == before


BAD_BODIES: dict[str, tuple[Any, str]] = {
    "no postals": ({}, "postals"),
    "postals not a list": ({"postals": "100"}, "postals"),
    "a postal not an object": ({"postals": [5]}, "postals"),
    "a postal without a code": ({"postals": [{"x": 1, "y": 2}]}, "code"),
    "an empty code": ({"postals": [{"code": " ", "x": 1, "y": 2}]}, "code"),
    "a code of 33 characters": ({"postals": [{"code": "c" * 33, "x": 1, "y": 2}]}, "code"),
    "a code that is true": ({"postals": [{"code": True, "x": 1, "y": 2}]}, "code"),
    "a code with a lone surrogate": ({"postals": [{"code": "\ud800", "x": 1, "y": 2}]}, "code"),
    "no y": ({"postals": [{"code": "1", "x": 1}]}, "y"),
    "x not a number": ({"postals": [{"code": "1", "x": "west", "y": 2}]}, "x"),
    "x beyond any map": ({"postals": [{"code": "1", "x": 1e8, "y": 2}]}, "x"),
    "y not finite": ({"postals": [{"code": "1", "x": 1, "y": "nan"}]}, "y"),
}


@pytest.mark.parametrize("case", BAD_BODIES, ids=list(BAD_BODIES))
def test_a_bad_postal_list_is_a_400_naming_the_field_and_keeps_the_old_list(
    server: Server, community: Community, provision: Provisioner, case: str
) -> None:
    set_postals(server, community, RESOURCE_POSTALS)
    before = every_row_count(provision)
    body, field = BAD_BODIES[case]
    with server.client(community.api_key) as api:
        answer = api.put(POSTALS, content=json.dumps(body), headers=JSON)  # ASCII: lone surrogates too
    assert answer.status_code == 400, answer.text
    assert field in answer.json()["detail"]
    assert every_row_count(provision) == before


def test_set_postal_config_is_limited_to_10_a_minute_per_key(server: Server, community: Community) -> None:
    with server.client(community.api_key) as api:
        for _ in range(10):
            assert api.put(POSTALS, json={"postals": []}).status_code == 200
        refused = api.put(POSTALS, json={"postals": []})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0


# -- what the list does to calls --------------------------------------------------------------------------


def test_a_911_call_with_coordinates_and_no_postal_gets_the_nearest_one(
    server: Server, community: Community
) -> None:
    set_postals(server, community, RESOURCE_POSTALS)
    with server.client(community.api_key) as api:
        # As the in-game resource sends it: every metaData value text, postal empty.
        meta = {"x": "-1000.5", "y": "-2700", "z": "14.2", "postal": "", "useCallLocation": "false"}
        created = api.post(f"{S1}/calls/911", json=new_911(metaData=meta)).json()
        bare = api.post(f"{S1}/calls/911", json=new_911(metaData={"x": 1850, "y": 3600})).json()
        given = api.post(
            f"{S1}/calls/911", json=new_911(metaData={"x": "0", "y": "0", "postal": "77"})
        ).json()
        lost = api.post(f"{S1}/calls/911", json=new_911(metaData={"postal": ""})).json()
    assert created["metaData"]["postal"] == "8061"
    listed = emergency_calls(server, community)
    assert listed[created["callId"]]["metaData"] == {**meta, "postal": "8061"}
    assert listed[bare["callId"]]["metaData"]["postal"] == "9001"
    assert listed[given["callId"]]["metaData"]["postal"] == "77"  # a postal given is kept
    assert listed[lost["callId"]]["metaData"] == {"postal": ""}  # nothing to go by


def test_a_far_away_point_still_gets_the_nearest_postal(server: Server, community: Community) -> None:
    set_postals(server, community, [{"code": "1", "x": 0, "y": 0}, {"code": "2", "x": 9000, "y": 9000}])
    with server.client(community.api_key) as api:
        far = api.post(f"{S1}/calls/911", json=new_911(metaData={"x": "-20000", "y": "-20000"})).json()
        near_two = api.post(f"{S1}/calls/911", json=new_911(metaData={"x": "6000", "y": "6000"})).json()
    assert far["metaData"]["postal"] == "1"
    assert near_two["metaData"]["postal"] == "2"


def test_without_a_postal_list_a_call_is_left_as_sent(server: Server, community: Community) -> None:
    with server.client(community.api_key) as api:
        created = api.post(f"{S1}/calls/911", json=new_911(metaData={"x": "1", "y": "2"})).json()
    assert emergency_calls(server, community)[created["callId"]]["metaData"] == {"x": "1", "y": "2"}


def test_a_dispatch_call_with_coordinates_and_no_postal_gets_the_nearest_one(
    server: Server, community: Community
) -> None:
    set_postals(server, community, RESOURCE_POSTALS)
    with server.client(community.api_key) as api:
        created = api.post(f"{S1}/dispatch-calls", json=new_dispatch(postal="")).json()
        kept = api.post(f"{S1}/dispatch-calls", json=new_dispatch(postal="42")).json()
    listed = dispatch_calls(server, community)
    assert created["postal"] == listed[created["callId"]]["postal"] == "100"
    assert listed[kept["callId"]]["postal"] == "42"


def test_a_call_with_a_postal_and_no_coordinates_is_placed_at_the_postal(
    server: Server, community: Community, provision: Provisioner, alice: Any
) -> None:
    lift_limits(provision, community)
    set_postals(server, community, RESOURCE_POSTALS)
    near = place_unit(provision, community, server, name="Near", unit_num="1A-01", x=430.0, y=-980.0)
    place_unit(provision, community, server, name="Far", unit_num="1A-02", x=-1000.0, y=-2700.0)
    with server.client(community.api_key) as api:
        emergency = api.post(f"{S1}/calls/911", json=new_911(metaData={"postal": "100"})).json()
        body = new_dispatch(postal="100", metaData={"radius": "40"})
        dispatch = api.post(f"{S1}/dispatch-calls", json=body).json()
        unplaced = api.post(f"{S1}/dispatch-calls", json=new_dispatch(postal="404", metaData={})).json()
        nearest = api.get(f"{S1}/dispatch-calls/{dispatch['callId']}/nearest-units").json()
        snapshot = api.get(f"{S1}/calls/{emergency['callId']}/snapshot.png")
        no_snapshot = api.get(f"{S1}/calls/{unplaced['callId']}/snapshot.png")
    # The API's answer keeps what was sent; where the call is shows wherever the console and tools look.
    assert emergency["metaData"] == {"postal": "100"}
    assert nearest["x"] == 425.1 and nearest["y"] == -979.2
    assert nearest["units"][0]["identId"] == near
    assert snapshot.status_code == 200 and snapshot.headers["content-type"] == "image/png"
    assert no_snapshot.status_code == 409 and "postal" in no_snapshot.json()["detail"]
    at_postal = {"x": 425.1, "y": -979.2, "radius": None, "fromPostal": True}
    with console(server, community) as session:
        board = session.get(f"{C1}/board").json()
        detail = session.get(f"{C1}/calls/{dispatch['callId']}").json()
    assert {call["callId"]: call["point"] for call in board["emergencyCalls"]} == {
        emergency["callId"]: at_postal
    }
    points = {call["callId"]: call["point"] for call in board["activeCalls"]}
    assert points[dispatch["callId"]] == {**at_postal, "radius": 40.0}
    assert points[unplaced["callId"]] is None
    assert detail["point"] == {**at_postal, "radius": 40.0}
    assert detail["snapshotUrl"]


def test_coordinates_win_over_the_postal_and_a_new_postal_moves_a_call_without_them(
    server: Server, community: Community, alice: Any
) -> None:
    set_postals(server, community, RESOURCE_POSTALS)
    with server.client(community.api_key) as api:
        placed = api.post(f"{S1}/dispatch-calls", json=new_dispatch(postal="9001")).json()
        moved = api.post(f"{S1}/dispatch-calls", json=new_dispatch(postal="100", metaData={})).json()
        assert (
            api.patch(f"{S1}/dispatch-calls/{moved['callId']}/postal", json={"postal": "8061"}).status_code
            == 200
        )
    with console(server, community) as session:
        own = session.get(f"{C1}/calls/{placed['callId']}").json()["point"]
        after = session.get(f"{C1}/calls/{moved['callId']}").json()["point"]
    assert own == {"x": 425.1, "y": -979.2, "radius": 75.0, "fromPostal": False}
    assert (after["x"], after["y"], after["fromPostal"]) == (-1037.7, -2737.9, True)


def test_another_communitys_postals_are_not_this_ones(
    server: Server, community: Community, provision: Provisioner, alice: Any
) -> None:
    other = provision.community("Other")
    set_postals(server, other, RESOURCE_POSTALS)
    with server.client(community.api_key) as api:
        created = api.post(f"{S1}/calls/911", json=new_911(metaData={"x": "425", "y": "-979"})).json()
    assert "postal" not in created["metaData"]
    with console(server, community) as session:
        missing = session.get("/console/api/postals/100")
    assert missing.status_code == 404 and "100" in missing.json()["detail"]


def test_the_console_postal_search_needs_a_session(server: Server, community: Community) -> None:
    set_postals(server, community, RESOURCE_POSTALS)
    with server.client(community.api_key) as api:  # an API key is no console session
        assert api.get("/console/api/postals/100").status_code == 401
