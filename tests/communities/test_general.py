"""General configuration over HTTP: info, heartbeat, the docs' server fields, and the per-server
configuration the in-game resource writes at start (stations, callouts, street signs, pager)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import Community, ManualClock, Provisioner, Server, every_row_count, lift_every_limit
from tests.web.support import C1, Console, dispatcher

S1 = "/v2/emergency/servers/1"
DOCS_SERVER = {
    "id": 1,
    "name": "Main Server",
    "description": "Primary patrol server",
    "signal": "100",
    "mapUrl": "https://example.com/tiles/{z}/{x}/{y}.png",
    "mapIp": "203.0.113.10",
    "listenerPort": "30120",
    "differingOutbound": False,
    "outboundIp": "",
    "enableMap": True,
    "mapType": "NORMAL",
    "isStatic": False,
    "liveMapFormat": 0,
}


@pytest.fixture
def other(provision: Provisioner) -> Community:
    return provision.community("Bravo", servers=1)


def test_get_info_answers_the_community(server: Server, community: Community) -> None:
    with server.client(community.api_key) as http:
        info = http.get("/v2/general/info")
    assert info.status_code == 200, info.text
    assert info.json() == {
        "uuid": community.community_id,
        "community": {
            "comId": community.community_id,
            "name": "Alpha",
            "timezone": "UTC",
            "customLoginUrl": None,
        },
        "codes": [],
    }


def test_the_heartbeat_is_stored_per_server_and_shown_on_the_console_board(
    server: Server, provision: Provisioner, community: Community, clock: ManualClock
) -> None:
    dispatcher(provision, community)
    console = Console(server, community)
    assert console.get(f"{C1}/board").json()["heartbeat"] is None
    with server.client(community.api_key) as http:
        # The in-game resource's exact request: only the player count.
        beat = http.post("/v2/general/servers/1/heartbeat", json={"playerCount": 12})
        assert beat.status_code == 200, beat.text
        assert beat.json()["serverId"] == 1 and beat.json()["playerCount"] == 12
        assert beat.json()["receivedAtUtc"].endswith("Z")
        clock.advance(minutes=60)
        later = http.post("/v2/general/servers/2/heartbeat", json={"playerCount": "3"}).json()
    board = console.get(f"{C1}/board").json()
    assert board["heartbeat"] == beat.json()
    assert console.get("/console/api/servers/2/board").json()["heartbeat"] == later
    assert later["receivedAtUtc"] > beat.json()["receivedAtUtc"]


def test_bad_heartbeats_are_400s_and_another_communitys_server_is_404(
    server: Server, provision: Provisioner, community: Community, other: Community
) -> None:
    lift_every_limit(provision, community)
    before = every_row_count(provision)
    with server.client(community.api_key) as http:
        for bad in (
            {},
            {"playerCount": -1},
            {"playerCount": 100_001},
            {"playerCount": "many"},
            {"playerCount": 1.5},
        ):
            answer = http.post("/v2/general/servers/1/heartbeat", json=bad)
            assert answer.status_code == 400 and "playerCount" in answer.text, answer.text
        assert http.post("/v2/general/servers/1/heartbeat", json=[]).status_code == 400
        assert http.post("/v2/general/servers/3/heartbeat", json={"playerCount": 1}).status_code == 404
    with server.client(other.api_key) as http:
        assert http.post("/v2/general/servers/2/heartbeat", json={"playerCount": 1}).status_code == 404
    assert every_row_count(provision) == before
    assert provision.scalar("SELECT count(*) FROM servers WHERE heartbeat_at IS NOT NULL") == 0


def test_put_servers_keeps_every_docs_field_and_answers_it_back(
    server: Server, provision: Provisioner, community: Community
) -> None:
    lift_every_limit(provision, community)
    with server.client(community.api_key) as http:
        put = http.put("/v2/general/servers", json={"deployMap": True, "servers": [DOCS_SERVER]})
        assert put.status_code == 200, put.text
        [first, second] = put.json()["servers"]
        assert {name: first[name] for name in DOCS_SERVER} == DOCS_SERVER
        assert second["id"] == 2 and second["name"] == "Server 2" and second["listenerPort"] == ""
        assert http.get("/v2/general/servers").json() == put.json()


def test_the_resources_start_up_put_sends_its_own_get_objects_back_unchanged(
    server: Server, provision: Provisioner, community: Community
) -> None:
    lift_every_limit(provision, community)
    with server.client(community.api_key) as http:
        listed = http.get("/v2/general/servers").json()["servers"]
        # configuration.lua edits its server in place and sends the whole list back.
        listed[0].update(listenerPort="30120", mapIp="198.51.100.7", differingOutbound=False, outboundIp="")
        put = http.put("/v2/general/servers", json={"servers": listed, "deployMap": False})
        assert put.status_code == 200, put.text
        again = http.get("/v2/general/servers").json()["servers"]
        assert again == listed
        assert again[0]["listenerPort"] == "30120"  # a string, as the resource compares it


def test_a_put_of_one_missing_server_adds_it_and_keeps_the_others(
    server: Server, provision: Provisioner, community: Community
) -> None:
    lift_every_limit(provision, community)
    with server.client(community.api_key) as http:
        assert (
            http.put("/v2/general/servers", json={"servers": [{"id": 2, "name": "Night"}]}).status_code == 200
        )
        # What the resource sends when its server (here 5) is missing: only a new object for it.
        new = {
            "id": 5,
            "name": "Server 5",
            "description": "Server 5",
            "signal": "",
            "listenerPort": "30121",
            "mapIp": "198.51.100.7",
            "differingOutbound": False,
            "outboundIp": "",
            "enableMap": True,
            "mapType": "NORMAL",
        }
        put = http.put("/v2/general/servers", json={"servers": [new], "deployMap": False})
        assert put.status_code == 200, put.text
        servers = {one["id"]: one for one in http.get("/v2/general/servers").json()["servers"]}
        assert sorted(servers) == [1, 2, 5]
        assert servers[2]["name"] == "Night"
        assert servers[5]["listenerPort"] == "30121" and servers[5]["enableMap"] is True
        # The new server works at once.
        assert http.post("/v2/general/servers/5/heartbeat", json={"playerCount": 0}).status_code == 200
        # A number port (the JS SDK's type) is kept as the text the resource compares.
        http.put("/v2/general/servers", json={"servers": [{"id": 1, "listenerPort": 30120}]})
        assert http.get("/v2/general/servers").json()["servers"][0]["listenerPort"] == "30120"


BAD_SERVER_BODIES: list[tuple[Any, str]] = [
    ({"servers": [{"id": 1, "listenerPort": "x" * 17}]}, "listenerPort"),
    ({"servers": [{"id": 1, "enableMap": "yes"}]}, "enableMap"),
    ({"servers": [{"id": 1, "liveMapFormat": 2}]}, "liveMapFormat"),
    ({"servers": [{"id": 1, "mapUrl": "x" * 2049}]}, "mapUrl"),
    ({"servers": [{"id": 0}]}, "id"),
    ({"servers": [{"id": 1001}]}, "id"),
    ({"servers": [{"id": 1, "name": ""}]}, "name"),
    ({"servers": [{"id": 1}], "deployMap": "yes"}, "deployMap"),
    ({"servers": []}, "servers"),
]


@pytest.mark.parametrize(("body", "named"), BAD_SERVER_BODIES)
def test_bad_server_bodies_are_400s_naming_the_field_and_change_nothing(
    server: Server, provision: Provisioner, community: Community, body: Any, named: str
) -> None:
    lift_every_limit(provision, community)
    with server.client(community.api_key) as http:
        before = http.get("/v2/general/servers").json()
        answer = http.put("/v2/general/servers", json=body)
        assert answer.status_code == 400, answer.text
        assert named in answer.text
        assert http.get("/v2/general/servers").json() == before


def test_servers_are_bounded_per_community(
    server: Server, provision: Provisioner, community: Community, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opendispatch.communities import service

    monkeypatch.setattr(service, "MAX_SERVERS", 3)
    lift_every_limit(provision, community)
    with server.client(community.api_key) as http:
        assert http.put("/v2/general/servers", json={"servers": [{"id": 3}]}).status_code == 200
        refused = http.put("/v2/general/servers", json={"servers": [{"id": 4}]})
        assert refused.status_code == 400 and "servers" in refused.text
        assert [one["id"] for one in http.get("/v2/general/servers").json()["servers"]] == [1, 2, 3]


STATIONS = {
    "locations": [
        {
            "name": "Mission Row",
            "coordinates": {"x": 425.1, "y": -979.2, "z": 30.7, "w": 0.0},
            "doors": ["bay_1", "bay_2"],
            "icon": "fas fa-building",
        }
    ],
    "tones": ["tone_station_open.mp3"],
    "unitColors": ["#2563eb", "#ef4444"],
}
CALLOUT = {
    "id": "armed_suspect",
    "data": {
        "CalloutName": "Armed Suspect",
        "CalloutDescriptions": ["Reports of an armed suspect in the area."],
        "Enabled": True,
        "CalloutLocations": [],
        "PedChanceToFleeFromPlayer": 50,
        "CalloutUnitsRequired": {"policeRequired": True, "fireRequired": False},
    },
}
SIGN = {
    "id": 7,
    "coordinates": {"x": 420.1, "y": -980.4, "z": 30.8, "w": 0.0},
    "label": "Mission Row",
    "text1": "Mission Row",
    "text2": "Integrity Way",
    "text3": "",
}
PAGER = {
    "natureWords": {"Emergency": "Emergency", "NonEmergency": "Non-Emergency", "Administrative": "Admin"},
    "maxAddresses": 5,
    "maxBodyLength": 250,
    "nodes": [
        {
            "id": "root-1",
            "name": "Fire",
            "description": "Fire services",
            "permission": "fire",
            "address": "FIRE-01",
            "shortCode": "F1",
            "kind": "group",
            "children": [],
        }
    ],
}


def test_configuration_is_stored_per_server_and_answered_as_the_docs_show(
    server: Server, provision: Provisioner, community: Community
) -> None:
    lift_every_limit(provision, community)
    with server.client(community.api_key) as http:
        assert http.put(f"{S1}/stations", json=STATIONS).json() == {"serverId": 1}
        assert http.put(f"{S1}/callouts", json={"callouts": [CALLOUT]}).json() == {
            "serverId": 1,
            "callouts": 1,
        }
        signs = {"signs": [SIGN, {**SIGN, "id": 8, "text1": "Alta St"}]}
        assert http.put(f"{S1}/street-sign-config", json=signs).json() == {"serverId": 1, "signs": 2}
        updated = http.patch(f"{S1}/street-signs", json={"ids": [8, 99], "text2": "Power St"})
        assert updated.json() == {"ids": [8]}

        # Until set, the pager answers the docs' defaults.
        assert http.get(f"{S1}/pager-config").json() == {
            "natureWords": {
                "Emergency": "Emergency",
                "NonEmergency": "Non-Emergency",
                "Administrative": "Administrative",
            },
            "maxAddresses": 5,
            "maxBodyLength": 250,
            "nodes": [],
            "perms": {"roles": [], "players": []},
        }
        assert http.put(f"{S1}/pager-config", json=PAGER).json() == {"serverId": 1}
        assert http.get(f"{S1}/pager-config").json() == {**PAGER, "perms": {"roles": [], "players": []}}
        # Without nodes, the stored node tree stays.
        assert http.put(f"{S1}/pager-config", json={"maxAddresses": 3}).status_code == 200
        pager = http.get(f"{S1}/pager-config").json()
        assert pager["maxAddresses"] == 3 and pager["nodes"] == PAGER["nodes"]
        # Server 2 has its own (none).
        assert http.get("/v2/emergency/servers/2/pager-config").json()["nodes"] == []

    from opendispatch.communities.service import server_configuration

    with provision.db.transaction() as conn:
        stored = server_configuration(conn, community_id=community.community_id, server_id=1)
    assert stored.stations == STATIONS
    assert stored.callouts == [CALLOUT]
    assert stored.streetSigns is not None
    assert [sign["text2"] for sign in stored.streetSigns] == ["Integrity Way", "Power St"]


def test_configuration_takes_lua_empty_tables(
    server: Server, provision: Provisioner, community: Community
) -> None:
    lift_every_limit(provision, community)
    with server.client(community.api_key) as http:
        assert (
            http.put(f"{S1}/stations", json={"locations": {}, "tones": {}, "unitColors": {}}).status_code
            == 200
        )
        assert http.put(f"{S1}/callouts", json={"callouts": {}}).json() == {"serverId": 1, "callouts": 0}
        assert http.put(f"{S1}/callouts", json={"callouts": [{"id": "a", "data": []}]}).status_code == 200
        assert http.put(f"{S1}/street-sign-config", json={"signs": {}}).json()["signs"] == 0


DEEP: Any = []
for _ in range(20):
    DEEP = [DEEP]

BAD_CONFIG: list[tuple[str, str, Any, str]] = [
    ("PUT", "/stations", {"tones": "x"}, "tones"),
    ("PUT", "/stations", {"tones": ["x" * 256]}, "tones"),
    ("PUT", "/stations", {"locations": [{"nested": DEEP}]}, "locations"),
    ("PUT", "/stations", {"unitColors": ["#fff"] * 101}, "unitColors"),
    ("PUT", "/callouts", {}, "callouts"),
    ("PUT", "/callouts", {"callouts": [{"data": {}}]}, "id"),
    ("PUT", "/callouts", {"callouts": [{"id": "a", "data": "x"}]}, "data"),
    ("PUT", "/callouts", {"callouts": [{"id": "a", "data": {"x": DEEP}}]}, "data"),
    ("PUT", "/street-sign-config", {"signs": [{"label": "x"}]}, "id"),
    ("PUT", "/street-sign-config", {"signs": [{"id": 1, "text1": "x" * 256}]}, "text1"),
    ("PUT", "/street-sign-config", {"signs": [{"id": 1, "coordinates": {"x": "north"}}]}, "coordinates"),
    ("PATCH", "/street-signs", {"ids": []}, "ids"),
    ("PATCH", "/street-signs", {"ids": [1], "text1": 5}, "text1"),
    ("PUT", "/pager-config", {"maxAddresses": -1}, "maxAddresses"),
    ("PUT", "/pager-config", {"natureWords": {"Emergency": 1}}, "natureWords"),
    ("PUT", "/pager-config", {"nodes": "x"}, "nodes"),
    ("PUT", "/pager-config", {"perms": {"roles": "x"}}, "roles"),
]


@pytest.mark.parametrize(("method", "path", "body", "named"), BAD_CONFIG)
def test_bad_configuration_bodies_are_400s_naming_the_field_and_store_nothing(
    server: Server,
    provision: Provisioner,
    community: Community,
    method: str,
    path: str,
    body: Any,
    named: str,
) -> None:
    lift_every_limit(provision, community)
    with server.client(community.api_key) as http:
        answer = http.request(method, S1 + path, json=body)
    assert answer.status_code == 400, answer.text
    assert named in answer.text
    assert provision.scalar("SELECT count(*) FROM server_configs") == 0


def test_street_signs_not_configured_are_404(
    server: Server, provision: Provisioner, community: Community
) -> None:
    lift_every_limit(provision, community)
    with server.client(community.api_key) as http:
        assert http.patch(f"{S1}/street-signs", json={"ids": [7], "text1": "x"}).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/stations", STATIONS),
        ("PUT", "/callouts", {"callouts": [CALLOUT]}),
        ("PUT", "/street-sign-config", {"signs": [SIGN]}),
        ("PATCH", "/street-signs", {"ids": [7], "text1": "x"}),
        ("GET", "/pager-config", None),
        ("PUT", "/pager-config", PAGER),
    ],
)
def test_configuration_of_another_communitys_server_is_404(
    server: Server, provision: Provisioner, other: Community, method: str, path: str, body: Any
) -> None:
    lift_every_limit(provision, other)
    with server.client(other.api_key) as http:
        # Bravo has server 1 only; Alpha's server 2 is not Bravo's.
        answer = http.request(method, "/v2/emergency/servers/2" + path, json=body)
    assert answer.status_code == 404, answer.text
    assert provision.scalar("SELECT count(*) FROM server_configs") == 0


@pytest.mark.parametrize(
    ("method", "path", "body", "per_minute"),
    [
        ("GET", "/v2/general/info", None, 10),
        ("GET", "/v2/general/version", None, 10),
        ("POST", "/v2/general/servers/1/heartbeat", {"playerCount": 1}, 10),
        ("GET", "/v2/general/servers", None, 10),
        ("PUT", "/v2/general/servers", {"servers": [{"id": 1}]}, 10),
        ("PUT", f"{S1}/stations", STATIONS, 2),
        ("PUT", f"{S1}/callouts", {"callouts": []}, 2),
        ("PUT", f"{S1}/street-sign-config", {"signs": [SIGN]}, 2),
        ("PATCH", f"{S1}/street-signs", {"ids": [1]}, 10),
        ("GET", f"{S1}/pager-config", None, 2),
        ("PUT", f"{S1}/pager-config", PAGER, 2),
    ],
)
def test_each_operation_has_its_docs_per_key_limit(
    server: Server, community: Community, method: str, path: str, body: Any, per_minute: int
) -> None:
    with server.client(community.api_key) as http:
        statuses = [http.request(method, path, json=body).status_code for _ in range(per_minute + 1)]
    assert 429 not in statuses[:per_minute] and statuses[-1] == 429, statuses
