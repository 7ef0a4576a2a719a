"""`opendispatch server list/show` and `account create --discord/--roblox`: what the CLI shows of the
general API's state."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from opendispatch.settings import Settings
from tests.support import Server, in_process_server
from tests.test_cli import Cli

S1 = "/v2/emergency/servers/1"


@pytest.fixture
def cli(database_url: str, provision: object) -> Cli:
    return Cli(database_url)


@pytest.fixture(autouse=True)
def no_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("OPENDISPATCH_"):
            monkeypatch.delenv(name)


@pytest.fixture
def running(settings: Settings) -> Iterator[Server]:
    with in_process_server(settings.model_copy(update={"key_cache_seconds": 0})) as server:
        yield server


def test_server_show_lists_settings_heartbeat_and_the_stored_configuration(cli: Cli, running: Server) -> None:
    created = cli.json("community", "create", "--name", "Alpha", "--servers", "2")
    community_id = created["communityId"]
    shown = cli.json("server", "show", "--community", community_id, "--server", "1")
    assert shown["heartbeat"] is None
    assert shown["configuration"] == {"stations": None, "callouts": None, "streetSigns": None, "pager": None}

    with running.client(created["apiKey"]) as http:
        assert (
            http.put(
                "/v2/general/servers", json={"servers": [{"id": 1, "listenerPort": "30120"}]}
            ).status_code
            == 200
        )
        assert http.post("/v2/general/servers/1/heartbeat", json={"playerCount": 12}).status_code == 200
        assert http.put(f"{S1}/callouts", json={"callouts": [{"id": "a", "data": {}}]}).status_code == 200
        assert http.put(f"{S1}/pager-config", json={"nodes": [{"id": "n"}]}).status_code == 200

    shown = cli.json("server", "show", "--community", community_id, "--server", "1")
    assert shown["server"]["listenerPort"] == "30120"
    assert shown["heartbeat"]["playerCount"] == 12
    assert shown["configuration"]["callouts"] == [{"id": "a", "data": {}}]
    assert shown["configuration"]["pager"]["nodes"] == [{"id": "n"}]

    human = cli.run("server", "show", "--community", community_id, "--server", "1")
    assert human.exit_code == 0, human.stderr
    assert "heartbeat: 12 players at" in human.stdout and "callouts: 1" in human.stdout
    assert "listenerPort: 30120" in human.stdout

    listed = cli.json("server", "list", "--community", community_id)
    assert [(one["id"], one["heartbeat"] is not None) for one in listed["servers"]] == [(1, True), (2, False)]
    assert "no heartbeat yet" in cli.run("server", "list", "--community", community_id).stdout

    assert "does not exist" in cli.fails("server", "show", "--community", community_id, "--server", "3")
    assert "does not exist" in cli.fails("server", "show", "--community", "nope", "--server", "1")


def test_account_create_takes_discord_and_roblox_ids(cli: Cli, running: Server) -> None:
    created = cli.json("community", "create", "--name", "Alpha")
    community_id = created["communityId"]
    account = cli.json(
        "account",
        "create",
        "--community",
        community_id,
        "--username",
        "alice",
        "--discord",
        "111",
        "--roblox",
        "222",
    )
    with running.client(created["apiKey"]) as http:
        found = http.get("/v2/general/accounts/account", params={"roblox": "222"}).json()
    assert (found["uuid"], found["discord"], found["roblox"]) == (account["accountUuid"], "111", "222")
    assert "digits" in cli.fails(
        "account", "create", "--community", community_id, "--username", "b", "--discord", "x1"
    )
    taken = cli.fails("account", "create", "--community", community_id, "--username", "c", "--discord", "111")
    assert "already taken" in taken
