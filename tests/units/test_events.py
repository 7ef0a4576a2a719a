"""Unit push events: on and off duty (EVENT_UNIT_LOGIN/LOGOUT) and groups (EVENT_UNIT_GROUP_*).

A unit is on duty on a server while it is selected there and not OFFLINE (100): exactly the units Get
Active Units lists. Each change is announced once, to the servers it happened on, in the docs' shapes
(push-events/unit-events/) and in the shape the in-game resource reads (in-game-resource.md §5).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from opendispatch.events import service as events
from opendispatch.settings import Settings
from tests.events.receiver import Receiver
from tests.events.test_stream import Listener
from tests.hub.node import run_client
from tests.legacy.v1 import sdk_body
from tests.support import Community, LiveServer, Provisioner, Server, lift_limits, live_server, new_911

S1 = "/v2/emergency/servers/1"
UNIT_EVENTS = {
    "EVENT_UNIT_LOGIN",
    "EVENT_UNIT_LOGOUT",
    "EVENT_UNIT_GROUP_ADD",
    "EVENT_UNIT_GROUP_REMOVE",
    "EVENT_UNIT_GROUP_CHANGE_NAME",
}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


def target(provision: Provisioner, community: Community, url: str, shape: str) -> None:
    """Point server 1 at the receiver with the community's key in the body."""
    with provision.db.transaction() as conn:
        events.set_push_target(
            conn,
            community_id=community.community_id,
            server_id=1,
            now=provision.now(),
            url=url,
            shape=shape,  # type: ignore[arg-type]
            body_key=community.api_key,
        )


def pushed(server: Server, community: Community, receiver: Receiver) -> list[dict[str, Any]]:
    """Every body pushed to server 1 so far: a 911 call made last arrives last (a server's events go in
    order), so nothing is still on its way."""
    with server.client(community.api_key) as http:
        assert http.post(f"{S1}/calls/911", json=new_911(caller="last")).status_code == 200
    deadline_count = len(receiver.arrivals) + 1
    while True:
        arrivals = receiver.wait_for(deadline_count)
        if arrivals[-1].json["type"] == "EVENT_911":
            return [arrival.json for arrival in arrivals[:-1] if arrival.json["type"] in UNIT_EVENTS]
        deadline_count = len(arrivals) + 1


def streamed(live: LiveServer, community: Community, server_id: int = 1) -> list[tuple[str, Any]]:
    """The unit events of a server from its first event, read from the live stream up to a 911 call
    made last."""
    with live.client(community.api_key) as http:
        answer = http.post(f"/v2/emergency/servers/{server_id}/calls/911", json=new_911(caller="last"))
        assert answer.status_code == 200, answer.text
    listener = Listener(live, community.api_key, f"/v2/emergency/servers/{server_id}/events", 0)
    count = 1
    while listener.wait_for(count)[-1][1] != "EVENT_911":
        count = len(listener.messages) + 1
    listener.close()
    return [(kind, data) for _, kind, data in listener.messages if kind in UNIT_EVENTS]


def ok(answer: Any) -> Any:
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.fixture
def crew(provision: Provisioner, community: Community) -> dict[str, Any]:
    """Ann and Bob, each with a unit on server 1 (status UNAVAILABLE: on duty)."""
    lift_limits(provision, community)
    found: dict[str, Any] = {}
    for name in ("ann", "bob", "cid"):
        account = provision.account(community, name, f"license:{name}")
        found[name] = provision.unit(community, account["uuid"], unit_num=f"1A-{name}")
        found[name + "_account"] = account["uuid"]
    return found


def test_login_and_logout_arrive_once_each_as_the_docs_show_them(
    server: Server, community: Community, provision: Provisioner, receiver: Receiver, crew: dict[str, Any]
) -> None:
    ann = crew["ann"]
    target(provision, community, receiver.url, "array")
    with server.client(community.api_key) as http:
        for status in (2, 3, 100, 100, 2, 2):  # on duty twice over, off, off again, on, on again
            ok(http.patch(f"{S1}/units/status", json={"identIds": [ann], "status": status}))
        shown = [unit for unit in ok(http.get(f"{S1}/units")) if unit["id"] == ann]
    bodies = pushed(server, community, receiver)
    assert bodies == [
        {"key": community.api_key, "type": "EVENT_UNIT_LOGOUT", "data": [{"identId": ann}]},
        {
            "key": community.api_key,
            "type": "EVENT_UNIT_LOGIN",
            # The unit exactly as Get Active Units shows it.
            "data": [{"unit": shown[0], "isDispatch": False, "selfDispatch": False}],
        },
    ]
    unit = bodies[1]["data"][0]["unit"]
    assert (unit["status"], unit["data"]["unitNum"], unit["data"]["communityUserId"]) == (
        2,
        "1A-ann",
        "license:ann",
    )


def test_the_in_game_resource_reads_an_object_and_group_ids_beside_it(
    server: Server, community: Community, provision: Provisioner, receiver: Receiver, crew: dict[str, Any]
) -> None:
    ann, bob = crew["ann"], crew["bob"]
    target(provision, community, receiver.url, "object")
    key = community.api_key
    with server.client(key) as http:
        ok(http.post(f"{S1}/units/kick", json={"identIds": [ann], "reason": "left"}))
        ok(http.patch(f"{S1}/units/status", json={"identIds": [ann], "status": 2}))
        ok(http.put(f"{S1}/identifier-groups/CAR-51", json={"identIds": [ann, bob]}))
        ok(http.put(f"{S1}/identifier-groups/CAR-52", json={"groupName": "CAR-51"}))
        ok(http.put(f"{S1}/identifier-groups/CAR-60", json={"identIds": [bob]}))
        shown = {unit["id"]: unit for unit in ok(http.get(f"{S1}/units"))}
    bodies = pushed(server, community, receiver)
    assert bodies == [
        {"key": key, "type": "EVENT_UNIT_LOGOUT", "data": {"identId": ann}},
        {
            "key": key,
            "type": "EVENT_UNIT_LOGIN",
            # httpd.lua:102-112 reads data.unit.id and data.isDispatch.
            "data": {
                "unit": {**shown[ann], "data": {**shown[ann]["data"], "group": ""}},
                "isDispatch": False,
                "selfDispatch": False,
            },
        },
        # httpd.lua:300-317 reads identId/identIds beside data, data.groupName inside it.
        {
            "key": key,
            "type": "EVENT_UNIT_GROUP_ADD",
            "data": {"identId": ann, "groupName": "CAR-51"},
            "identId": ann,
        },
        {
            "key": key,
            "type": "EVENT_UNIT_GROUP_ADD",
            "data": {"identId": bob, "groupName": "CAR-51"},
            "identId": bob,
        },
        {
            "key": key,
            "type": "EVENT_UNIT_GROUP_CHANGE_NAME",
            "data": {"identIds": [ann, bob], "oldName": "CAR-51", "newName": "CAR-52"},
        },
        {
            "key": key,
            "type": "EVENT_UNIT_GROUP_ADD",
            "data": {"identIds": [ann, bob], "groupName": "CAR-52"},
            "identIds": [ann, bob],
        },
        {"key": key, "type": "EVENT_UNIT_GROUP_REMOVE", "data": {"identId": bob, "groupName": "CAR-52"}},
        {
            "key": key,
            "type": "EVENT_UNIT_GROUP_ADD",
            "data": {"identId": bob, "groupName": "CAR-60"},
            "identId": bob,
        },
    ]
    assert (shown[ann]["data"]["group"], shown[bob]["data"]["group"]) == ("CAR-52", "CAR-60")


def test_selecting_deleting_and_editing_identifiers_moves_units_on_and_off_duty_once(
    live: LiveServer, community: Community, crew: dict[str, Any]
) -> None:
    ann, account = crew["ann"], crew["ann_account"]
    identifiers = f"/v2/emergency/accounts/{account}/identifiers"
    chosen = f"/v2/emergency/accounts/{account}/selected-identifier"
    with live.client(community.api_key) as http:
        spare = ok(http.post(identifiers, json={"unitNum": "1A-spare", "status": 2}))[
            "identId"
        ]  # not selected
        ok(http.patch(f"{identifiers}/{spare}", json={"status": 3}))  # nor on duty anywhere: nothing
        ok(http.put(chosen, json={"identId": spare, "serverId": 1}))  # ann's unit off, the spare on
        ok(http.put(chosen, json={"identId": spare, "serverId": 1}))  # already selected: nothing
        ok(http.put(chosen, json={"identId": spare}))  # every server: on duty on server 2 as well
        ok(http.patch(f"{identifiers}/{spare}", json={"name": "Ann Spare"}))  # on duty still: nothing
        ok(http.patch(f"{identifiers}/{spare}", json={"status": 100}))  # off duty on both servers
        ok(http.patch(f"{identifiers}/{spare}", json={"status": 100}))  # off already: nothing
        ok(http.patch(f"{S1}/units/status", json={"identIds": [spare], "status": 2}))  # on, on both
        ok(http.delete(f"{identifiers}/{spare}"))  # deleted on duty: off on both
        on_one = [unit["id"] for unit in ok(http.get(f"{S1}/units"))]
        on_two = ok(http.get("/v2/emergency/servers/2/units"))
    assert spare not in on_one and ann not in on_one and on_two == []
    one = streamed(live, community, 1)
    two = streamed(live, community, 2)
    kinds_one = [(kind, data.get("identId", data.get("unit", {}).get("id"))) for kind, data in one]
    assert kinds_one == [
        # The crew's units came on duty when they were made (the provisioner's create_unit).
        ("EVENT_UNIT_LOGIN", crew["ann"]),
        ("EVENT_UNIT_LOGIN", crew["bob"]),
        ("EVENT_UNIT_LOGIN", crew["cid"]),
        ("EVENT_UNIT_LOGOUT", ann),
        ("EVENT_UNIT_LOGIN", spare),
        ("EVENT_UNIT_LOGOUT", spare),
        ("EVENT_UNIT_LOGIN", spare),
        ("EVENT_UNIT_LOGOUT", spare),
    ]
    assert [(kind, data.get("identId", data.get("unit", {}).get("id"))) for kind, data in two] == [
        ("EVENT_UNIT_LOGIN", spare),
        ("EVENT_UNIT_LOGOUT", spare),
        ("EVENT_UNIT_LOGIN", spare),
        ("EVENT_UNIT_LOGOUT", spare),
    ]
    assert one[4][1]["unit"]["data"]["unitNum"] == "1A-spare" and one[4][1]["unit"]["status"] == 3


def test_a_kick_logs_out_once_and_a_second_kick_not_again(
    live: LiveServer, community: Community, crew: dict[str, Any]
) -> None:
    ann, bob = crew["ann"], crew["bob"]
    with live.client(community.api_key) as http:
        ok(http.post(f"{S1}/units/kick", json={"identIds": [ann, bob], "reason": "restart"}))
        ok(http.post(f"{S1}/units/kick", json={"identIds": [ann, bob], "reason": "restart"}))
        ok(http.patch(f"{S1}/units/status", json={"identIds": [ann, bob], "status": 100}))
        ok(http.patch(f"{S1}/units/panic", json={"identIds": [ann], "isPanic": True}))  # no duty change
        statuses = {unit["id"]: unit["status"] for unit in ok(http.get(f"{S1}/units?includeOffline=true"))}
    assert (statuses[ann], statuses[bob]) == (100, 100)
    after_logins = streamed(live, community)[3:]
    assert after_logins == [("EVENT_UNIT_LOGOUT", {"identId": ann}), ("EVENT_UNIT_LOGOUT", {"identId": bob})]


def test_group_changes_over_v2_and_v1_are_told_once_each(
    live: LiveServer, community: Community, crew: dict[str, Any]
) -> None:
    ann, bob, cid = crew["ann"], crew["bob"], crew["cid"]
    group = S1 + "/identifier-groups/"

    def v1_group(http: Any, idents: list[int], name: str) -> None:
        body = sdk_body(
            community, "IDENTS_TO_GROUP", [{"serverId": 1, "identIds": idents, "groupName": name}]
        )
        answer = http.post("/emergency/idents_to_group", json=body)
        assert answer.status_code == 200, answer.text

    with live.client(community.api_key) as http:
        ok(http.put(group + "CAR-51", json={"identIds": [ann]}))  # ann joins a new group
        ok(http.put(group + "CAR-51", json={"identIds": [ann, bob]}))  # bob joins; ann is in it already
        ok(http.put(group + "CAR-51", json={"identIds": [bob]}))  # nothing
        ok(http.put(group + "CAR-52", json={"groupName": "CAR-51"}))  # the whole group renamed
        ok(http.put(group + "CAR-60", json={"identIds": [ann]}))  # ann leaves CAR-52 (bob stays) for CAR-60
        v1_group(http, [bob], "")  # bob leaves CAR-52, over v1
        v1_group(http, [bob], "")  # in no group already: nothing
        ok(http.put(group + "CAR-60", json={"identIds": [cid]}))  # cid joins ann in CAR-60
        # cid alone leaving CAR-60 for a name in use (ann's) is no rename: not the whole group.
        ok(http.patch(f"/v2/emergency/accounts/{crew['cid_account']}/identifiers/{cid}", json={"group": ""}))
        groups = {unit["id"]: unit["data"]["group"] for unit in ok(http.get(f"{S1}/units"))}
    assert groups == {ann: "CAR-60", bob: "", cid: ""}
    told = [item for item in streamed(live, community) if item[0] != "EVENT_UNIT_LOGIN"]
    assert told == [
        ("EVENT_UNIT_GROUP_ADD", {"identId": ann, "groupName": "CAR-51"}),
        ("EVENT_UNIT_GROUP_ADD", {"identId": bob, "groupName": "CAR-51"}),
        ("EVENT_UNIT_GROUP_CHANGE_NAME", {"identIds": [ann, bob], "oldName": "CAR-51", "newName": "CAR-52"}),
        ("EVENT_UNIT_GROUP_ADD", {"identIds": [ann, bob], "groupName": "CAR-52"}),
        ("EVENT_UNIT_GROUP_REMOVE", {"identId": ann, "groupName": "CAR-52"}),
        ("EVENT_UNIT_GROUP_ADD", {"identId": ann, "groupName": "CAR-60"}),
        ("EVENT_UNIT_GROUP_REMOVE", {"identId": bob, "groupName": "CAR-52"}),
        ("EVENT_UNIT_GROUP_ADD", {"identId": cid, "groupName": "CAR-60"}),
        ("EVENT_UNIT_GROUP_REMOVE", {"identId": cid, "groupName": "CAR-60"}),
    ]


def test_a_group_moved_whole_onto_a_name_in_use_is_no_rename(
    live: LiveServer, community: Community, crew: dict[str, Any]
) -> None:
    ann, bob = crew["ann"], crew["bob"]
    group = S1 + "/identifier-groups/"
    with live.client(community.api_key) as http:
        ok(http.put(group + "CAR-1", json={"identIds": [ann]}))
        ok(http.put(group + "CAR-2", json={"identIds": [bob]}))
        ok(http.put(group + "CAR-2", json={"groupName": "CAR-1"}))  # CAR-1 merges into CAR-2
    told = [item for item in streamed(live, community) if item[0] != "EVENT_UNIT_LOGIN"]
    assert told[2:] == [
        ("EVENT_UNIT_GROUP_REMOVE", {"identId": ann, "groupName": "CAR-1"}),
        ("EVENT_UNIT_GROUP_ADD", {"identId": ann, "groupName": "CAR-2"}),
    ]


def test_another_communitys_units_and_events_stay_apart(
    live: LiveServer, community: Community, provision: Provisioner, crew: dict[str, Any]
) -> None:
    other = provision.community("Beta")
    lift_limits(provision, other)
    stranger = provision.unit(other, provision.account(other, "stranger", "license:stranger")["uuid"])
    with live.client(community.api_key) as http:
        ok(http.patch(f"{S1}/units/status", json={"identIds": [crew["ann"]], "status": 100}))
        ok(http.put(f"{S1}/identifier-groups/CAR-51", json={"identIds": [crew["bob"]]}))
        # Beta's unit named by Alpha's key: not found, nothing changed, nothing told.
        for answer in (
            http.patch(f"{S1}/units/status", json={"identIds": [stranger], "status": 100}),
            http.put(f"{S1}/identifier-groups/CAR-51", json={"identIds": [stranger]}),
        ):
            assert answer.status_code == 404, answer.text
    with live.client(other.api_key) as http:
        [unit] = ok(http.get(f"{S1}/units"))
    assert (unit["id"], unit["status"], unit["data"]["group"]) == (stranger, 0, "")
    # Beta's server 1 hears only its own unit coming on duty; Alpha's server 2 none of server 1's changes.
    assert [(kind, data["unit"]["id"]) for kind, data in streamed(live, other)] == [
        ("EVENT_UNIT_LOGIN", stranger)
    ]
    assert streamed(live, community, 2) == []
    assert [kind for kind, _ in streamed(live, community)][3:] == [
        "EVENT_UNIT_LOGOUT",
        "EVENT_UNIT_GROUP_ADD",
    ]


def test_every_change_is_written_with_the_change_or_not_at_all(
    server: Server, community: Community, provision: Provisioner, crew: dict[str, Any]
) -> None:
    before = provision.scalar("SELECT count(*) FROM events")
    with server.client(community.api_key) as http:
        # A bad body changes nothing and tells nothing.
        assert (
            http.patch(f"{S1}/units/status", json={"identIds": [crew["ann"]], "status": 7}).status_code == 400
        )
        assert http.put(f"{S1}/identifier-groups/CAR-51", json={}).status_code == 400
        assert (
            http.put(f"{S1}/identifier-groups/{'X' * 65}", json={"identIds": [crew["ann"]]}).status_code
            == 400
        )
    assert provision.scalar("SELECT count(*) FROM events") == before


def test_v1_switching_identifier_and_status_tell_the_same_as_v2(
    live: LiveServer, community: Community, crew: dict[str, Any]
) -> None:
    ann, account = crew["ann"], crew["ann_account"]
    with live.client(community.api_key) as http:
        spare = ok(http.post(f"/v2/emergency/accounts/{account}/identifiers", json={"unitNum": "1A-2"}))
        for type, item, answer in (
            ("SET_IDENTIFIER", {"0": "license:ann", "1": spare["identId"]}, "Identifier Switched!"),
            (
                "UNIT_STATUS",
                {"apiId": "license:ann", "status": "100", "serverId": "1"},
                "UNIT STATUS UPDATED",
            ),
            ("UNIT_STATUS", {"apiId": "license:ann", "status": 100, "serverId": 1}, "UNIT STATUS UPDATED"),
        ):
            sent = http.post(f"/emergency/{type.lower()}", json=sdk_body(community, type, [item]))
            assert (sent.status_code, sent.text) == (200, answer)
        listed = ok(http.get(f"{S1}/units?includeOffline=true"))
    assert [
        (unit["id"], unit["status"]) for unit in listed if unit["data"]["communityUserId"] == "license:ann"
    ] == [(spare["identId"], 100)]
    told = [
        (kind, data.get("identId", data.get("unit", {}).get("id")))
        for kind, data in streamed(live, community)
    ]
    assert told[3:] == [
        ("EVENT_UNIT_LOGOUT", ann),
        ("EVENT_UNIT_LOGIN", spare["identId"]),
        ("EVENT_UNIT_LOGOUT", spare["identId"]),
    ]


def test_a_game_server_on_the_hub_gets_them_over_its_socket_as_it_reads_them(
    uncached_settings: Settings, community: Community, crew: dict[str, Any]
) -> None:
    ann = crew["ann"]

    def change() -> None:
        with hub.client(community.api_key) as http:
            ok(http.patch(f"{S1}/units/status", json={"identIds": [ann], "status": 100}))
            ok(http.put(f"{S1}/identifier-groups/CAR-51", json={"identIds": [ann]}))

    steps = [
        {"op": "start"},
        {"op": "invoke", "method": "authenticatev2", "args": [community.community_id, community.api_key, 1]},
        {"op": "pause"},
        *[{"op": "event", "name": "pushEvent", "timeoutMs": 10000}] * 3,
    ]
    fast = uncached_settings.model_copy(update={"push_poll_seconds": 0.1})
    with live_server(fast) as hub:
        outcomes = run_client(f"{hub.url}/apiWsHub", steps, during_pause=change)
    assert all(outcome["ok"] for outcome in outcomes[3:]), outcomes
    pushed = [outcome["result"][0] for outcome in outcomes[3:]]
    assert pushed[1:] == [
        {"key": community.api_key, "type": "EVENT_UNIT_LOGOUT", "data": {"identId": ann}},
        {
            "key": community.api_key,
            "type": "EVENT_UNIT_GROUP_ADD",
            "data": {"identId": ann, "groupName": "CAR-51"},
            "identId": ann,
        },
    ]
