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
