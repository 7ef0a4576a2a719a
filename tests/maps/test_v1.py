"""The v1 map types as the JS SDK (Sonoran.js) and the older in-game resource (sonrad) send them, their
answers as the v1 docs give them, and their effects as v2 shows them.

The JS SDK wraps SET_POSTALS', ADD_BLIP's and MODIFY_BLIP's array in one more array and sends GET_BLIPS
and REMOVE_BLIP positionally (``{"0": ...}``); sonrad sends ``{serverId: "1", blip: {...}}`` and
``{ids: [...]}``.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.legacy.v1 import SDK_HEADERS, envelope, sdk_body
from tests.maps.support import BLIPS, RESOURCE_POSTALS, blip_body
from tests.support import Community, Provisioner, Server, every_row_count, new_911


def v1(server: Server, path: str, body: Any) -> httpx.Response:
    with server.client() as http:
        return http.post(path, json=body, headers=SDK_HEADERS)


def blips(server: Server, community: Community) -> list[dict[str, Any]]:
    with server.client(community.api_key) as api:
        return list(api.get(BLIPS).json())


def test_set_postals_in_the_sdks_form_and_the_docs_form(server: Server, community: Community) -> None:
    answer = v1(server, "/general/set_postals", sdk_body(community, "SET_POSTALS", [RESOURCE_POSTALS]))
    assert (answer.status_code, answer.text) == (200, "Success")
    with server.client(community.api_key) as api:
        placed = api.post(
            "/v2/emergency/servers/1/calls/911", json=new_911(metaData={"x": "1850", "y": "3600"})
        )
    assert placed.json()["metaData"]["postal"] == "9001"

    # The v1 docs' example: the postals themselves are the items, numbers in their files as text.
    docs = [{"code": "2000", "x": "2325.43", "y": 5147.21}, {"x": 2151.21, "y": 5166.08, "code": 2001}]
    answer = v1(server, "/general/set_postals", envelope(community, "SET_POSTALS", docs))
    assert (answer.status_code, answer.text) == (200, "Success")
    with server.client(community.api_key) as api:
        placed = api.post(
            "/v2/emergency/servers/1/calls/911", json=new_911(metaData={"x": "2150", "y": "5166"})
        )
    assert placed.json()["metaData"]["postal"] == "2001"  # the old list is gone


def test_a_bad_postal_in_set_postals_is_named_and_keeps_the_list(
    server: Server, community: Community, provision: Provisioner
) -> None:
    v1(server, "/general/set_postals", sdk_body(community, "SET_POSTALS", [RESOURCE_POSTALS]))
    before = every_row_count(provision)
    bad = [[{"code": "1", "x": 0, "y": 0}, {"code": "2", "x": "north"}]]
    answer = v1(server, "/general/set_postals", sdk_body(community, "SET_POSTALS", bad))
    assert answer.status_code == 400
    assert "data[0][1].x" in answer.text and "data[0][1].y" in answer.text
    assert every_row_count(provision) == before


def test_add_blip_from_the_sdk_and_from_sonrad_answers_the_blips_with_their_ids(
    server: Server, community: Community
) -> None:
    sdk_blips = [
        [{"serverId": 1, "blip": {"id": -1, **blip_body()}}, {"serverId": 1, "blip": blip_body(tooltip="b")}]
    ]
    answer = v1(server, "/emergency/add_blip", sdk_body(community, "ADD_BLIP", sdk_blips))
    assert answer.status_code == 200, answer.text
    added = answer.json()
    assert [blip["tooltip"] for blip in added] == ["Scene perimeter", "b"]
    assert added[0] == {"id": added[0]["id"], **blip_body()}

    # sonrad's addBlip: serverId from GetConvar (text), a 2D position, its data rows.
    sonrad = [
        {
            "serverId": "1",
            "blip": {
                "id": -1,
                "subType": "repeater",
                "coordinates": {"x": 100.5, "y": -200.25},
                "radius": 396.85,
                "icon": "https://sonoransoftware.com/assets/images/icons/email/radio.png",
                "color": "#00a6ff",
                "tooltip": "Radio Repeater",
                "data": [{"title": "Type", "text": "Radio Tower"}, {"title": "Dishes Alive:", "text": "2/4"}],
            },
        }
    ]
    answer = v1(server, "/emergency/add_blip", envelope(community, "ADD_BLIP", sonrad))
    assert answer.status_code == 200, answer.text
    [repeater] = answer.json()
    assert repeater["id"] == added[1]["id"] + 1  # sonrad stores it as the tower's BlipID
    assert blips(server, community) == [*added, repeater]


def test_get_blips_from_the_sdk_and_from_sonrad(server: Server, community: Community) -> None:
    v1(
        server,
        "/emergency/add_blip",
        sdk_body(community, "ADD_BLIP", [[{"serverId": 1, "blip": blip_body()}]]),
    )
    expected = blips(server, community)
    from_sdk = v1(server, "/emergency/get_blips", sdk_body(community, "GET_BLIPS", [{"0": 1}]))
    from_sonrad = v1(server, "/emergency/get_blips", envelope(community, "GET_BLIPS", [{"serverId": "1"}]))
    assert from_sdk.status_code == from_sonrad.status_code == 200
    assert from_sdk.json() == from_sonrad.json() == expected
    empty = v1(server, "/emergency/get_blips", sdk_body(community, "GET_BLIPS", [{"0": 2}]))
    assert empty.json() == []


def test_modify_blip_names_no_server_and_answers_as_the_docs(server: Server, community: Community) -> None:
    [created] = v1(
        server,
        "/emergency/add_blip",
        sdk_body(community, "ADD_BLIP", [[{"serverId": 1, "blip": blip_body()}]]),
    ).json()
    changes = [
        [{"id": created["id"], "coordinates": {"x": 0, "y": 1}, "color": "#df03fc", "tooltip": "Moved"}]
    ]
    answer = v1(server, "/emergency/modify_blip", sdk_body(community, "MODIFY_BLIP", changes))
    assert (answer.status_code, answer.text) == (200, f"Blip {created['id']} modified!")
    [after] = blips(server, community)
    assert after["coordinates"] == {"x": 0.0, "y": 1.0, "z": 0.0, "w": 0.0}
    assert (after["color"], after["tooltip"], after["icon"]) == ("#df03fc", "Moved", created["icon"])
    # sonrad's whole-blip form, the id as text.
    sonrad = [
        {"id": str(created["id"]), "subType": "repeater", "data": [{"title": "Health", "text": "OFFLINE"}]}
    ]
    answer = v1(server, "/emergency/modify_blip", envelope(community, "MODIFY_BLIP", sonrad))
    assert answer.text == f"Blip {created['id']} modified!"
    assert blips(server, community)[0]["data"] == [{"title": "Health", "text": "OFFLINE"}]


def test_remove_blip_from_the_sdk_and_from_sonrad(server: Server, community: Community) -> None:
    added = v1(
        server,
        "/emergency/add_blip",
        sdk_body(community, "ADD_BLIP", [[{"serverId": 1, "blip": blip_body()} for _ in range(3)]]),
    ).json()
    first, second, third = (blip["id"] for blip in added)
    answer = v1(server, "/emergency/remove_blip", sdk_body(community, "REMOVE_BLIP", [{"0": first}]))
    assert (answer.status_code, answer.text) == (200, f"Blip {first} removed!")
    answer = v1(
        server, "/emergency/remove_blip", envelope(community, "REMOVE_BLIP", [{"ids": [second, third]}])
    )
    assert answer.text == f"Blip {second} removed!\nBlip {third} removed!"
    assert blips(server, community) == []


def test_another_communitys_blip_is_not_found_by_v1(
    server: Server, community: Community, provision: Provisioner
) -> None:
    other = provision.community("Other")
    for _ in range(2):
        v1(
            server,
            "/emergency/add_blip",
            sdk_body(other, "ADD_BLIP", [[{"serverId": 1, "blip": blip_body()}]]),
        )
    theirs = 2
    modify = v1(
        server, "/emergency/modify_blip", sdk_body(community, "MODIFY_BLIP", [[{"id": theirs, "color": "x"}]])
    )
    remove = v1(server, "/emergency/remove_blip", sdk_body(community, "REMOVE_BLIP", [{"0": theirs}]))
    assert modify.status_code == remove.status_code == 404
    assert f"Blip {theirs}" in modify.text
    with server.client(other.api_key) as api:
        assert len(api.get(BLIPS).json()) == 2


def test_bad_blip_items_are_named(server: Server, community: Community) -> None:
    bad_add = [[{"serverId": 1, "blip": {"tooltip": "no position"}}]]
    answer = v1(server, "/emergency/add_blip", sdk_body(community, "ADD_BLIP", bad_add))
    assert answer.status_code == 400 and "data[0][0].coordinates" in answer.text
    no_id = v1(server, "/emergency/modify_blip", sdk_body(community, "MODIFY_BLIP", [[{"color": "red"}]]))
    assert no_id.status_code == 400 and "id" in no_id.text
    bad_ids = v1(server, "/emergency/remove_blip", envelope(community, "REMOVE_BLIP", [{"ids": ["x"]}]))
    assert bad_ids.status_code == 400 and "ids" in bad_ids.text
    assert blips(server, community) == []


def test_remove_blip_ids_that_are_no_whole_number_are_refused_not_a_server_error(
    server: Server, community: Community, provision: Provisioner
) -> None:
    before = every_row_count(provision)
    for odd in ("+-1", "²", "9" * 5000, "1.5"):
        answer = v1(server, "/emergency/remove_blip", sdk_body(community, "REMOVE_BLIP", [{"0": odd}]))
        assert answer.status_code == 400, (odd, answer.status_code, answer.text[:200])
    assert every_row_count(provision) == before
