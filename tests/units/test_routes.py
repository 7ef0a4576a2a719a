"""Units and identifiers over HTTP: the docs' answer shapes, the in-game resource's requests, bad input."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import Community, ManualClock, Provisioner, Server
from tests.units.support import LICENSE, S1, active_calls, make_crew, open_call, units_of

UNIT_KEYS = {"id", "accId", "status", "isPanic", "location", "coordinates", "aop", "data", "isDispatch"}
DATA_KEYS = {
    "unitNum",
    "name",
    "district",
    "department",
    "subdivision",
    "rank",
    "group",
    "page",
    "communityUserId",
}
DOCS_IDENTIFIER = {
    "status": 2,
    "aop": "Los Santos",
    "unitNum": "A-10",
    "name": "John Doe",
    "district": "Los Santos",
    "department": "LSPD",
    "subdivision": "Patrol",
    "rank": "Officer",
    "group": "CAR-51",
    "page": 0,
    "isDispatch": False,
}


def test_active_units_are_a_bare_array_of_the_docs_units(
    server: Server, provision: Provisioner, community: Community
) -> None:
    crew = make_crew(provision, community)
    with server.client(community.api_key) as http:
        made = http.post(f"/v2/emergency/accounts/{crew.uuids['bob']}/identifiers", json=DOCS_IDENTIFIER)
        assert made.status_code == 200, made.text
        ident = made.json()["identId"]
        assert (
            http.put(
                f"/v2/emergency/accounts/{crew.uuids['bob']}/selected-identifier",
                json={"identId": ident, "serverId": 1},
            ).status_code
            == 200
        )
        http.patch(
            f"{S1}/unit-locations",
            json={
                "updates": [
                    {
                        "identId": ident,
                        "location": "Mission Row",
                        "coordinates": {"x": 1, "y": 2, "z": 3, "w": 180},
                    }
                ]
            },
        )
        listed = http.get(f"{S1}/units")
    assert listed.status_code == 200
    units = listed.json()
    assert isinstance(units, list) and [unit["id"] for unit in units] == [crew.units["ann"], ident]
    for unit in units:
        assert set(unit) == UNIT_KEYS and set(unit["data"]) == DATA_KEYS
    assert units[1] == {
        "id": ident,
        "accId": crew.uuids["bob"],
        "status": 2,
        "isPanic": False,
        "location": "Mission Row",
        "coordinates": {"x": 1.0, "y": 2.0, "z": 3.0, "w": 180.0},
        "aop": "Los Santos",
        "data": {
            "unitNum": "A-10",
            "name": "John Doe",
            "district": "Los Santos",
            "department": "LSPD",
            "subdivision": "Patrol",
            "rank": "Officer",
            "group": "CAR-51",
            "page": 0,
            "communityUserId": "license:bob",
        },
        "isDispatch": False,
    }
    assert units[0]["data"]["communityUserId"] == LICENSE and units[0]["coordinates"] is None


def test_active_units_filter_offline_and_dispatchers_and_page(
    server: Server, provision: Provisioner, community: Community
) -> None:
    crew = make_crew(provision, community)
    with server.client(community.api_key) as http:
        http.patch(
            f"/v2/emergency/accounts/{crew.uuids['bob']}/identifiers/{crew.units['bob']}",
            json={"isDispatch": True, "page": 3},
        )
        dan = provision.account(community, "dan", community_user_id="license:dan")["uuid"]
        dan_unit = provision.unit(community, dan)
        http.patch(f"{S1}/units/status", json={"communityUserId": "license:dan", "status": 100})

        def ids(**params: Any) -> list[int]:
            answer = http.get(f"{S1}/units", params=params)
            assert answer.status_code == 200, answer.text
            return [unit["id"] for unit in answer.json()]

        ann, bob = crew.units["ann"], crew.units["bob"]
        assert ids() == [ann]
        # What the in-game resource asks every minute: dispatchers too.
        assert ids(onlyUnits="false") == [ann, bob]
        assert ids(includeOffline="true") == [ann, dan_unit]
        assert ids(includeOffline="true", onlyUnits="false") == [ann, bob, dan_unit]
        assert ids(includeOffline="true", onlyUnits="false", limit=1, offset=1) == [bob]
        assert ids(includeOffline="true", onlyUnits="false", offset=3) == []
        assert units_of(http)[bob]["isDispatch"] is True and units_of(http)[bob]["data"]["page"] == 3
        for bad in ({"limit": 0}, {"limit": 501}, {"offset": -1}, {"onlyUnits": "maybe"}):
            answer = http.get(f"{S1}/units", params=bad)
            assert answer.status_code == 400 and next(iter(bad)) in answer.text
        assert http.get("/v2/emergency/servers/9/units").status_code == 404


def test_account_units_list_the_unit_on_duty_or_every_identifier(
    server: Server, provision: Provisioner, community: Community
) -> None:
    crew = make_crew(provision, community)
    ann = crew.uuids["ann"]
    base = f"{S1}/accounts/{ann}/units"
    with server.client(community.api_key) as http:
        spare = http.post(f"/v2/emergency/accounts/{ann}/identifiers", json={"unitNum": "1A-99"}).json()[
            "identId"
        ]
        online = http.get(base)
        assert online.status_code == 200, online.text
        assert [unit["id"] for unit in online.json()["Units"]] == [crew.units["ann"]]
        assert set(online.json()["Units"][0]) == UNIT_KEYS
        every = http.get(base, params={"onlyOnline": "false"}).json()["Units"]
        assert [unit["id"] for unit in every] == [crew.units["ann"], spare]
        assert every[1]["data"]["unitNum"] == "1A-99" and every[1]["data"]["district"] == "NOT SET"
        assert [
            u["id"]
            for u in http.get(base, params={"onlyOnline": "false", "limit": 1, "offset": 1}).json()["Units"]
        ] == [spare]
        http.post(f"{S1}/units/kick", json={"accountUuid": ann, "reason": "AFK"})
        assert http.get(base).json() == {"Units": []}
        # Server 2: Ann has nothing selected there.
        assert http.get(f"/v2/emergency/servers/2/accounts/{ann}/units").json() == {"Units": []}
        assert http.get(f"{S1}/accounts/00000000-0000-0000-0000-000000000000/units").status_code == 404
        assert http.get(f"/v2/emergency/servers/9/accounts/{ann}/units").status_code == 404


def test_the_in_game_resources_requests_as_it_sends_them(
    server: Server, provision: Provisioner, community: Community
) -> None:
    crew = make_crew(provision, community)
    with server.client(community.api_key) as http:
        # sv_unitstatus.lua, sv_callcommands.lua: a singular communityUserId, the bare license.
        assert (
            http.patch(f"{S1}/units/status", json={"communityUserId": LICENSE, "status": 3}).status_code
            == 200
        )
        assert (
            http.patch(f"{S1}/units/panic", json={"isPanic": True, "communityUserId": LICENSE}).status_code
            == 200
        )
        ann = units_of(http)[crew.units["ann"]]
        assert ann["status"] == 3 and ann["isPanic"] is True
        # sv_dispatchnotify.lua: the call (its note's '00:00:00' stamp left out here), then attach by `units`.
        created = http.post(
            f"{S1}/dispatch-calls",
            json={
                "origin": 0,
                "status": 1,
                "priority": 2,
                "block": "",
                "address": "Legion Square",
                "postal": "",
                "title": "Officer Responding",
                "code": "",
                "description": "Respond",
                "notes": [{"label": "Dispatch", "type": "text", "content": "Officer Responding"}],
                "communityUserIds": ["license:bob"],
                "metaData": {"createdFromId": "3"},
            },
        )
        assert created.status_code == 200, created.text
        call_id = created.json()["callId"]
        attached = http.post(f"{S1}/dispatch-calls/{call_id}/attachments", json={"units": [LICENSE]})
        assert attached.status_code == 200, attached.text
        assert active_calls(http)[0]["idents"] == [crew.units["bob"], crew.units["ann"]]
        # tablet/sv_main.lua: detach is a DELETE whose body carries callId and units.
        detached = http.request(
            "DELETE", f"{S1}/dispatch-calls/attachments", json={"callId": call_id, "units": ["license:bob"]}
        )
        assert detached.status_code == 200, detached.text
        assert active_calls(http)[0]["idents"] == [crew.units["ann"]]
        # sv_kick.lua: {communityUserId, reason} over POST.
        kicked = http.post(f"{S1}/units/kick", json={"communityUserId": LICENSE, "reason": "Player left"})
        assert kicked.status_code == 200 and kicked.json() == {
            "identId": crew.units["ann"],
            "reason": "Player left",
        }
        assert active_calls(http)[0]["idents"] == []
        assert units_of(http)[crew.units["ann"]]["status"] == 100
        # calltemplates: a call whose notes and communityUserIds are Lua's empty table.
        empty = http.post(
            f"{S1}/dispatch-calls",
            json={
                "origin": 0,
                "status": 1,
                "priority": 2,
                "block": "",
                "address": "x",
                "postal": "",
                "title": "t",
                "code": "",
                "description": "d",
                "notes": [],
                "communityUserIds": [],
                "roblox": [],
            },
        )
        assert empty.status_code == 200 and empty.json()["idents"] == []


def test_a_batch_kick_skips_players_with_no_unit_and_answers_the_count(
    server: Server, provision: Provisioner, community: Community
) -> None:
    crew = make_crew(provision, community)
    with server.client(community.api_key) as http:
        answer = http.post(
            f"{S1}/units/kick",
            json=[
                {"communityUserId": LICENSE, "reason": "Connection reset"},
                {"communityUserId": "license:nobody", "reason": "gone"},
                {"roblox": 4455, "reason": "again"},
                {"discord": "111222333"},
            ],
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "count": 3,
            "kicked": [
                {"identId": crew.units["ann"], "reason": "Connection reset", "communityUserId": LICENSE},
                {"identId": crew.units["ann"], "reason": "again", "communityUserId": None},
                {"identId": crew.units["ann"], "reason": "", "communityUserId": None},
            ],
        }
        assert units_of(http)[crew.units["ann"]]["status"] == 100
        assert units_of(http)[crew.units["bob"]]["status"] == 0
        # The SDK's DELETE with one object: a unit of nobody is 404, a known one is kicked.
        assert (
            http.request(
                "DELETE", f"{S1}/units/kick", json={"communityUserId": "x", "reason": "r"}
            ).status_code
            == 404
        )
        gone = http.request(
            "DELETE", f"{S1}/units/kick", json={"communityUserId": "license:bob", "reason": "r"}
        )
        assert gone.status_code == 200 and gone.json() == {"identId": crew.units["bob"], "reason": "r"}


def test_identifiers_carry_the_docs_fields_through_create_update_and_get(
    server: Server, provision: Provisioner, community: Community
) -> None:
    crew = make_crew(provision, community)
    base = f"/v2/emergency/accounts/{crew.uuids['bob']}"
    with server.client(community.api_key) as http:
        bare = http.post(f"{base}/identifiers", json={})  # every default
        assert bare.status_code == 200, bare.text
        assert bare.json()["identifier"]["data"] | {"communityUserId": None} == {
            "unitNum": "NEW UNIT",
            "name": "NO NAME",
            "district": "NOT SET",
            "department": "NOT SET",
            "subdivision": "NOT SET",
            "rank": "NOT SET",
            "group": "",
            "page": -1,
            "communityUserId": None,
        }
        made = http.post(f"{base}/identifiers", json=DOCS_IDENTIFIER).json()
        ident = made["identId"]
        assert {name: made[name] for name in DOCS_IDENTIFIER} == DOCS_IDENTIFIER
        changed = http.patch(
            f"{base}/identifiers/{ident}", json={"status": 2, "group": "SUPERVISOR-1", "page": 3}
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["identifier"]["data"]["group"] == "SUPERVISOR-1"
        chosen = http.put(f"{base}/selected-identifier", json={"identId": ident, "serverId": 1}).json()
        assert (chosen["serverId"], chosen["isDispatch"], chosen["identifier"]["id"]) == (1, False, ident)
        assert chosen["identifier"]["data"]["group"] == "SUPERVISOR-1"
        listed = http.get(f"{base}/identifiers").json()
        spare = http.post(f"{base}/identifiers", json={}).json()["identId"]
        deleted = http.delete(f"{base}/identifiers/{spare}").json()
        assert (deleted["identId"], deleted["serverId"]) == (spare, None)
        assert spare not in [unit["id"] for unit in deleted["Identifiers"]]
    assert listed["SelectedIdent"] == ident
    [docs] = [unit for unit in listed["Identifiers"] if unit["id"] == ident]
    assert set(docs) == UNIT_KEYS
    assert docs["data"] | {"communityUserId": None} == {
        **{
            name: DOCS_IDENTIFIER[name]
            for name in ("unitNum", "name", "district", "department", "subdivision", "rank")
        },
        "group": "SUPERVISOR-1",
        "page": 3,
        "communityUserId": None,
    }
    assert docs["aop"] == "Los Santos" and docs["status"] == 2
    assert listed["selected"]["1"] == ident


BAD: list[tuple[str, str, Any, str]] = [
    ("PATCH", "/units/status", {"communityUserId": LICENSE, "status": 7}, "status"),
    ("PATCH", "/units/status", {"communityUserId": LICENSE, "status": "3"}, "status"),
    ("PATCH", "/units/status", {"communityUserId": LICENSE}, "status"),
    ("PATCH", "/units/status", {"communityUserIds": [5], "status": 2}, "communityUserIds"),
    ("PATCH", "/units/status", {"identIds": ["x"], "status": 2}, "identIds"),
    ("PATCH", "/units/status", {"units": ["x" * 256], "status": 2}, "units"),
    ("PATCH", "/units/status", {"communityUserIds": ["a"] * 101, "status": 2}, "communityUserIds"),
    ("PATCH", "/units/status", {"discord": "9" * 65, "status": 2}, "discord"),
    ("PATCH", "/units/status", {"roblox": True, "status": 2}, "roblox"),
    ("PATCH", "/units/panic", {"communityUserId": LICENSE, "isPanic": "yes"}, "isPanic"),
    ("PATCH", "/units/panic", {"accountUuid": 12, "isPanic": True}, "accountUuid"),
    ("POST", "/units/kick", {"communityUserId": LICENSE, "reason": "r" * 256}, "reason"),
    ("POST", "/units/kick", [], "body"),
    ("POST", "/units/kick", [{"communityUserId": LICENSE, "reason": 5}], "reason"),
    ("DELETE", "/units/kick", "kick", "body"),
    ("PUT", "/identifier-groups/" + "G" * 65, {"communityUserId": LICENSE}, "groupName"),
    ("PUT", "/identifier-groups/G", {"groupName": "g" * 65}, "groupName"),
    ("PATCH", "/unit-locations", {"updates": [{"communityUserId": LICENSE, "x": 1}]}, "updates"),
    ("PATCH", "/unit-locations", {"updates": [{"communityUserId": LICENSE, "x": "1", "y": 2}]}, "x"),
    (
        "PATCH",
        "/unit-locations",
        {"updates": [{"communityUserId": LICENSE, "x": 1, "y": 2, "heading": 1e9}]},
        "heading",
    ),
    (
        "PATCH",
        "/unit-locations",
        {"updates": [{"communityUserId": LICENSE, "coordinates": {"x": 1}}]},
        "coordinates",
    ),
    ("PATCH", "/unit-locations", {"updates": []}, "updates"),
    ("POST", "/dispatch-calls/{call}/attachments", {"units": [1]}, "units"),
    ("DELETE", "/dispatch-calls/attachments", {"roblox": [1, 2]}, "roblox"),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "field"), BAD, ids=[f"{m} {p[:30]} {f}" for m, p, _, f in BAD]
)
def test_bad_input_is_a_400_naming_the_field_and_changes_nothing(
    server: Server,
    provision: Provisioner,
    community: Community,
    method: str,
    path: str,
    body: Any,
    field: str,
) -> None:
    make_crew(provision, community)
    with server.client(community.api_key) as http:
        call_id = open_call(http, communityUserIds=[LICENSE])
        before = (units_of(http), active_calls(http))
        answer = http.request(method, S1 + path.replace("{call}", str(call_id)), json=body)
        assert answer.status_code == 400, answer.text
        assert field in answer.text, answer.text
        assert (units_of(http), active_calls(http)) == before


IDENTIFIER_BAD: list[tuple[str, dict[str, Any], str]] = [
    ("POST", {"page": 9}, "page"),
    ("POST", {"status": 5}, "status"),
    ("POST", {"unitNum": "x" * 33}, "unitNum"),
    ("POST", {"group": "g" * 65}, "group"),
    ("POST", {"isDispatch": "true"}, "isDispatch"),
    ("PATCH", {"district": 5}, "district"),
    ("PATCH", {"rank": "r" * 256}, "rank"),
    ("PATCH", {"page": "0"}, "page"),
]


@pytest.mark.parametrize(("method", "body", "field"), IDENTIFIER_BAD)
def test_bad_identifier_fields_are_a_400_naming_the_field(
    server: Server,
    provision: Provisioner,
    community: Community,
    method: str,
    body: dict[str, Any],
    field: str,
) -> None:
    crew = make_crew(provision, community)
    base = f"/v2/emergency/accounts/{crew.uuids['bob']}/identifiers"
    with server.client(community.api_key) as http:
        before = http.get(base).json()
        url = base if method == "POST" else f"{base}/{crew.units['bob']}"
        answer = http.request(method, url, json=body)
        assert answer.status_code == 400 and field in answer.text, answer.text
        assert http.get(base).json() == before


def test_get_active_units_is_limited_to_three_a_minute_per_key(
    server: Server, community: Community, clock: ManualClock
) -> None:
    with server.client(community.api_key) as http:
        assert [http.get(f"{S1}/units").status_code for _ in range(4)] == [200, 200, 200, 429]
        clock.advance(seconds=20)
        assert http.get(f"{S1}/units").status_code == 200
