"""The real sonoran-py SDK from PyPI, unmodified, pointed at a live server with `cadApiUrl`."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import sonoran.managers.cad
from sonoran import Instance, productEnums

from tests.support import Community, LiveServer, Provisioner

REAL_SLEEP = time.sleep


def sdk(live: LiveServer, api_key: str, community_id: str) -> Any:
    instance = Instance(
        apiKey=api_key,
        communityId=community_id,
        product=productEnums.CAD,
        serverId=1,
        cadApiUrl=live.url,
    )
    assert instance.cad is not None
    return instance.cad


def emergency_request(**overrides: Any) -> dict[str, Any]:
    # The reference's Sonoran.py example, verbatim.
    request: dict[str, Any] = {
        "serverId": 1,
        "isEmergency": True,
        "caller": "John Doe",
        "location": "101 Alta Street",
        "description": "Structure fire with visible smoke.",
        "deleteAfterMinutes": 30,
        "metaData": {"source": "integration", "x": "425.1", "y": "-979.2", "z": "30.7", "postal": "9001"},
    }
    request.update(overrides)
    return request


def dispatch_request(**overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "serverId": 1,
        "origin": 0,
        "status": 1,
        "priority": 1,
        "block": "Alta St / Integrity Way",
        "address": "101 Alta Street",
        "postal": "9001",
        "title": "Structure Fire",
        "code": "10-70",
        "description": "Visible smoke coming from the second floor.",
        "notes": [{"label": "Dispatch", "type": "INFO", "content": "Flames visible from the rear alley."}],
        "communityUserIds": ["player-1234"],
        "deleteAfterMinutes": 30,
    }
    request.update(overrides)
    return request


def test_the_sdk_creates_a_911_call_and_a_dispatch_call_and_reads_them_back(
    live: LiveServer, provision: Provisioner, community: Community
) -> None:
    player = provision.account(community, "player", community_user_id="player-1234")
    unit = provision.unit(community, player["uuid"], unit_num="1A-01")
    cad = sdk(live, community.api_key, community.community_id)

    emergency = cad.createEmergencyCallV2(emergency_request())
    assert emergency.success, emergency.reason
    assert emergency.data["caller"] == "John Doe"
    assert emergency.data["metaData"]["postal"] == "9001"
    assert isinstance(emergency.data["callId"], int)

    dispatch = cad.createDispatchCallV2(dispatch_request())
    assert dispatch.success, dispatch.reason
    assert dispatch.data["idents"] == [unit]
    assert dispatch.data["primary"] == unit
    assert dispatch.data["notes"][0]["content"] == "Flames visible from the rear alley."
    assert dispatch.data["callId"] > emergency.data["callId"]

    calls = cad.getCallsV2({"serverId": 1, "closedLimit": 10, "closedOffset": 0, "type": 100})
    assert calls.success, calls.reason
    assert calls.data["emergencyCalls"] == [emergency.data]
    assert calls.data["activeCalls"] == [dispatch.data]
    assert calls.data["closedCalls"] == []
    assert calls.data["closedCallCount"] == 0


def test_the_sdks_older_api_ids_alias_targets_units_too(
    live: LiveServer, provision: Provisioner, community: Community
) -> None:
    player = provision.account(community, "player", community_user_id="license:abc123")
    unit = provision.unit(community, player["uuid"])
    cad = sdk(live, community.api_key, community.community_id)
    request = dispatch_request(apiIds=["license:abc123"])
    del request["communityUserIds"]
    dispatch = cad.createDispatchCallV2(request)
    assert dispatch.success, dispatch.reason
    assert dispatch.data["idents"] == [unit]


def test_the_sdk_reports_a_bad_key_as_a_failure_with_the_problem(
    live: LiveServer, community: Community
) -> None:
    cad = sdk(live, "od_wrong", community.community_id)
    response = cad.createEmergencyCallV2(emergency_request())
    assert response.success is False
    assert response.reason["status"] == 401


def test_the_sdk_sees_a_429_after_the_limit_having_waited_what_retry_after_said(
    live: LiveServer, provision: Provisioner, community: Community, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The SDK retries a 429 twice, sleeping Retry-After seconds (at most 10): record instead of sleeping.
    delays: list[float] = []
    sdk_thread = threading.current_thread()

    def record(seconds: float) -> None:
        if threading.current_thread() is sdk_thread:
            delays.append(seconds)
        else:
            REAL_SLEEP(seconds)

    monkeypatch.setattr(sonoran.managers.cad.time, "sleep", record)
    cad = sdk(live, community.api_key, community.community_id)

    # The reference's limit for Create 911 Call: 10 a minute.
    for _ in range(10):
        created = cad.createEmergencyCallV2(emergency_request())
        assert created.success, created.reason
    assert delays == []

    refused = cad.createEmergencyCallV2(emergency_request())
    assert refused.success is False
    assert set(refused.reason) == {"message", "request_id"}
    assert refused.reason["message"] == "API rate limit exceeded"
    # Ten a minute is one every six seconds: that is the honest wait, and what the SDK was told.
    assert delays == [6.0, 6.0]
    with live.client(community.api_key) as http:
        probe = http.post("/v2/emergency/servers/1/calls/911", json=emergency_request())
    assert probe.status_code == 429
    assert float(probe.headers["Retry-After"]) == delays[-1]
    assert provision.scalar("SELECT count(*) FROM emergency_calls") == 10
