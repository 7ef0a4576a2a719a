"""The real sonoran-py SDK's general and configuration methods on a live server, each effect read back."""

from __future__ import annotations

from typing import Any

from opendispatch.units import service as units
from tests.support import Community, LiveServer, Provisioner, lift_every_limit
from tests.test_sdk import sdk
from tests.web.support import Console, dispatcher


def test_the_sdk_finds_accounts_and_sets_and_checks_api_ids(
    live: LiveServer, provision: Provisioner, community: Community
) -> None:
    lift_every_limit(provision, community)
    with provision.db.transaction() as conn:
        created = units.create_account(
            conn,
            community_id=community.community_id,
            username="alice",
            now=provision.now(),
            community_user_id="lic-a",
            discord="4242",
        )
    cad = sdk(live, community.api_key, community.community_id)

    listed = cad.getAccountsV2({"limit": 10, "username": "ali"})
    assert listed.success, listed.reason
    assert [one["uuid"] for one in listed.data["accounts"]] == [created.account_uuid]
    by_discord = cad.getAccountV2({"discord": "4242"})
    assert by_discord.success and by_discord.data["uuid"] == created.account_uuid

    assert cad.checkApiIdV2("steam:1").success is False
    assert cad.setApiIdsV2({"username": "alice", "apiIds": ["steam:1"], "pushNew": True}).success
    held = cad.checkApiIdV2("steam:1")
    assert held.success and held.data["accountUuid"] == created.account_uuid
    # The SDK turns apiId into communityUserId; an API id names the account too.
    by_api_id = cad.getAccountV2({"apiId": "steam:1"})
    assert by_api_id.success and by_api_id.data["username"] == "alice"

    verified = cad.verifySecretV2(created.secret_uuid)
    assert verified.success and verified.data == {created.secret_uuid: created.account_uuid}


def test_the_sdk_links_a_player_through_a_code_and_through_the_secret(
    live: LiveServer, provision: Provisioner, community: Community
) -> None:
    lift_every_limit(provision, community)
    alice = dispatcher(provision, community)
    bob = provision.account(community, "bob")
    cad = sdk(live, community.api_key, community.community_id)

    assert cad.checkCommunityLinkV2({"communityUserId": "p-1"}).data["linked"] is False
    code = cad.createCommunityLinkV2({"communityUserId": "p-1"})
    assert code.success, code.reason
    assert code.data["url"].startswith(live.url) and code.data["communityUserId"] == "p-1"
    console = Console(live, community)
    assert console.http.post("/console/api/links/redeem", json={"code": code.data["code"]}).status_code == 200
    checked = cad.checkCommunityLinkV2({"communityUserId": "p-1"})
    assert checked.data == {"linked": True, "accountUuid": alice["uuid"], "communityUserId": "p-1"}

    linked = cad.setCommunityLinkV2(
        {"accountUuid": bob["uuid"], "secretUuid": bob["secret"], "communityUserId": "p-2"}
    )
    assert linked.success, linked.reason
    assert cad.checkCommunityLinkV2({"communityUserId": "p-2"}).data["accountUuid"] == bob["uuid"]


def test_the_sdk_configures_servers_and_their_heartbeat(
    live: LiveServer, provision: Provisioner, community: Community
) -> None:
    lift_every_limit(provision, community)
    cad = sdk(live, community.api_key, community.community_id)

    info = cad.getInfoV2()
    assert info.success and info.data["community"]["comId"] == community.community_id

    server: dict[str, Any] = {
        "id": 1,
        "name": "Main Server",
        "listenerPort": "30120",
        "mapIp": "203.0.113.10",
    }
    assert cad.setServersV2([server], True).success
    servers = cad.getServersV2()
    assert servers.success, servers.reason
    assert [(one["id"], one["name"], one["listenerPort"]) for one in servers.data["servers"]] == [
        (1, "Main Server", "30120"),
        (2, "Server 2", ""),
    ]

    beat = cad.heartbeatV2(1, 12)
    assert beat.success and beat.data["playerCount"] == 12
    dispatcher(provision, community)
    board = Console(live, community).get("/console/api/servers/1/board").json()
    assert board["heartbeat"]["playerCount"] == 12


def test_the_sdk_writes_the_servers_configuration_and_reads_the_pager_back(
    live: LiveServer, provision: Provisioner, community: Community
) -> None:
    lift_every_limit(provision, community)
    cad = sdk(live, community.api_key, community.community_id)

    stations = {
        "locations": [{"name": "Station 1", "coordinates": {"x": 1, "y": 2, "z": 3, "w": 0}}],
        "tones": [],
        "unitColors": [],
    }
    assert cad.setStationsV2(stations, 1).data == {"serverId": 1}
    assert cad.setAvailableCalloutsV2([{"id": "a", "data": {"Enabled": True}}], 1).data == {
        "serverId": 1,
        "callouts": 1,
    }
    sign = {"id": 7, "label": "Mission Row", "text1": "Mission Row", "text2": "", "text3": ""}
    assert cad.setStreetSignConfigV2([sign], 1).data == {"serverId": 1, "signs": 1}
    assert cad.updateStreetSignsV2({"serverId": 1, "ids": [7], "text2": "Alta St"}).data == {"ids": [7]}

    pager = {"serverId": 2, "maxAddresses": 4, "nodes": [{"id": "root", "name": "Fire", "children": []}]}
    assert cad.setPagerConfigV2(pager).data == {"serverId": 2}
    read = cad.getPagerConfigV2(2)
    assert read.success and read.data["maxAddresses"] == 4 and read.data["nodes"][0]["name"] == "Fire"
    assert cad.getPagerConfigV2(1).data["nodes"] == []

    from opendispatch.communities.service import server_configuration

    with provision.db.transaction() as conn:
        stored = server_configuration(conn, community_id=community.community_id, server_id=1)
    assert stored.stations is not None and stored.stations["locations"][0]["name"] == "Station 1"
    assert stored.streetSigns == [{**sign, "text2": "Alta St", "coordinates": None}]
