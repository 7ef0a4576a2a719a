"""Map blips over v2: create, list, update and delete as the docs pages show them, per community and per
server, bounded, limited, on the console's board, and through the real sonoran-py."""

from __future__ import annotations

import json
from typing import Any

import pytest

from opendispatch.maps.schemas import MAX_BLIPS_PER_SERVER
from tests.maps.support import BLIPS, blip_body, console
from tests.support import Community, LiveServer, Provisioner, Server, every_row_count
from tests.test_sdk import sdk
from tests.web.support import C1

S2_BLIPS = "/v2/emergency/servers/2/blips"
JSON = {"content-type": "application/json"}


def create(server: Server, community: Community, body: Any, path: str = BLIPS) -> dict[str, Any]:
    with server.client(community.api_key) as api:
        answer = api.post(path, json=body)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


def listed(server: Server, community: Community, path: str = BLIPS) -> list[dict[str, Any]]:
    with server.client(community.api_key) as api:
        answer = api.get(path)
        assert answer.status_code == 200, answer.text
        return list(answer.json())


def test_a_blip_is_created_listed_updated_and_deleted_as_the_docs_show(
    server: Server, community: Community
) -> None:
    created = create(server, community, blip_body())
    # The docs' answer: the blip with its id, every field back.
    assert set(created) == {"id", "coordinates", "subType", "icon", "color", "tooltip", "data", "radius"}
    assert created == {"id": created["id"], **blip_body()}
    assert listed(server, community) == [created]

    with server.client(community.api_key) as api:
        changes = {"tooltip": "Updated perimeter", "color": "#00a3ff", "radius": 150}
        updated = api.patch(f"{BLIPS}/{created['id']}", json=changes)
        assert updated.status_code == 200 and updated.json() == {"id": created["id"]}
        moved = api.patch(f"{BLIPS}/{created['id']}", json={"coordinates": {"x": 1.5}})
        assert moved.json() == {"id": created["id"]}
    [after] = listed(server, community)
    assert after == {
        **created,
        **changes,
        "radius": 150.0,
        "coordinates": {"x": 1.5, "y": -981.9, "z": 0.0, "w": 0.0},
    }

    with server.client(community.api_key) as api:
        deleted = api.post(f"{BLIPS}/delete", json={"ids": [created["id"]]})
    assert deleted.status_code == 200 and deleted.json() == {"ids": [created["id"]]}
    assert listed(server, community) == []


def test_the_lua_sdk_and_the_older_resource_bodies_are_taken(server: Server, community: Community) -> None:
    # createBlipV2's example, with the Lua resource's habits: numbers as text, data as {} (empty table),
    # the older resource's id -1 and a 2D position.
    lua = {
        "coordinates": {"x": "425.1", "y": "-979.2"},
        "subType": "radius",
        "icon": "fire",
        "color": "#ff0000",
        "tooltip": "Structure Fire",
        "radius": "25",
        "data": {},
        "id": -1,
        "serverId": 1,
    }
    created = create(server, community, lua)
    assert created["coordinates"] == {"x": 425.1, "y": -979.2, "z": 0.0, "w": 0.0}
    assert created["radius"] == 25.0 and created["data"] == [] and created["id"] > 0
    # The resource's legacy blip exports (sonoran_api.lua CadApiCreateBlips) wrap the older v1 item's blip.
    older = {"id": -1, "coordinates": {"x": 1, "y": 2}, "tooltip": None}
    wrapped = create(server, community, {"blip": older})
    assert (wrapped["coordinates"]["x"], wrapped["tooltip"]) == (1.0, "")
    # The Lua SDK sends an empty ids table as [] or {}.
    with server.client(community.api_key) as api:
        assert api.post(f"{BLIPS}/delete", json={"ids": {}}).json() == {"ids": []}
        assert api.post(f"{BLIPS}/delete", json={"ids": [str(created["id"])]}).json() == {
            "ids": [created["id"]]
        }


def test_blips_belong_to_their_server_and_ids_are_never_reused(
    server: Server, provision: Provisioner
) -> None:
    community = provision.community("Two servers", servers=2)
    first = create(server, community, blip_body(tooltip="one"))
    second = create(server, community, blip_body(tooltip="two"), path=S2_BLIPS)
    assert second["id"] == first["id"] + 1
    assert [blip["tooltip"] for blip in listed(server, community)] == ["one"]
    assert [blip["tooltip"] for blip in listed(server, community, S2_BLIPS)] == ["two"]
    with server.client(community.api_key) as api:
        # Server 1 does not reach server 2's blip.
        assert api.patch(f"{BLIPS}/{second['id']}", json={"tooltip": "x"}).status_code == 404
        assert api.post(f"{BLIPS}/delete", json={"ids": [second["id"]]}).status_code == 404
        assert api.post(f"{S2_BLIPS}/delete", json={"ids": [second["id"]]}).status_code == 200
    third = create(server, community, blip_body())
    assert third["id"] == second["id"] + 1


def test_another_communitys_blips_are_404_and_untouched(
    server: Server, community: Community, provision: Provisioner
) -> None:
    other = provision.community("Other")
    # Ids count per community: theirs reach an id this community has not handed out yet.
    for _ in range(2):
        create(server, other, blip_body(tooltip="theirs"))
    theirs = create(server, other, blip_body(tooltip="theirs"))
    mine = create(server, community, blip_body(tooltip="mine"))
    with server.client(community.api_key) as api:
        assert [blip["tooltip"] for blip in api.get(BLIPS).json()] == ["mine"]
        patched = api.patch(f"{BLIPS}/{theirs['id']}", json={"tooltip": "stolen"})
        assert patched.status_code == 404 and str(theirs["id"]) in patched.json()["detail"]
        # One id that is not ours: nothing is deleted, ours neither.
        both = api.post(f"{BLIPS}/delete", json={"ids": [mine["id"], theirs["id"]]})
        assert both.status_code == 404
        assert api.get("/v2/emergency/servers/9/blips").status_code == 404
    assert listed(server, other)[-1] == theirs
    assert listed(server, community) == [mine]


def test_a_server_holds_at_most_500_blips(
    server: Server, community: Community, provision: Provisioner
) -> None:
    provision.set_limit(community, "create_blip", 10_000)
    for _ in range(MAX_BLIPS_PER_SERVER):
        create(server, community, blip_body(data=[]))
    with server.client(community.api_key) as api:
        refused = api.post(BLIPS, json=blip_body())
    assert refused.status_code == 409 and "500" in refused.json()["detail"]
    assert len(listed(server, community)) == MAX_BLIPS_PER_SERVER


BAD_CREATES: dict[str, tuple[Any, str]] = {
    "no coordinates": ({"tooltip": "t"}, "coordinates"),
    "coordinates without y": (blip_body(coordinates={"x": 1}), "y"),
    "x not a number": (blip_body(coordinates={"x": "east", "y": 1}), "x"),
    "x beyond any map": (blip_body(coordinates={"x": 1e9, "y": 1}), "x"),
    "coordinates an array": (blip_body(coordinates=[1, 2]), "coordinates"),
    "radius negative": (blip_body(radius=-1), "radius"),
    "radius infinite": (blip_body(radius="inf"), "radius"),
    "tooltip too long": (blip_body(tooltip="t" * 256), "tooltip"),
    "icon too long": (blip_body(icon="i" * 1025), "icon"),
    "color too long": (blip_body(color="c" * 65), "color"),
    "subType an object": (blip_body(subType={"a": 1}), "subType"),
    "data not a list": (blip_body(data="Units: 2"), "data"),
    "data row not an object": (blip_body(data=["Units"]), "data"),
    "data of 21 rows": (blip_body(data=[{"title": "t", "text": "x"}] * 21), "data"),
    "data text too long": (blip_body(data=[{"title": "t", "text": "x" * 1025}]), "text"),
    "tooltip with a lone surrogate": (blip_body(tooltip="\ud800"), "tooltip"),
}


@pytest.mark.parametrize("case", BAD_CREATES, ids=list(BAD_CREATES))
def test_a_bad_new_blip_is_a_400_naming_the_field_and_changes_nothing(
    server: Server, community: Community, provision: Provisioner, case: str
) -> None:
    create(server, community, blip_body())
    before = every_row_count(provision)
    body, field = BAD_CREATES[case]
    with server.client(community.api_key) as api:
        answer = api.post(BLIPS, content=json.dumps(body), headers=JSON)  # ASCII: lone surrogates too
    assert answer.status_code == 400, answer.text
    assert field in answer.json()["detail"]
    assert every_row_count(provision) == before


BAD_CHANGES: dict[str, tuple[Any, str]] = {
    "nothing to change": ({}, "body"),
    "only nulls": ({"tooltip": None}, "body"),
    "radius a word": ({"radius": "wide"}, "radius"),
    "coordinates a string": ({"coordinates": "1,2"}, "coordinates"),
    "tooltip too long": ({"tooltip": "t" * 256}, "tooltip"),
    "data of 21 rows": ({"data": [{"title": "t"}] * 21}, "data"),
}


@pytest.mark.parametrize("case", BAD_CHANGES, ids=list(BAD_CHANGES))
def test_a_bad_blip_change_is_a_400_naming_the_field_and_changes_nothing(
    server: Server, community: Community, case: str
) -> None:
    created = create(server, community, blip_body())
    body, field = BAD_CHANGES[case]
    with server.client(community.api_key) as api:
        answer = api.patch(f"{BLIPS}/{created['id']}", json=body)
    assert answer.status_code == 400, answer.text
    assert field in answer.json()["detail"]
    assert listed(server, community) == [created]


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "ids"), ({"ids": 5}, "ids"), ({"ids": ["one"]}, "ids"), ({"ids": list(range(1, 502))}, "ids")],
)
def test_a_bad_delete_is_a_400_naming_ids_and_deletes_nothing(
    server: Server, community: Community, body: Any, field: str
) -> None:
    created = create(server, community, blip_body())
    with server.client(community.api_key) as api:
        answer = api.post(f"{BLIPS}/delete", json=body)
    assert answer.status_code == 400, answer.text
    assert field in answer.json()["detail"]
    assert listed(server, community) == [created]


@pytest.mark.parametrize(
    ("method", "path", "body", "per_minute"),
    [
        ("GET", BLIPS, None, 10),
        ("POST", BLIPS, blip_body(), 30),
        ("PATCH", f"{BLIPS}/1", {"tooltip": "t"}, 30),
        ("POST", f"{BLIPS}/delete", {"ids": []}, 30),
    ],
)
def test_each_blip_operation_is_limited_per_key_as_its_docs_page_states(
    server: Server, community: Community, method: str, path: str, body: Any, per_minute: int
) -> None:
    create(server, community, blip_body())  # blip 1, so PATCH succeeds
    with server.client(community.api_key) as api:
        used = 1 if method == "POST" and path == BLIPS else 0
        for _ in range(per_minute - used):
            assert api.request(method, path, json=body).status_code == 200
        refused = api.request(method, path, json=body)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0


def test_the_console_board_carries_the_servers_blips(
    server: Server, community: Community, alice: Any
) -> None:
    created = create(server, community, blip_body())
    with console(server, community) as session:
        board = session.get(f"{C1}/board").json()
    assert board["blips"] == [created]


def test_blip_changes_are_events_of_the_live_stream_and_never_pushed(
    server: Server, community: Community, provision: Provisioner
) -> None:
    with server.client(community.api_key) as api:
        assert (
            api.put(
                "/v2/general/servers", json={"servers": [{"id": 1, "pushUrl": "http://127.0.0.1:9/e"}]}
            ).status_code
            == 200
        )
    created = create(server, community, blip_body())
    with server.client(community.api_key) as api:
        api.patch(f"{BLIPS}/{created['id']}", json={"tooltip": "t"})
        api.post(f"{BLIPS}/delete", json={"ids": [created["id"]]})
    kinds = provision.scalar(
        "SELECT count(*) FROM events WHERE type = 'EVENT_BLIPS_CHANGED' AND state = 'skipped'"
    )
    assert kinds == 3


# -- the real sonoran-py ---------------------------------------------------------------------------------


def test_the_sdks_blip_methods_create_list_update_and_delete(live: LiveServer, community: Community) -> None:
    cad = sdk(live, community.api_key, community.community_id)
    request = {
        "serverId": 1,
        "coordinates": {"x": 425.1, "y": -979.2, "z": 30.7, "w": 0},
        "subType": "radius",
        "icon": "fire",
        "color": "#ff0000",
        "tooltip": "Structure Fire",
        "radius": 25,
    }
    created = cad.createBlipV2(request)
    assert created.success, created.reason
    blip_id = created.data["id"]
    listed = cad.getBlipsV2(1)
    assert listed.success and [blip["tooltip"] for blip in listed.data] == ["Structure Fire"]

    updated = cad.updateBlipV2(blip_id, {"serverId": 1, "tooltip": "Updated marker", "color": "#ffaa00"})
    assert updated.success and updated.data == {"id": blip_id}
    [after] = cad.getBlipsV2(1).data
    assert (after["tooltip"], after["color"], after["radius"]) == ("Updated marker", "#ffaa00", 25.0)

    deleted = cad.deleteBlipsV2([blip_id], 1)
    assert deleted.success and deleted.data == {"ids": [blip_id]}
    assert cad.getBlipsV2(1).data == []


def test_the_sdks_set_postals_replaces_the_list(live: LiveServer, community: Community) -> None:
    cad = sdk(live, community.api_key, community.community_id)
    answer = cad.setPostalsV2([{"code": "100", "x": 425.1, "y": -979.2}])
    assert answer.success and answer.data == {"updated": 1}
    created = cad.createEmergencyCallV2(
        {
            "serverId": 1,
            "isEmergency": True,
            "caller": "c",
            "location": "l",
            "description": "d",
            "metaData": {"x": "420", "y": "-975"},
        }
    )
    assert created.success and created.data["metaData"]["postal"] == "100"
