"""A crew of accounts with every kind of id, for the units and targets tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import insert, update

from opendispatch.units.models import account_api_ids, accounts, identifiers
from tests.support import Community, Provisioner, lift_limits

S1 = "/v2/emergency/servers/1"
# What the in-game resource sends as communityUserId: the bare 40-hex license, no prefix.
LICENSE = "3f1c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a"


@dataclass
class Crew:
    """Ann (every kind of id), Bob (linked only), Cid (linked, unit on server 2 only)."""

    community: Community
    uuids: dict[str, str] = field(default_factory=dict)
    units: dict[str, int] = field(default_factory=dict)


def give_ids(
    provision: Provisioner,
    community: Community,
    account_uuid: str,
    *,
    discord: str | None = None,
    roblox: str | None = None,
    api_ids: tuple[str, ...] = (),
) -> None:
    """Set an account's Discord and Roblox ids and API ids the way the (future) account API will."""
    with provision.db.transaction() as conn:
        conn.execute(
            update(accounts)
            .where(accounts.c.account_uuid == account_uuid)
            .values(discord=discord, roblox=roblox)
        )
        for api_id in api_ids:
            conn.execute(
                insert(account_api_ids).values(
                    community_id=community.community_id, api_id=api_id, account_uuid=account_uuid
                )
            )


def set_group(provision: Provisioner, ident_id: int, group: str) -> None:
    with provision.db.transaction() as conn:
        conn.execute(update(identifiers).where(identifiers.c.ident_id == ident_id).values(group_name=group))


def make_crew(provision: Provisioner, community: Community) -> Crew:
    crew = Crew(community)
    for name, user in (("ann", LICENSE), ("bob", "license:bob"), ("cid", "license:cid")):
        crew.uuids[name] = provision.account(community, name, community_user_id=user)["uuid"]
    crew.units["ann"] = provision.unit(community, crew.uuids["ann"], unit_num="1A-01")
    crew.units["bob"] = provision.unit(community, crew.uuids["bob"], unit_num="1A-02")
    crew.units["cid"] = provision.unit(community, crew.uuids["cid"], server_id=2, unit_num="2C-03")
    give_ids(
        provision, community, crew.uuids["ann"], discord="111222333", roblox="4455", api_ids=("steam:ann",)
    )
    lift_limits(provision, community)
    return crew


def units_of(http: httpx.Client, server: str = S1) -> dict[int, dict[str, Any]]:
    """Get Active Units (offline and dispatchers too), by id."""
    answer = http.get(f"{server}/units", params={"includeOffline": "true", "onlyUnits": "false"})
    assert answer.status_code == 200, answer.text
    return {unit["id"]: unit for unit in answer.json()}


def active_calls(http: httpx.Client) -> list[dict[str, Any]]:
    answer = http.get(f"{S1}/calls", params={"closedLimit": 0})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["activeCalls"])


def dispatch_body(**targets: Any) -> dict[str, Any]:
    return {
        "origin": 0,
        "status": 1,
        "priority": 2,
        "block": "",
        "address": "Mission Row",
        "postal": "9001",
        "title": "Officer Responding",
        "code": "",
        "description": "Respond",
        "notes": [],
        **targets,
    }


def open_call(http: httpx.Client, **targets: Any) -> int:
    """A dispatch call with the given targets attached (none when none given)."""
    answer = http.post(f"{S1}/dispatch-calls", json=dispatch_body(**({"communityUserIds": []} | targets)))
    assert answer.status_code == 200, answer.text
    return int(answer.json()["callId"])
