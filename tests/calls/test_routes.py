"""Create and list calls through HTTP against the running app."""

from __future__ import annotations

from tests.support import Community, Server

NEW_911 = {
    "isEmergency": True,
    "caller": "911 Caller",
    "location": "Alta St / Integrity Way",
    "description": "Shots fired",
    "deleteAfterMinutes": 15,
    "metaData": {"source": "integration", "x": "425.1", "y": "-979.2", "z": "30.7", "postal": "9001"},
}


def test_created_911_call_is_answered_and_listed(server: Server, community: Community) -> None:
    with server.client(community.api_key) as http:
        created = http.post("/v2/emergency/servers/1/calls/911", json=NEW_911)
        assert created.status_code == 200, created.text
        call = created.json()
        assert set(call) == {
            "callId",
            "isEmergency",
            "caller",
            "location",
            "description",
            "metaData",
            "updated",
        }
        assert call["metaData"] == NEW_911["metaData"]
        assert call["updated"].endswith("Z")
        listing = http.get("/v2/emergency/servers/1/calls").json()
    assert listing["emergencyCalls"] == [call]


def test_who_is_calling_is_checked_before_the_path_on_every_route(server: Server) -> None:
    # A server id beyond 64 bits is a 400, but only for a caller the server knows.
    huge = 2**64
    with server.client() as anonymous:
        assert anonymous.post(f"/v2/emergency/servers/{huge}/calls/911", json=NEW_911).status_code == 401
        assert anonymous.get(f"/v2/emergency/servers/{huge}/calls").status_code == 401
    with server.client("od_not-a-key") as unknown:
        assert unknown.post(f"/v2/emergency/servers/{huge}/calls/911", json=NEW_911).status_code == 401


def test_a_server_id_beyond_64_bits_is_a_400_naming_it(server: Server, community: Community) -> None:
    with server.client(community.api_key) as http:
        answer = http.post(f"/v2/emergency/servers/{2**64}/calls/911", json=NEW_911)
    assert answer.status_code == 400
    assert [error["field"] for error in answer.json()["errors"]] == ["serverId"]
