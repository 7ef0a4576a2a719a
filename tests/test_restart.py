"""Stopping and starting the server: acknowledged calls stay, and deadlines hold across the restart."""

from __future__ import annotations

import time
from typing import Any

import pytest

from opendispatch.settings import Settings
from tests.support import (
    Community,
    ManualClock,
    Provisioner,
    in_process_server,
    lift_limits,
    new_911,
    new_dispatch,
)

CALLS = "/v2/emergency/servers/1/calls"
CREATE_911 = "/v2/emergency/servers/1/calls/911"
CREATE_DISPATCH = "/v2/emergency/servers/1/dispatch-calls"


@pytest.fixture
def slow_sweep(settings: Settings) -> Settings:
    # The periodic sweep runs only once an hour here: whatever is gone right after a start was removed
    # because the start itself honoured the stored deadlines.
    return settings.model_copy(update={"expiry_interval_seconds": 3600})


def ids(calls: list[dict[str, Any]]) -> list[int]:
    return [call["callId"] for call in calls]


def test_a_call_past_its_deadline_is_gone_after_a_restart(
    slow_sweep: Settings, provision: Provisioner, community: Community, clock: ManualClock
) -> None:
    lift_limits(provision, community)
    with in_process_server(slow_sweep, clock) as first, first.client(community.api_key) as http:
        doomed = http.post(CREATE_911, json=new_911(deleteAfterMinutes=15)).json()
        doomed_closed = http.post(CREATE_DISPATCH, json=new_dispatch(status=2, deleteAfterMinutes=15)).json()
        kept = http.post(CREATE_911, json=new_911()).json()
        kept_later = http.post(CREATE_911, json=new_911(deleteAfterMinutes=60)).json()
        kept_active = http.post(CREATE_DISPATCH, json=new_dispatch()).json()
        before = http.get(CALLS).json()
        assert ids(before["emergencyCalls"]) == ids([doomed, kept, kept_later])
        assert ids(before["closedCalls"]) == ids([doomed_closed])

    clock.advance(minutes=15, seconds=1)

    with in_process_server(slow_sweep, clock) as second, second.client(community.api_key) as http:
        after = http.get(CALLS).json()
    expected = {
        "activeCalls": [kept_active],
        "emergencyCalls": [kept, kept_later],
        "closedCalls": [],
        "closedCallCount": 0,
    }
    # Each list also under its PascalCase name (docs/api.md: both spellings).
    assert after == {**expected, **{name[0].upper() + name[1:]: value for name, value in expected.items()}}


def test_the_deadline_counts_from_creation_not_from_the_restart(
    settings: Settings, provision: Provisioner, community: Community, clock: ManualClock
) -> None:
    lift_limits(provision, community)
    with in_process_server(settings, clock) as first, first.client(community.api_key) as http:
        doomed = http.post(CREATE_911, json=new_911(deleteAfterMinutes=15)).json()

    clock.advance(minutes=10)

    with in_process_server(settings, clock) as second, second.client(community.api_key) as http:
        assert ids(http.get(CALLS).json()["emergencyCalls"]) == [doomed["callId"]]
        # Five more minutes after the restart make fifteen since creation.
        clock.advance(minutes=5)
        deadline = time.monotonic() + 3
        while ids(http.get(CALLS).json()["emergencyCalls"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert http.get(CALLS).json()["emergencyCalls"] == []


def test_every_acknowledged_call_is_there_after_a_restart(
    settings: Settings, provision: Provisioner, community: Community, clock: ManualClock
) -> None:
    lift_limits(provision, community)
    player = provision.account(community, "player", community_user_id="player-1234")
    unit = provision.unit(community, player["uuid"])
    with in_process_server(settings, clock) as first, first.client(community.api_key) as http:
        created = [http.post(CREATE_911, json=new_911(caller=f"caller {n}")) for n in range(5)]
        created += [
            http.post(CREATE_DISPATCH, json=new_dispatch(status=n % 3, communityUserIds=["player-1234"]))
            for n in range(5)
        ]
        assert all(response.status_code == 200 for response in created)
        before = http.get(CALLS).json()
        assert before["activeCalls"][-1]["idents"] == [unit]

    with in_process_server(settings, clock) as second, second.client(community.api_key) as http:
        after = http.get(CALLS).json()
        next_call = http.post(CREATE_911, json=new_911()).json()
    assert after == before
    assert len(after["emergencyCalls"]) == 5
    # Ids are never reused after a restart either.
    assert next_call["callId"] > max(response.json()["callId"] for response in created)
