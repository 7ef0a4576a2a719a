"""The official in-game resource's requests, replayed exactly as it sends them, and what it reads back.

Source: /work/shared/reference/in-game-resource.md (SonoranCADFiveM 4.0.104 and its bundled Lua SDK), §4.1
(headers, how Lua writes JSON), §4.2 (the core's calls), §4.3 (the submodules on by default) and §8 (what a
server must get right). Every request carries `Accept: application/json` and the bearer key, and
`Content-Type: application/json` only when it has a body; bodies are written as FiveM's encoder writes
them: compact, an empty table as `[]`, nil keys left out. The player's `communityUserId` is the bare
identifier value (a 40-hex license hash, no `license:` prefix). FiveM hides every error body from the
resource, so each test asserts a 2xx with a JSON `Content-Type`, then the fields the resource reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest

from tests.support import Community, Provisioner, Server, lift_limits

S1 = "/v2/emergency/servers/1"
# What `GetIdentifiers()[primaryIdentifier]` yields with its prefix cut (in-game-resource.md §8, item 10).
PLAYER = "3f8a6c1e9b2d4f70a5c8e1b3d6f9a2c4e7b0d3f6"
OTHER = "9c2e5b8d1f4a7c0e3b6d9f2a5c8e1b4d7f0a3c6e"
UNLINKED = "0123456789abcdef0123456789abcdef01234567"
NET_PORT = "30120"  # the game server's netPort convar, a string (configuration.lua:632-638)


def lua_json(value: Any) -> bytes:
    """JSON as FiveM's encoder writes a Lua table: compact, and an empty table (object or list) as `[]`."""

    def lua(item: Any) -> Any:
        if isinstance(item, dict):
            return [] if not item else {key: lua(inner) for key, inner in item.items()}
        if isinstance(item, list):
            return [lua(inner) for inner in item]
        return item

    return orjson.dumps(lua(value))


@dataclass
class Resource:
    """The resource's SDK client: its headers, its JSON, and the check every reader of an answer makes."""

    http: httpx.Client
    api_key: str

    def send(
        self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None
    ) -> httpx.Response:
        headers = {"Accept": "application/json", "Authorization": f"Bearer {self.api_key}"}
        content = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            content = lua_json(body)
        return self.http.request(method, path, params=query, content=content, headers=headers)

    def ok(self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> Any:
        """The decoded answer of a request that must succeed, as the SDK decodes it (client.lua:510-531)."""
        answer = self.send(method, path, body, query)
        assert 200 <= answer.status_code < 300, (method, path, answer.status_code, answer.text)
        if answer.status_code == 204 or not answer.content:
            return None
        # The SDK decodes JSON only when Content-Type starts with application/json (§8, item 1).
        assert answer.headers.get("content-type", "").startswith("application/json"), answer.headers
        return answer.json()


@dataclass
class Scene:
    """A community as the resource meets it: a linked, on-duty officer and a second linked officer."""

    resource: Resource
    community: Community
    provision: Provisioner
    idents: dict[str, int]  # unit id by communityUserId
    accounts: dict[str, dict[str, Any]]

    def units(self) -> list[dict[str, Any]]:
        """The units poll (unittracking.lua:257-293): `{units: [...]}` or a bare array."""
        data = self.resource.ok("GET", f"{S1}/units", query={"onlyUnits": "false"})
        units = data["units"] if isinstance(data, dict) else data
        assert isinstance(units, list)
        return units

    def unit(self, community_user_id: str) -> dict[str, Any]:
        """The polled unit of a player, found as the resource finds it: by `data.communityUserId`."""
        found = [unit for unit in self.units() if identity(unit) == community_user_id]
        assert len(found) == 1, (community_user_id, self.units())
        return found[0]

    def calls(self) -> dict[str, Any]:
        """The calls poll (unittracking.lua:311-326), no query string at all."""
        data = self.resource.ok("GET", f"{S1}/calls")
        assert isinstance(data, dict)
        return data

    def active_call(self, call_id: int) -> dict[str, Any]:
        found = [call for call in self.calls()["ActiveCalls"] if call["callId"] == call_id]
        assert len(found) == 1, (call_id, self.calls()["ActiveCalls"])
        return found[0]


def identity(unit: dict[str, Any]) -> str | None:
    """Whom a polled unit belongs to, read as unittracking.lua:65-82 reads it (`data` wins when present)."""
    data = unit.get("data")
    if isinstance(data, dict):
        ids = data.get("communityUserIds")
        if isinstance(ids, list) and ids:
            return str(ids[0])
        cuid = data.get("communityUserId")
        return cuid if isinstance(cuid, str) else None
    return None


@pytest.fixture
def scene(server: Server, community: Community, provision: Provisioner) -> Iterator[Scene]:
    lift_limits(provision, community)  # the polls are 3 and 30 a minute; every test reads them often
    idents, accounts = {}, {}
    for name, cuid in (("officer", PLAYER), ("partner", OTHER)):
        accounts[cuid] = provision.account(community, name, cuid)
        idents[cuid] = provision.unit(community, accounts[cuid]["uuid"], unit_num=f"1A-{len(idents) + 1:02}")
    with server.client() as http:
        resource = Resource(http, community.api_key)
        # On duty (AVAILABLE) through a form every server of the docs takes, so the polls list them.
        on_duty = resource.send(
            "PATCH", f"{S1}/units/status", {"identIds": list(idents.values()), "status": 2}
        )
        assert on_duty.status_code == 200, on_duty.text
        yield Scene(resource, community, provision, idents, accounts)


def create_911(scene: Scene, **metadata: str) -> int:
    """A /911 from the callcommands submodule (sv_callcommands.lua:153-222), every metaData value a string."""
    body = {
        "isEmergency": True,
        "caller": "John Smith",
        "location": "[9001] Alta St / Integrity Way",
        "description": "Shots fired near the bank",
        "deleteAfterMinutes": 30,
        "metaData": {
            "useCallLocation": "false",
            "silentAlert": "false",
            "postal": "9001",
            "plate": "",
            "x": "425.1",
            "y": "-979.2",
            "z": "30.7",
            "callerPlayerId": "12",
            "callerCommunityUserId": PLAYER,
            "uuid": "0b6f1c3e-8d1a-4c59-9e2f-7a4b5c6d7e8f",
            **metadata,
        },
    }
    answer = scene.resource.ok("POST", f"{S1}/calls/911", body)
    # The resource takes the first of id, callId (sonoran_api.lua:463-468): if both, they must agree.
    call_id = answer.get("id", answer["callId"])
    assert call_id == answer["callId"] and isinstance(call_id, int)
    return int(call_id)


def template_dispatch(scene: Scene, units: list[str]) -> int:
    """A dispatch call from the calltemplates submodule (sv_calltemplates.lua:153-178): no metaData, and
    `notes`, `communityUserIds` empty tables when there are none."""
    body = {
        "origin": 0,
        "status": 1,
        "priority": 1,
        "block": "",
        "address": "Mission Row PD",
        "postal": "",
        "title": "Traffic stop",
        "code": "10-38",
        "description": "Template call",
        "notes": [],
        "communityUserIds": units,
    }
    answer = scene.resource.ok("POST", f"{S1}/dispatch-calls", body)
    assert isinstance(answer["callId"], int)
    return int(answer["callId"])


def respond_dispatch(scene: Scene, cuid: str = PLAYER, created_from: int = 0) -> int:
    """The dispatch call `/dn respond` creates, as dispatchnotify writes it (sv_dispatchnotify.lua:386)."""
    body = {
        "origin": 0,
        "status": 1,
        "priority": 2,
        "block": "",
        "address": "Alta St / Integrity Way",
        "postal": "9001",
        "title": "Shots fired",
        "code": "",
        "description": "Shots fired near the bank",
        "notes": [{"time": "00:00:00", "label": "Dispatch", "type": "text", "content": "Officer Responding"}],
        "communityUserIds": [cuid],
        "metaData": {"createdFromId": str(created_from), "x": "425.1", "y": "-979.2", "z": "30.7"},
    }
    answer = scene.resource.ok("POST", f"{S1}/dispatch-calls", body)
    call_id = answer.get("id", answer["callId"])
    assert call_id == answer["callId"] and isinstance(call_id, int)
    return int(call_id)


# --- §4.2: the core, always active ---------------------------------------------------------------------


def test_version_starts_with_a_digit(scene: Scene) -> None:
    # server.lua:73-74: data.version as text, only its first character used; else start-up hangs.
    data = scene.resource.ok("GET", "/v2/general/version")
    assert str(data["version"])[:1].isdigit(), data


def test_servers_answer_a_body_with_each_servers_connection_fields(scene: Scene) -> None:
    # configuration.lua:597-666 indexes data.servers without a check, then reads these per server.
    servers = scene.resource.ok("GET", "/v2/general/servers")["servers"]
    assert servers, "an empty body or list stops registration"
    mine = next(server for server in servers if str(server["id"]) == "1")
    for field in ("id", "name", "listenerPort", "mapIp", "differingOutbound", "outboundIp"):
        assert field in mine, field
    assert isinstance(mine["id"], int)


def test_servers_put_of_the_resources_own_server_is_answered_back_with_a_string_listener_port(
    scene: Scene,
) -> None:
    # configuration.lua:668-691: the whole GET list sent back, this server's object edited in place.
    servers = scene.resource.ok("GET", "/v2/general/servers")["servers"]
    for server in servers:
        if str(server["id"]) == "1":
            server.update(listenerPort=NET_PORT, mapIp="203.0.113.7", differingOutbound=False, outboundIp="")
    scene.resource.ok("PUT", "/v2/general/servers", {"servers": servers, "deployMap": False})
    again = next(s for s in scene.resource.ok("GET", "/v2/general/servers")["servers"] if str(s["id"]) == "1")
    # Not exactly the netPort string: the resource sends this PUT again at every start.
    assert again["listenerPort"] == NET_PORT
    assert again["mapIp"] == "203.0.113.7"


def test_servers_put_of_only_a_missing_server_keeps_the_others(
    server: Server, provision: Provisioner
) -> None:
    # When its server is missing the resource sends a list of that one new object only (§3, row 5).
    community = provision.community("Two servers", servers=2)
    lift_limits(provision, community)
    with server.client() as http:
        resource = Resource(http, community.api_key)
        new = {
            "id": 2,
            "name": "Server 2",
            "description": "Server 2",
            "signal": "",
            "listenerPort": NET_PORT,
            "mapIp": "203.0.113.7",
            "differingOutbound": False,
            "outboundIp": "",
            "enableMap": True,
            "mapType": "NORMAL",
        }
        resource.ok("PUT", "/v2/general/servers", {"servers": [new], "deployMap": False})
        listed = {str(s["id"]): s for s in resource.ok("GET", "/v2/general/servers")["servers"]}
    assert set(listed) == {"1", "2"}
    assert listed["2"]["listenerPort"] == NET_PORT


def test_heartbeat_takes_the_player_count(scene: Scene) -> None:
    # server.lua:124-150: {playerCount} only, ~5 s after start, then hourly.
    scene.resource.ok("POST", "/v2/general/servers/1/heartbeat", {"playerCount": 7})


def test_units_poll_gives_numeric_ids_and_the_identity_in_data(scene: Scene) -> None:
    unit = scene.unit(PLAYER)
    assert unit["id"] == scene.idents[PLAYER] and isinstance(unit["id"], int)
    assert isinstance(unit["isDispatch"], bool)
    # Read later by callcommands and dispatchnotify (sv_callcommands.lua:263-265, sv_dispatchnotify.lua:489).
    assert "location" in unit
    assert unit["data"]["unitNum"] == "1A-01"
    assert "name" in unit["data"]


def test_calls_poll_has_pascal_case_active_and_emergency_calls(scene: Scene) -> None:
    data = scene.calls()
    # Iterated without a nil check (unittracking.lua:311-326): a missing key stops call polling for good.
    assert isinstance(data["ActiveCalls"], list)
    assert isinstance(data["EmergencyCalls"], list)


def test_calls_poll_items_are_keyed_by_a_numeric_call_id(scene: Scene) -> None:
    emergency = create_911(scene)
    dispatch = respond_dispatch(scene)
    data = scene.calls()
    assert [call["callId"] for call in data["EmergencyCalls"]] == [emergency]
    call = scene.active_call(dispatch)
    # Cached whole and read later for these (§4.2, GET calls).
    for field in ("idents", "metaData", "primary", "trackPrimary", "postal", "description"):
        assert field in call, field
    assert isinstance(call["metaData"], dict)


def test_link_check_of_an_unlinked_player_is_200_linked_false(scene: Scene) -> None:
    # Error bodies never reach the resource (§4.1): "not linked" must be a 2xx {linked: false}.
    data = scene.resource.ok("POST", "/v2/general/links/check", {"communityUserId": UNLINKED})
    assert data["linked"] is False


def test_link_check_of_a_linked_player_echoes_the_bare_identifier(scene: Scene) -> None:
    data = scene.resource.ok("POST", "/v2/general/links/check", {"communityUserId": PLAYER})
    assert data["linked"] is True
    assert data["communityUserId"] == PLAYER


def test_link_code_is_issued_for_a_player(scene: Scene) -> None:
    # linking_sv.lua:312-356: `code` (or linkCode, link_code, idCode) is required; communityUserId is kept
    # and matched against EVENT_COMMUNITY_LINK_VERIFIED.
    data = scene.resource.ok("POST", "/v2/general/links", {"communityUserId": UNLINKED})
    code = next((data[key] for key in ("code", "linkCode", "link_code", "idCode") if data.get(key)), None)
    assert isinstance(code, str) and code
    assert data["communityUserId"] == UNLINKED


def test_link_set_from_the_tablet_links_the_player(scene: Scene, provision: Provisioner) -> None:
    account = provision.account(scene.community, "newcomer")
    body = {"accountUuid": account["uuid"], "secretUuid": account["secret"], "communityUserId": UNLINKED}
    data = scene.resource.ok("POST", "/v2/general/links/set", body)
    assert data.get("linked") is not False  # only false counts as a failure (linking_sv.lua:618-661)
    assert (
        scene.resource.ok("POST", "/v2/general/links/check", {"communityUserId": UNLINKED})["linked"] is True
    )


# --- §4.3: the submodules on by default -----------------------------------------------------------------


def test_postals_are_put_once_at_start(scene: Scene) -> None:
    # sv_postals.lua:80-91: the nearest-postal resource's file passed through ({code, x, y}).
    postals = [{"code": "9001", "x": 425.1, "y": -979.2}, {"code": "9002", "x": 1200.5, "y": -1500.0}]
    scene.resource.ok("PUT", "/v2/general/postals", {"postals": postals})


def test_unit_status_by_singular_community_user_id(scene: Scene) -> None:
    # sv_unitstatus.lua:38-46: {communityUserId, status} with the serverId taken out of the body.
    scene.resource.ok("PATCH", f"{S1}/units/status", {"communityUserId": PLAYER, "status": 3})
    assert scene.unit(PLAYER)["status"] == 3
    assert scene.unit(OTHER)["status"] == 2


def test_panic_by_singular_community_user_id(scene: Scene) -> None:
    # sv_callcommands.lua:132-150: {isPanic: true, communityUserId}.
    scene.resource.ok("PATCH", f"{S1}/units/panic", {"isPanic": True, "communityUserId": PLAYER})
    assert scene.unit(PLAYER)["isPanic"] is True
    assert scene.unit(OTHER)["isPanic"] is False


def test_kick_of_a_player_who_left_takes_the_unit_off_duty(scene: Scene) -> None:
    # sv_kick.lua:39-65: {communityUserId, reason}, POST, when a linked on-duty player leaves.
    scene.resource.ok(
        "POST", f"{S1}/units/kick", {"communityUserId": PLAYER, "reason": "Player left the server"}
    )
    on_duty = [identity(unit) for unit in scene.units()]
    assert PLAYER not in on_duty
    assert OTHER in on_duty


def test_911_call_with_string_metadata_is_listed_with_it(scene: Scene) -> None:
    # An unlinked caller's id is the text "nil" (§4.3); every value a string (client.lua:132-144).
    call_id = create_911(scene, callerCommunityUserId="nil")
    listed = [call for call in scene.calls()["EmergencyCalls"] if call["callId"] == call_id]
    assert len(listed) == 1
    call = listed[0]
    for field in ("caller", "location", "description", "metaData"):
        assert field in call, field
    assert call["metaData"]["callerCommunityUserId"] == "nil"
    assert call["metaData"]["postal"] == "9001"


def test_911_call_with_metadata_as_an_empty_table(scene: Scene) -> None:
    body = {
        "isEmergency": False,
        "caller": "AI caller",
        "location": "Vinewood",
        "description": "Noise",
        "metaData": {},
    }
    answer = scene.resource.ok("POST", f"{S1}/calls/911", body)  # written as "metaData":[]
    assert isinstance(answer["callId"], int)


def test_911_call_is_removed_by_a_delete_without_body(scene: Scene) -> None:
    # sv_dispatchnotify.lua:412: a unit takes the call with `/dn respond <id>`.
    call_id = create_911(scene)
    scene.resource.ok("DELETE", f"{S1}/calls/911/{call_id}")
    assert [call["callId"] for call in scene.calls()["EmergencyCalls"]] == []


def test_dispatch_from_dn_respond_attaches_the_responding_unit(scene: Scene) -> None:
    call_id = respond_dispatch(scene, created_from=create_911(scene))
    call = scene.active_call(call_id)
    assert call["idents"] == [scene.idents[PLAYER]]
    assert call["metaData"]["createdFromId"] != ""


def test_dispatch_from_call_templates_with_empty_tables(scene: Scene) -> None:
    call_id = template_dispatch(scene, [])
    assert scene.active_call(call_id)["idents"] == []


def test_dispatch_from_the_create_call_event_with_empty_metadata_and_notes(scene: Scene) -> None:
    # sv_callcommands.lua:101-130: the event's defaults write metaData and notes as empty tables ([]).
    body = {
        "origin": 0,
        "status": 1,
        "priority": 1,
        "block": "",
        "address": "Sandy Shores",
        "postal": "",
        "title": "Welfare check",
        "code": "",
        "description": "Created by another resource",
        "notes": {},
        "communityUserIds": [PLAYER],
        "metaData": {},
    }
    answer = scene.resource.ok("POST", f"{S1}/dispatch-calls", body)  # written as "notes":[], "metaData":[]
    assert scene.active_call(answer["callId"])["idents"] == [scene.idents[PLAYER]]


def test_attach_with_units_of_community_user_ids(scene: Scene) -> None:
    # sv_dispatchnotify.lua:419-428, tablet/sv_main.lua:114-125: {units: [communityUserId, ...]}.
    call_id = template_dispatch(scene, [PLAYER])
    scene.resource.ok("POST", f"{S1}/dispatch-calls/{call_id}/attachments", {"units": [OTHER]})
    assert sorted(scene.active_call(call_id)["idents"]) == sorted(scene.idents.values())


def test_detach_is_a_delete_with_a_body_carrying_call_id_and_units(scene: Scene) -> None:
    # tablet/sv_main.lua:127-138 → client.lua:1145-1150: a JSON body on a DELETE.
    call_id = template_dispatch(scene, [PLAYER])
    scene.resource.ok("POST", f"{S1}/dispatch-calls/{call_id}/attachments", {"units": [OTHER]})
    scene.resource.ok("DELETE", f"{S1}/dispatch-calls/attachments", {"callId": call_id, "units": [OTHER]})
    assert scene.active_call(call_id)["idents"] == [scene.idents[PLAYER]]


def test_note_with_only_its_text(scene: Scene) -> None:
    # sv_dispatchnotify.lua:677-691: `/dn note` sends {note} and nothing else.
    call_id = template_dispatch(scene, [PLAYER])
    scene.resource.ok("POST", f"{S1}/dispatch-calls/{call_id}/notes", {"note": "Suspect in a blue sedan"})
    contents = [note.get("content") for note in scene.active_call(call_id)["notes"]]
    assert "Suspect in a blue sedan" in contents


def test_postal_of_the_primary_units_position(scene: Scene) -> None:
    # cl_dispatchnotify.lua:149 → sv_dispatchnotify.lua:632-644: {postal} whenever it changes.
    call_id = template_dispatch(scene, [PLAYER])
    scene.resource.ok("PATCH", f"{S1}/dispatch-calls/{call_id}/postal", {"postal": "9002"})
    assert scene.active_call(call_id)["postal"] == "9002"
