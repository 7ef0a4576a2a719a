"""``authenticatev2`` on the real server's hub, with the official client as the in-game resource uses it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from opendispatch.communities import service as communities
from opendispatch.settings import Settings
from tests.hub.node import run_client
from tests.support import Community, LiveServer, ManualClock, Provisioner, live_server


@pytest.fixture
def hub_server(
    uncached_settings: Settings, provision: Provisioner, clock: ManualClock
) -> Iterator[LiveServer]:
    """The server on a real socket, with the key cache off so a revocation shows at once."""
    with live_server(uncached_settings, clock) as running:
        yield running


def authenticate(server: LiveServer, *arguments: object, skip_negotiation: bool = False) -> dict[str, object]:
    steps = [{"op": "start"}, {"op": "invoke", "method": "authenticatev2", "args": list(arguments)}]
    started, outcome = run_client(f"{server.url}/apiWsHub", steps, skipNegotiation=skip_negotiation)
    assert started["ok"], started
    assert outcome["ok"], outcome
    result = outcome["result"]
    assert isinstance(result, dict)
    return result


@pytest.mark.parametrize("skip_negotiation", [False, True], ids=["negotiated", "skipNegotiation"])
def test_the_right_key_authenticates_with_and_without_a_server(
    hub_server: LiveServer, community: Community, skip_negotiation: bool
) -> None:
    with_server = authenticate(
        hub_server, community.community_id, community.api_key, 1, skip_negotiation=skip_negotiation
    )
    assert with_server == {"success": True, "error": None, "count": 0}
    without = authenticate(
        hub_server, community.community_id, community.api_key, skip_negotiation=skip_negotiation
    )
    assert without["success"] is True


def test_a_wrong_or_revoked_key_or_another_community_is_refused_alike(
    hub_server: LiveServer, provision: Provisioner, community: Community
) -> None:
    other = provision.community("Beta")
    refused = {"success": False, "error": "Invalid community ID or API key.", "count": 0}
    assert authenticate(hub_server, community.community_id, "not-a-key", 1) == refused
    assert authenticate(hub_server, community.community_id, other.api_key, 1) == refused  # B's key, A's id
    with provision.db.transaction() as conn:
        spare = communities.create_api_key(conn, community_id=community.community_id, now=provision.now())
    assert authenticate(hub_server, community.community_id, spare, 1)["success"] is True
    provision.revoke(community, spare)
    assert authenticate(hub_server, community.community_id, spare, 1) == refused


def test_a_server_of_another_community_or_a_bad_server_id_is_refused(
    hub_server: LiveServer, provision: Provisioner, community: Community
) -> None:
    provision.community("Beta", servers=5)  # Beta has a server 5; Alpha has two
    assert authenticate(hub_server, community.community_id, community.api_key, 5) == {
        "success": False,
        "error": "Server 5 does not exist in this community.",
        "count": 0,
    }
    assert authenticate(hub_server, community.community_id, community.api_key, "one")["error"] == (
        "serverId must be a whole number."
    )
    assert authenticate(hub_server, community.community_id, community.api_key, "2")["success"] is True


def test_a_disabled_community_or_a_switched_off_api_is_refused(
    hub_server: LiveServer, provision: Provisioner, community: Community
) -> None:
    refused = {"success": False, "error": "The API is not enabled for this community.", "count": 0}
    with provision.db.transaction() as conn:
        communities.change_community(conn, community_id=community.community_id, api_enabled=False)
    assert authenticate(hub_server, community.community_id, community.api_key, 1) == refused
    with provision.db.transaction() as conn:
        communities.change_community(conn, community_id=community.community_id, api_enabled=True)
        communities.set_community_disabled(
            conn, community_id=community.community_id, disabled=True, now=provision.now()
        )
    assert authenticate(hub_server, community.community_id, community.api_key, 1) == refused
    with provision.db.transaction() as conn:
        communities.set_community_disabled(
            conn, community_id=community.community_id, disabled=False, now=provision.now()
        )
    assert authenticate(hub_server, community.community_id, community.api_key, 1)["success"] is True
