"""The bounds of what units store: identifiers per account and units per server, over v2."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from opendispatch.units import service as units
from opendispatch.units.schemas import MAX_IDENTIFIERS_PER_ACCOUNT, MAX_UNITS_PER_SERVER, NewIdentifier
from tests.support import Community, Provisioner, Server, lift_limits

S1 = "/v2/emergency/servers/1"


@pytest.fixture
def http(server: Server, community: Community, provision: Provisioner) -> Any:
    lift_limits(provision, community)
    with server.client(community.api_key) as client:
        yield client


def refused(answer: httpx.Response, bound: str) -> None:
    assert answer.status_code == 409, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert bound in answer.json()["detail"], answer.json()


def test_an_account_holds_at_most_its_bound_of_identifiers(
    http: httpx.Client, provision: Provisioner, community: Community
) -> None:
    account = provision.account(community, "officer", "license:1")["uuid"]
    with provision.db.transaction() as conn:
        for _ in range(MAX_IDENTIFIERS_PER_ACCOUNT - 1):
            units.create_identifier(
                conn,
                community_id=community.community_id,
                account_uuid=account,
                fields=NewIdentifier(),
                now=provision.now(),
            )
    path = f"/v2/emergency/accounts/{account}/identifiers"
    last = http.post(path, json={"unitNum": "1A-25"})
    assert last.status_code == 200, last.text
    over = http.post(path, json={"unitNum": "1A-26"})
    refused(over, f"identifiers per account: {MAX_IDENTIFIERS_PER_ACCOUNT}")
    listed = http.get(path).json()["identifiers"]
    assert len(listed) == MAX_IDENTIFIERS_PER_ACCOUNT
    assert "1A-26" not in {item["unitNum"] for item in listed}
    # Deleting one makes room.
    assert http.delete(f"{path}/{last.json()['identId']}").status_code == 200
    assert http.post(path, json={"unitNum": "1A-26"}).status_code == 200


def test_a_server_holds_at_most_its_bound_of_units(
    http: httpx.Client, provision: Provisioner, community: Community, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real bound is 2,048 accounts on one server; three stand for it (the rule is the same).
    assert MAX_UNITS_PER_SERVER == 2048
    monkeypatch.setattr(units, "MAX_UNITS_PER_SERVER", 3)
    accounts = [provision.account(community, f"officer{n}", f"license:{n}")["uuid"] for n in range(4)]
    for account in accounts[:2]:
        provision.unit(community, account)  # selected on server 1
    idents = {}
    for account in accounts[2:]:
        made = http.post(f"/v2/emergency/accounts/{account}/identifiers", json={"unitNum": account[:4]})
        idents[account] = made.json()["identId"]
    chosen = http.put(
        f"/v2/emergency/accounts/{accounts[2]}/selected-identifier",
        json={"identId": idents[accounts[2]], "serverId": 1},
    )
    assert chosen.status_code == 200, chosen.text
    over = http.put(
        f"/v2/emergency/accounts/{accounts[3]}/selected-identifier",
        json={"identId": idents[accounts[3]], "serverId": 1},
    )
    refused(over, "units per server: 3")
    on_server = http.get(f"{S1}/units", params={"includeOffline": "true", "onlyUnits": "false"}).json()
    assert idents[accounts[3]] not in {unit["id"] for unit in on_server} and len(on_server) == 3
    # Choosing another identifier of an account already on the server takes no more room.
    again = http.post(f"/v2/emergency/accounts/{accounts[2]}/identifiers", json={"unitNum": "2B"})
    switched = http.put(
        f"/v2/emergency/accounts/{accounts[2]}/selected-identifier",
        json={"identId": again.json()["identId"], "serverId": 1},
    )
    assert switched.status_code == 200, switched.text
    # Server 2 has room of its own.
    other = http.put(
        f"/v2/emergency/accounts/{accounts[3]}/selected-identifier",
        json={"identId": idents[accounts[3]], "serverId": 2},
    )
    assert other.status_code == 200, other.text
