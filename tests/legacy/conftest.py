"""Fixtures of the v1 tests: the world every type acts on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from opendispatch.api.limits import DEFAULT_LIMITS
from tests.legacy.v1 import S1, SDK_HEADERS, World
from tests.support import Community, Provisioner, Server


@pytest.fixture
def world(server: Server, community: Community, provision: Provisioner) -> Iterator[World]:
    # The checks read through v2 many times; limits have their own tests (test_errors.py).
    for endpoint in DEFAULT_LIMITS:
        provision.set_limit(community, endpoint, 10_000)
    idents, accounts = [], []
    for number in range(2):
        account = provision.account(community, f"officer{number}", f"license:{number}")
        accounts.append(account["uuid"])
        idents.append(provision.unit(community, account["uuid"], unit_num=f"1A-{number:02}"))
    with server.client(community.api_key) as v2, server.client() as v1:
        v1.headers.update(SDK_HEADERS)
        emergency = v2.post(
            f"{S1}/calls/911",
            json={"isEmergency": True, "caller": "Jane", "location": "Alta St", "description": "Fire"},
        )
        dispatch = v2.post(
            f"{S1}/dispatch-calls",
            json={
                "origin": 0,
                "status": 1,
                "priority": 1,
                "block": "100",
                "address": "Mission Row",
                "postal": "9001",
                "title": "Armed Robbery",
                "code": "211",
                "description": "Clerk reports a firearm.",
                "notes": [],
                "communityUserIds": ["license:0"],
            },
        )
        assert emergency.status_code == dispatch.status_code == 200, (emergency.text, dispatch.text)
        yield World(
            server=server,
            community=community,
            provision=provision,
            v2=v2,
            v1=v1,
            idents=idents,
            accounts=accounts,
            emergency_id=emergency.json()["callId"],
            dispatch_id=dispatch.json()["callId"],
        )
