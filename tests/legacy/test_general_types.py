"""The v1 general types of the accounts and servers: GET_ACCOUNT, CHECK_APIID, SET_API_ID, VERIFY_SECRET
and SET_SERVERS, each sent exactly as the JS SDK (Sonoran.js 1.0.107) builds it, with the effect checked
through v2.

The JS SDK copies its argument array with ``Object.assign(Object.create(args), args)``, which JSON writes
as an object: GET_ACCOUNT's items are ``{"0": apiId, "1": username}``, SET_SERVERS' data is
``{"0": [servers], "1": deployMap}``. SET_API_ID sends ``[data]``; VERIFY_SECRET ``[{secret}]``.
"""

from __future__ import annotations

import json

from opendispatch.communities.service import server_configuration
from tests.legacy.v1 import World, envelope, sdk_body

GENERAL = "/general/"


def test_get_account_by_api_id_or_username_as_the_js_sdk_sends_it(world: World) -> None:
    officer = world.accounts[0]
    by_id = world.post(
        GENERAL + "get_account", sdk_body(world.community, "GET_ACCOUNT", [{"0": "license:0"}])
    )
    assert by_id.status_code == 200, by_id.text
    assert (
        by_id.json() == world.v2.get("/v2/general/accounts/account", params={"accountUuid": officer}).json()
    )
    assert by_id.json()["uuid"] == officer and by_id.json()["username"] == "officer0"
    # getAccount({username}) leaves apiId undefined, which JSON drops.
    by_name = world.post(
        GENERAL + "get_account", sdk_body(world.community, "GET_ACCOUNT", [{"1": "officer1"}])
    )
    assert by_name.json()["uuid"] == world.accounts[1]
    # The older in-game resource's object form.
    old = world.post(
        GENERAL + "get_account", envelope(world.community, "GET_ACCOUNT", [{"apiId": "license:1"}])
    )
    assert old.json()["uuid"] == world.accounts[1]
    missing = world.post(
        GENERAL + "get_account", sdk_body(world.community, "GET_ACCOUNT", [{"0": "license:9"}])
    )
    assert missing.status_code == 404 and missing.text.startswith("NOT FOUND")


def test_set_api_id_then_check_apiid_as_the_js_sdk_sends_them(world: World) -> None:
    change = {"username": "officer0", "apiIds": ["steam:110000100000001", "xbl:2"], "pushNew": False}
    answer = world.post(GENERAL + "set_api_id", sdk_body(world.community, "SET_API_ID", [change]))
    assert answer.status_code == 200, answer.text
    assert answer.text == "API IDS SET"
    holder = world.v2.get("/v2/general/api-ids/steam:110000100000001").json()
    assert holder["accountUuid"] == world.accounts[0]

    # checkApiId(apiId): one positional argument.
    found = world.post(GENERAL + "check_apiid", sdk_body(world.community, "CHECK_APIID", [{"0": "xbl:2"}]))
    assert found.status_code == 200, found.text
    assert found.json() == world.v2.get("/v2/general/api-ids/xbl:2").json()
    # The older in-game resource reads a 404 as "no such API id".
    unknown = world.post(
        GENERAL + "check_apiid", envelope(world.community, "CHECK_APIID", [{"apiId": "xbl:9"}])
    )
    assert unknown.status_code == 404

    # pushNew as Lua writes booleans from convars: text.
    more = {"username": "officer0", "apiIds": "fivem:3", "pushNew": "true"}
    assert (
        world.post(GENERAL + "set_api_id", envelope(world.community, "SET_API_ID", [more])).status_code == 200
    )
    assert world.v2.get("/v2/general/api-ids/fivem:3").status_code == 200
    assert world.v2.get("/v2/general/api-ids/xbl:2").status_code == 200


def test_bad_set_api_id_items_are_400s_naming_the_field_and_change_nothing(world: World) -> None:
    for item, named in (
        ({"apiIds": ["x"]}, "exactly one"),
        ({"username": "officer0"}, "apiIds"),
        ({"username": "officer0", "apiIds": ["x"], "pushNew": "maybe"}, "pushNew"),
        ({"username": "nobody", "apiIds": ["x"]}, "NOT FOUND"),
    ):
        answer = world.post(GENERAL + "set_api_id", sdk_body(world.community, "SET_API_ID", [item]))
        assert answer.status_code in (400, 404), answer.text
        assert named in answer.text
    assert world.v2.get("/v2/general/api-ids/x").status_code == 404


def test_verify_secret_as_the_js_sdk_sends_it(world: World) -> None:
    officer = world.provision.account(world.community, "sergeant")
    answer = world.post(
        GENERAL + "verify_secret", sdk_body(world.community, "VERIFY_SECRET", [{"secret": officer["secret"]}])
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {officer["secret"]: officer["uuid"]}
    wrong = world.post(
        GENERAL + "verify_secret", sdk_body(world.community, "VERIFY_SECRET", [{"secret": "nope"}])
    )
    assert wrong.status_code == 404
    empty = world.post(GENERAL + "verify_secret", sdk_body(world.community, "VERIFY_SECRET", [{}]))
    assert empty.status_code == 400 and "secret" in empty.text


def test_set_servers_as_the_js_sdk_sends_it_keeps_the_other_servers(world: World) -> None:
    server = {
        "id": 1,
        "name": "Main Server",
        "description": "Primary patrol server",
        "signal": "100",
        "mapUrl": "",
        "mapIp": "203.0.113.10",
        "listenerPort": 30120,  # the JS SDK's type says number
        "differingOutbound": False,
        "outboundIp": "",
        "enableMap": True,
        "isStatic": False,
        "mapType": "NORMAL",
    }
    body = sdk_body(world.community, "SET_SERVERS", {"0": [server], "1": False})
    answer = world.post(GENERAL + "set_servers", body)
    assert answer.status_code == 200, answer.text
    assert answer.json() == world.v2.get("/v2/general/servers").json()
    first, second = answer.json()["servers"]
    assert (first["name"], first["listenerPort"], first["mapIp"]) == ("Main Server", "30120", "203.0.113.10")
    assert second["id"] == 2 and second["name"] == "Server 2"
    # GET_SERVERS answers the same list.
    listed = world.post(GENERAL + "get_servers", sdk_body(world.community, "GET_SERVERS", []))
    assert listed.json() == answer.json()


def test_bad_set_servers_data_is_a_400_and_changes_nothing(world: World) -> None:
    before = world.v2.get("/v2/general/servers").json()
    for data, named in (
        ({"0": [{"id": 1, "enableMap": "on"}], "1": False}, "enableMap"),
        ({"0": [], "1": False}, "servers"),
        ({"0": [{"id": 1}], "1": "perhaps"}, "deployMap"),
    ):
        answer = world.post(GENERAL + "set_servers", sdk_body(world.community, "SET_SERVERS", data))
        assert answer.status_code == 400, answer.text
        assert named in answer.text
    assert world.v2.get("/v2/general/servers").json() == before


def street_signs(world: World) -> list[dict[str, object]] | None:
    with world.provision.db.transaction() as conn:
        stored = server_configuration(conn, community_id=world.community.community_id, server_id=1)
    return stored.streetSigns


def test_street_signs_set_then_changed_as_the_js_sdk_sends_them(world: World) -> None:
    signs = [
        {"id": 1, "label": "Alta", "text1": "ALTA ST", "text2": "", "text3": ""},
        {"id": 2, "label": "Vespucci", "text1": "VESPUCCI", "text2": "", "text3": ""},
    ]
    # setStreetSignConfig(serverId, signs): two positional arguments.
    answer = world.post(
        "/emergency/set_streetsign_config",
        sdk_body(world.community, "SET_STREETSIGN_CONFIG", [{"0": 1, "1": signs}]),
    )
    assert answer.status_code == 200, answer.text
    assert json.loads(answer.text) == {"serverId": 1, "signs": 2}
    # updateStreetSign(serverId, {ids, text1, text2, text3})
    change = {"ids": [2], "text1": "CLOSED", "text2": "ROAD WORK", "text3": ""}
    answer = world.post(
        "/emergency/update_streetsign",
        sdk_body(world.community, "UPDATE_STREETSIGN", [{"0": 1, "1": change}]),
    )
    assert answer.status_code == 200, answer.text
    assert json.loads(answer.text) == {"ids": [2]}
    texts = [
        (sign["id"], sign["label"], sign["text1"], sign["text2"], sign["text3"])
        for sign in street_signs(world) or []
    ]
    assert texts == [(1, "Alta", "ALTA ST", "", ""), (2, "Vespucci", "CLOSED", "ROAD WORK", "")]


def test_a_street_sign_change_naming_no_configured_sign_changes_nothing(world: World) -> None:
    world.post(
        "/emergency/set_streetsign_config",
        sdk_body(world.community, "SET_STREETSIGN_CONFIG", [{"0": 1, "1": [{"id": 1, "label": "A"}]}]),
    )
    before = street_signs(world)
    answer = world.post(
        "/emergency/update_streetsign",
        sdk_body(world.community, "UPDATE_STREETSIGN", [{"0": 1, "1": {"ids": [7], "text1": "X"}}]),
    )
    assert answer.status_code == 404 and answer.text.startswith("NOT FOUND"), answer.text
    bad = world.post(
        "/emergency/update_streetsign",
        sdk_body(world.community, "UPDATE_STREETSIGN", [{"0": 1, "1": {"ids": []}}]),
    )
    assert bad.status_code == 400 and "ids" in bad.text, bad.text
    assert street_signs(world) == before
