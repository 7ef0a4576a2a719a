"""``unitLocation`` over the hub, sent as the in-game resource sends it, seen through v2 Get Units."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from opendispatch.communities import service as communities
from opendispatch.settings import Settings
from tests.hub.node import run_client
from tests.support import Community, LiveServer, Provisioner, live_server

PLAYER = "7a3c0e0f5b8d4c2e9f1a6b7c8d9e0f1a2b3c4d5e"  # the bare license hash the resource sends


@pytest.fixture
def hub_server(uncached_settings: Settings, provision: Provisioner) -> Iterator[LiveServer]:
    """The server on a real socket and the real clock: the 200 ms spacing is measured in real time."""
    with live_server(uncached_settings) as running:
        yield running


@pytest.fixture
def officer(provision: Provisioner, community: Community) -> int:
    account = provision.account(community, "officer", PLAYER)
    return provision.unit(community, account["uuid"], server_id=1, unit_num="1A-01")


def update(location: str, x: float, **extra: Any) -> dict[str, Any]:
    """One entry as the resource's location submodule builds it."""
    return {
        "communityUserId": PLAYER,
        "location": location,
        "coordinates": {"x": x, "y": -21.5, "z": 30.0, "w": 90.0},
        "vehicle": {"type": "police", "lights": False},
        **extra,
    }


def units(server: LiveServer, community: Community) -> dict[int, dict[str, Any]]:
    with server.client(community.api_key) as http:
        answer = http.get("/v2/emergency/servers/1/units", params={"includeOffline": "true"})
    assert answer.status_code == 200, answer.text
    return {unit["id"]: unit for unit in answer.json()}


def stored(server: LiveServer, community: Community, ident: int, location: str) -> dict[str, Any]:
    """The unit once Get Units shows it at ``location``: hub positions are saved in batches."""
    deadline = time.monotonic() + 10
    while (unit := units(server, community)[ident])["location"] != location:
        assert time.monotonic() < deadline, f"still at {unit['location']!r}, not {location!r}"
        time.sleep(0.4)  # Get Units has a rate limit; a save comes every second
    return unit


def test_positions_sent_every_250_ms_are_stored_and_refusals_are_the_documented_ones(
    hub_server: LiveServer, community: Community, officer: int
) -> None:
    auth = {
        "op": "invoke",
        "method": "authenticatev2",
        "args": [community.community_id, community.api_key, 1],
    }
    pause = {"op": "sleep", "ms": 250}
    steps = [
        {"op": "start"},
        {"op": "invoke", "method": "unitLocation", "args": [[update("Alta St", 1.0)]]},
        auth,
        {"op": "invoke", "method": "unitLocation", "args": [[update("Alta St", 10.0)]]},
        pause,
        {"op": "invoke", "method": "unitLocation", "args": [[update("Vespucci Blvd", 20.0)]]},
        {"op": "invoke", "method": "unitLocation", "args": [[update("Too soon", 30.0)]]},
        pause,
        {"op": "invoke", "method": "unitLocation", "args": [[update("Twenty-six", 40.0)] * 26]},
        pause,
        {"op": "invoke", "method": "unitLocation", "args": [[]]},
        pause,
        # One good entry beside one naming nobody: the call is refused whole.
        {"op": "invoke", "method": "unitLocation", "args": [[update("Half", 50.0), {"location": "Nowhere"}]]},
        pause,
        {"op": "invoke", "method": "unitLocation", "args": [[update("", 60.0)]]},
    ]
    outcomes = run_client(f"{hub_server.url}/apiWsHub", steps)
    results = [outcome.get("result") for outcome in outcomes]
    assert all(outcome["ok"] for outcome in outcomes), outcomes

    def refused(error: str) -> dict[str, Any]:
        return {"success": False, "error": error, "count": 0}

    assert results[1] == refused("Unauthenticated. Call authenticate first.")
    assert results[2]["success"] is True
    assert results[3] == {"success": True, "error": None, "count": 1}
    assert results[5] == {"success": True, "error": None, "count": 1}
    assert results[6] == refused("UNIT_LOCATION updates are limited to every 200ms.")
    assert results[8] == refused("Too many unit updates in one call. Max is 25.")
    assert results[10] == refused("Missing unit location updates.")
    bad_target = "Each unit update requires identId, apiId, communityUserId, or roblox, and location."
    assert results[12] == refused(bad_target)
    assert results[14] == refused(bad_target)
    # The last position stored is the last accepted one: nothing of the refused calls was kept.
    unit = stored(hub_server, community, officer, "Vespucci Blvd")
    assert unit["coordinates"]["x"] == 20.0 and unit["coordinates"]["y"] == -21.5


def test_a_connection_of_one_community_cannot_move_anothers_units(
    hub_server: LiveServer, provision: Provisioner, community: Community, officer: int
) -> None:
    other = provision.community("Beta")
    steps = [
        {"op": "start"},
        {"op": "invoke", "method": "authenticatev2", "args": [other.community_id, other.api_key, 1]},
        {
            "op": "invoke",
            "method": "unitLocation",
            "args": [[update("Moved by Beta", 99.0, identId=officer)]],
        },
    ]
    outcomes = run_client(f"{hub_server.url}/apiWsHub", steps)
    assert outcomes[1]["result"]["success"] is True
    assert outcomes[2]["result"] == {"success": True, "error": None, "count": 0}  # names nobody of Beta's
    assert units(hub_server, community)[officer]["location"] == ""


def test_a_key_revoked_after_authenticating_stops_the_positions_of_that_connection(
    hub_server: LiveServer, provision: Provisioner, community: Community, officer: int
) -> None:
    with provision.db.transaction() as conn:
        spare = communities.create_api_key(conn, community_id=community.community_id, now=provision.now())
    steps = [
        {"op": "start"},
        {"op": "invoke", "method": "authenticatev2", "args": [community.community_id, spare, 1]},
        {"op": "invoke", "method": "unitLocation", "args": [[update("Alta St", 1.0)]]},
        {"op": "pause"},
        {"op": "sleep", "ms": 250},
        {"op": "invoke", "method": "unitLocation", "args": [[update("After revoking", 2.0)]]},
    ]
    outcomes = run_client(
        f"{hub_server.url}/apiWsHub", steps, during_pause=lambda: provision.revoke(community, spare)
    )
    assert outcomes[1]["result"]["success"] is True
    assert outcomes[2]["result"]["count"] == 1
    assert outcomes[5]["result"]["error"] == "Unauthenticated. Call authenticate first."
    assert stored(hub_server, community, officer, "Alta St")["coordinates"]["x"] == 1.0
