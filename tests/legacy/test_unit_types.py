"""The v1 unit and identifier types in the JS SDK's forms (positional items included), and the new targets."""

from __future__ import annotations

from typing import Any

import pytest

from opendispatch.communities.schemas import Plan
from tests.legacy.v1 import World, sdk_body, set_community
from tests.support import Provisioner, Server
from tests.units.support import give_ids


def v1(world: World, type: str, data: Any) -> tuple[int, str]:
    answer = world.post(f"/emergency/{type.lower()}", sdk_body(world.community, type, data))
    return answer.status_code, answer.text


def unit(world: World, number: int) -> dict[str, Any]:
    return world.units()[world.idents[number]]


@pytest.fixture
def ids(world: World) -> World:
    """Officer 0 also has a Discord id, a Roblox id and an older API id."""
    give_ids(
        world.provision,
        world.community,
        world.accounts[0],
        discord="8675309",
        roblox="42",
        api_ids=("steam:0",),
    )
    return world


@pytest.mark.parametrize(
    "target",
    [
        {"apiId": "steam:0"},
        {"apiId": "license:0"},
        {"communityUserId": "license:0"},
        {"units": ["license:0"]},
        {"discord": "8675309"},
        {"roblox": 42},
        {"account": "{account}"},
        {"accountUuid": "{account}"},
        {"identIds": ["{ident}"]},
    ],
    ids=lambda target: next(iter(target)),
)
def test_status_panic_and_location_take_every_target(ids: World, target: dict[str, Any]) -> None:
    world = ids
    named = {
        key: (
            world.accounts[0]
            if value == "{account}"
            else [world.idents[0]]
            if value == ["{ident}"]
            else value
        )
        for key, value in target.items()
    }
    # The JS SDK's setUnitStatus object form: {apiId, account, status, serverId}, undefined keys dropped.
    assert v1(world, "UNIT_STATUS", [{**named, "status": 4, "serverId": 1}]) == (200, "UNIT STATUS UPDATED")
    assert v1(world, "UNIT_PANIC", [{**named, "isPanic": True}]) == (200, "UNIT PANIC UPDATED")
    report = {**named, "location": "Sandy Shores", "x": "10.5", "y": 20, "z": 3, "heading": 270}
    assert v1(world, "UNIT_LOCATION", [[report]]) == (200, "UNIT LOCATION UPDATED")
    mine, other = unit(world, 0), unit(world, 1)
    assert (mine["status"], mine["isPanic"], mine["location"]) == (4, True, "Sandy Shores")
    assert mine["coordinates"] == {"x": 10.5, "y": 20.0, "z": 3.0, "w": 270.0}
    assert (other["status"], other["isPanic"], other["location"]) == (0, False, "")


def test_status_offline_is_a_status(world: World) -> None:
    assert v1(world, "UNIT_STATUS", [{"apiId": "license:1", "status": "100", "serverId": "1"}]) == (
        200,
        "UNIT STATUS UPDATED",
    )
    assert unit(world, 1)["status"] == 100


def test_kick_unit_in_the_sdks_positional_form_and_named(world: World) -> None:
    # kickUnit(apiId, reason, serverId) sends {"0": apiId, "1": reason, "2": serverId}.
    assert v1(world, "KICK_UNIT", [{"0": "license:0", "1": "Automated AFK Timer", "2": 1}]) == (
        200,
        "UNIT KICKED",
    )
    assert unit(world, 0)["status"] == 100
    assert world.dispatch()["idents"] == []  # officer 0 left the dispatch call
    assert v1(world, "KICK_UNIT", [{"apiId": "license:1", "reason": "AFK", "serverId": 1}]) == (
        200,
        "UNIT KICKED",
    )
    assert unit(world, 1)["status"] == 100
    status, text = v1(world, "KICK_UNIT", [{"apiId": "license:nobody", "reason": "AFK", "serverId": 1}])
    assert status == 404 and text.startswith("NOT FOUND: data[0]:")


def test_get_identifiers_in_the_sdks_positional_form_and_named(world: World) -> None:
    for item in ({"0": "license:0"}, {"apiId": "license:0"}, {"account": world.accounts[0]}):
        answer = world.post(
            "/emergency/get_identifiers", sdk_body(world.community, "GET_IDENTIFIERS", [item])
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("application/json")
        listed = answer.json()
        assert listed["selectedIdent"] == world.idents[0]
        assert [ident["id"] for ident in listed["identifiers"]] == [world.idents[0]]
        assert listed["identifiers"][0]["data"]["unitNum"] == "1A-00"
    status, text = v1(world, "GET_IDENTIFIERS", [{"0": "license:nobody"}])
    assert status == 404 and text.startswith("NOT FOUND")
    status, text = v1(world, "GET_IDENTIFIERS", [{"reason": "no one named"}])
    assert status == 400 and "apiId" in text


def test_modify_identifier_adds_edits_and_removes(world: World) -> None:
    added = world.post(
        "/emergency/modify_identifier",
        sdk_body(
            world.community,
            "MODIFY_IDENTIFIER",
            [
                {
                    "apiId": "license:1",
                    "action": 0,
                    "identifier": {"unitNum": "2B-09", "district": "Blaine", "page": 1},
                }
            ],
        ),
    )
    assert added.status_code == 200, added.text
    ident = added.json()["id"]
    assert added.json()["data"]["district"] == "Blaine" and added.json()["data"]["page"] == 1
    edit = [
        {"account": world.accounts[1], "action": "1", "identId": ident, "identifier": {"rank": "Sergeant"}}
    ]
    edited = world.post("/emergency/modify_identifier", sdk_body(world.community, "MODIFY_IDENTIFIER", edit))
    assert edited.status_code == 200 and edited.json()["data"]["rank"] == "Sergeant", edited.text
    assert edited.json()["data"]["district"] == "Blaine"  # only the fields sent change
    # SET_IDENTIFIER: setIdentifier(apiId, identId) sends {"0": apiId, "1": identId}; then a second read.
    assert v1(world, "SET_IDENTIFIER", [{"0": "license:1", "1": ident}]) == (200, "Identifier Switched!")
    chosen = world.v2.get(f"/v2/emergency/accounts/{world.accounts[1]}/identifiers").json()
    assert chosen["SelectedIdent"] == ident and chosen["selected"] == {"1": ident}
    on_server = world.units()
    assert ident in on_server and world.idents[1] not in on_server  # the new identifier is the one on duty
    assert v1(world, "SET_IDENTIFIER", [{"0": "license:1", "1": world.idents[1]}]) == (
        200,
        "Identifier Switched!",
    )
    removed = v1(world, "MODIFY_IDENTIFIER", [{"apiId": "license:1", "action": 2, "identId": ident}])
    assert removed == (200, f"Identifier {ident} removed!")
    listed = world.v2.get(f"/v2/emergency/accounts/{world.accounts[1]}/identifiers").json()
    assert [item["id"] for item in listed["Identifiers"]] == [world.idents[1]]


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"apiId": "license:1", "action": 5}, "action"),
        ({"apiId": "license:1", "action": 1, "identifier": {"rank": "x"}}, "identId"),
        ({"apiId": "license:1", "action": 0, "identifier": {"page": 9}}, "page"),
        ({"action": 0}, "apiId"),
    ],
)
def test_bad_modify_identifier_items_are_400s_and_change_nothing(
    world: World, item: dict[str, Any], field: str
) -> None:
    before = world.v2.get(f"/v2/emergency/accounts/{world.accounts[1]}/identifiers").json()
    status, text = v1(world, "MODIFY_IDENTIFIER", [item])
    assert status == 400 and field in text, text
    assert world.v2.get(f"/v2/emergency/accounts/{world.accounts[1]}/identifiers").json() == before


@pytest.mark.parametrize("type", ["IDENTS_TO_GROUP", "SET_IDENTIFIERS_TO_GROUP"])
def test_identifiers_to_group_by_ids_and_account_in_the_sdks_forms(world: World, type: str) -> None:
    first, second = world.idents
    entry = {"serverId": 1, "identIds": [first], "groupName": "Group 1"}
    assert v1(world, type, [entry]) == (200, f"Set idents {first} to group 'Group 1'.")
    assert unit(world, 0)["data"]["group"] == "Group 1"
    # setIdentifiersToGroup([...]) may arrive as its object clone {"0": entry, "1": entry}.
    both = {
        "0": {"serverId": 1, "identIds": [], "account": world.accounts[1], "groupName": "Group 2"},
        "1": {"serverId": 1, "identIds": [first], "groupName": ""},
    }
    assert v1(world, type, [both]) == (
        200,
        f"Set idents {second} to group 'Group 2'.\nSet idents {first} to group ''.",
    )
    assert (unit(world, 0)["data"]["group"], unit(world, 1)["data"]["group"]) == ("", "Group 2")
    status, text = v1(world, type, [{"serverId": 1, "identIds": [first]}])
    assert status == 400 and "groupName" in text


@pytest.mark.parametrize(
    ("plan", "type", "item", "allowed"),
    [
        (Plan.PLUS, "MODIFY_IDENTIFIER", {"apiId": "license:1", "action": 0}, False),
        (Plan.PLUS, "IDENTS_TO_GROUP", {"serverId": 1, "identIds": [1], "groupName": "G"}, False),
        (Plan.PLUS, "SET_IDENTIFIER", {"0": "license:1", "1": 1}, True),
        (Plan.STANDARD, "GET_IDENTIFIERS", {"0": "license:1"}, False),
        (Plan.STANDARD, "KICK_UNIT", {"0": "license:1", "1": "AFK", "2": 1}, True),
    ],
)
def test_identifier_types_need_their_plans(
    server: Server, provision: Provisioner, plan: Plan, type: str, item: dict[str, Any], allowed: bool
) -> None:
    community = provision.community("Planned")
    provision.unit(community, provision.account(community, "one", "license:1")["uuid"])
    set_community(provision, community, plan=plan)
    with server.client() as http:
        answer = http.post(f"/emergency/{type.lower()}", json=sdk_body(community, type, [item]))
    if allowed:
        assert answer.status_code == 200, answer.text
    else:
        assert (answer.status_code, answer.text) == (400, "API IS NOT ENABLED FOR THIS COMMUNITY")


def test_another_communitys_accounts_and_units_are_not_found(world: World) -> None:
    other = world.provision.community("Other")
    stranger = world.provision.account(other, "stranger", "license:stranger")
    ident = world.provision.unit(other, stranger["uuid"])
    for type, item in (
        ("GET_IDENTIFIERS", {"account": stranger["uuid"]}),
        ("SET_IDENTIFIER", {"apiId": "license:stranger", "identId": ident}),
        ("KICK_UNIT", {"apiId": "license:stranger", "reason": "x", "serverId": 1}),
        ("IDENTS_TO_GROUP", {"serverId": 1, "identIds": [ident], "groupName": "G"}),
        ("MODIFY_IDENTIFIER", {"account": stranger["uuid"], "action": 2, "identId": ident}),
        ("UNIT_STATUS", {"apiId": "license:stranger", "status": 2, "serverId": 1}),
    ):
        status, text = v1(world, type, [item])
        assert status == 404 and text.startswith("NOT FOUND"), (type, text)
    # The owner's own identifier, named through this community's account, is not reachable either.
    status, _ = v1(world, "MODIFY_IDENTIFIER", [{"apiId": "license:1", "action": 2, "identId": ident}])
    assert status == 404


def test_a_server_id_past_the_wire_range_is_refused_not_a_server_error(world: World) -> None:
    for server_id in (-(2**63), 2**63):
        status, text = v1(
            world, "SET_IDENTIFIER", [{"apiId": "license:1", "identId": 1, "serverId": server_id}]
        )
        assert status == 400 and "serverId" in text, (server_id, status, text)
