"""The operator's command line sees and changes what it creates: community, server, key, account and unit
list/show/set/disable, and `status`; with --json, one-line errors, and never a full key printed or taken."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from opendispatch.events import service as events
from opendispatch.settings import Settings
from tests.support import Provisioner, Server, every_row_count, in_process_server, new_911
from tests.test_cli import Cli
from tests.web.support import PASSWORD

CALLS = "/v2/emergency/servers/1/calls"
LOGIN = "/console/api/login"
COMMUNITY_FIELDS = {
    "communityId",
    "name",
    "plan",
    "apiEnabled",
    "disabled",
    "disabledAt",
    "created",
    "servers",
    "activeKeys",
    "consolePath",
}
KEY_FIELDS = {"prefix", "label", "created", "lastUsed", "revoked"}
ACCOUNT_FIELDS = {
    "accountUuid",
    "username",
    "communityUserId",
    "discord",
    "roblox",
    "roles",
    "hasPassword",
    "disabled",
    "disabledAt",
    "created",
    "lastLogin",
    "apiIds",
    "identifiers",
}


@pytest.fixture
def cli(database_url: str, provision: Provisioner) -> Cli:
    return Cli(database_url)


@pytest.fixture(autouse=True)
def no_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("OPENDISPATCH_"):
            monkeypatch.delenv(name)


@pytest.fixture
def running(settings: Settings) -> Iterator[Server]:
    # Key cache off: what the CLI changes shows on the next request.
    with in_process_server(settings.model_copy(update={"key_cache_seconds": 0})) as server:
        yield server


def login(running: Server, community_id: str, username: str, password: str = PASSWORD) -> int:
    with running.client() as http:
        body = {"communityId": community_id, "username": username, "password": password}
        return http.post(LOGIN, json=body).status_code


# -- communities -----------------------------------------------------------------------------------------


def test_community_list_show_and_set(cli: Cli, running: Server) -> None:
    alpha = cli.json("community", "create", "--name", "Alpha", "--servers", "2")
    beta = cli.json("community", "create", "--name", "Beta", "--plan", "standard")
    listed = cli.json("community", "list")["communities"]
    assert [one["communityId"] for one in listed] == [alpha["communityId"], beta["communityId"]]
    assert all(set(one) == COMMUNITY_FIELDS for one in listed)
    assert [(one["name"], one["plan"], one["servers"], one["activeKeys"]) for one in listed] == [
        ("Alpha", "PRO", 2, 1),
        ("Beta", "STANDARD", 1, 1),
    ]
    shown = cli.json("community", "show", "--community", alpha["communityId"])
    assert shown == listed[0]
    assert shown["apiEnabled"] is True and shown["disabled"] is False
    assert shown["consolePath"] == f"/console?community={alpha['communityId']}"
    human = cli.run("community", "list")
    assert "Alpha" in human.stdout and "Beta" in human.stdout and "API on" in human.stdout

    changed = cli.json("community", "set", "--community", alpha["communityId"], "--name", "Alpha RP")
    assert changed["name"] == "Alpha RP"
    cli.json("community", "set", "--community", alpha["communityId"], "--plan", "plus")
    with running.client(alpha["apiKey"]) as http:
        assert http.get("/v2/general/version").json() == {"version": 3, "name": "PLUS"}
        assert http.get("/v2/general/info").json()["community"]["name"] == "Alpha RP"
    # Beta is untouched.
    assert cli.json("community", "show", "--community", beta["communityId"])["name"] == "Beta"


def test_the_api_switch_refuses_the_communitys_keys_on_v2_and_v1(cli: Cli, running: Server) -> None:
    alpha = cli.json("community", "create", "--name", "Alpha")
    beta = cli.json("community", "create", "--name", "Beta")
    off = cli.json("community", "set", "--community", alpha["communityId"], "--no-api")
    assert off["apiEnabled"] is False and off["disabled"] is False
    with running.client(alpha["apiKey"]) as http:
        refused = http.post(f"{CALLS}/911", json=new_911())
        assert refused.status_code == 403
        assert refused.json()["detail"] == "The API is not enabled for this community."
        v1 = http.post(
            "/general/get_version",
            json={"id": alpha["communityId"], "key": alpha["apiKey"], "type": "GET_VERSION", "data": []},
        )
        assert (v1.status_code, v1.text) == (400, "API IS NOT ENABLED FOR THIS COMMUNITY")
    with running.client(beta["apiKey"]) as http:
        assert http.get(CALLS).status_code == 200
    cli.json("community", "set", "--community", alpha["communityId"], "--api")
    with running.client(alpha["apiKey"]) as http:
        assert http.get(CALLS).status_code == 200
        assert http.get(CALLS).json()["emergencyCalls"] == []  # the refused create created nothing


def test_a_disabled_community_refuses_its_keys_and_its_console(cli: Cli, running: Server) -> None:
    alpha = cli.json("community", "create", "--name", "Alpha")
    cid = alpha["communityId"]
    cli.json(
        "account", "create", "--community", cid, "--username", "ann", "--dispatcher", stdin=PASSWORD + "\n"
    )
    with running.client() as console:
        body = {"communityId": cid, "username": "ann", "password": PASSWORD}
        assert console.post(LOGIN, json=body).status_code == 200
        assert console.get("/console/api/session").status_code == 200

        disabled = cli.json("community", "disable", "--community", cid)
        assert disabled["disabled"] is True and disabled["disabledAt"] is not None
        with running.client(alpha["apiKey"]) as http:
            refused = http.get(CALLS)
            assert refused.status_code == 403, refused.text
            assert refused.json()["detail"] == "The API is not enabled for this community."
        assert console.get("/console/api/session").status_code == 401  # its session ended
        assert console.post(LOGIN, json=body).status_code == 401
        assert "disabled" in cli.run("community", "show", "--community", cid).stdout

        enabled = cli.json("community", "enable", "--community", cid)
        assert enabled["disabled"] is False and enabled["disabledAt"] is None
        with running.client(alpha["apiKey"]) as http:
            assert http.get(CALLS).status_code == 200
        assert console.post(LOGIN, json=body).status_code == 200


# -- servers ---------------------------------------------------------------------------------------------


def test_server_set_changes_the_name_and_the_docs_fields(cli: Cli, running: Server) -> None:
    alpha = cli.json("community", "create", "--name", "Alpha", "--servers", "2")
    cid = alpha["communityId"]
    changed = cli.json(
        "server", "set", "--community", cid, "--server", "2", "--name", "Paleto", "--listener-port", "3232"
    )
    assert set(changed) == {"communityId", "server"}
    assert changed["server"]["name"] == "Paleto" and changed["server"]["listenerPort"] == "3232"
    assert cli.json("server", "show", "--community", cid, "--server", "2")["server"] == changed["server"]
    with running.client(alpha["apiKey"]) as http:
        listed = http.get("/v2/general/servers").json()["servers"]
    assert [(one["id"], one["name"]) for one in listed] == [(1, "Server 1"), (2, "Paleto")]
    # A server that does not exist is not made by `set`.
    assert "Server 3 does not exist" in cli.fails(
        "server", "set", "--community", cid, "--server", "3", "--name", "X"
    )
    assert len(cli.json("server", "list", "--community", cid)["servers"]) == 2
    assert "nothing to change" in cli.fails("server", "set", "--community", cid, "--server", "1")
    too_long = cli.fails("server", "set", "--community", cid, "--server", "1", "--signal", "x" * 65)
    assert "signal" in too_long


# -- keys ------------------------------------------------------------------------------------------------


def test_key_list_shows_prefix_label_and_last_use_and_revoke_by_label_or_prefix(
    cli: Cli, running: Server
) -> None:
    alpha = cli.json("community", "create", "--name", "Alpha")
    cid = alpha["communityId"]
    bot = cli.json("key", "create", "--community", cid, "--label", "discord bot")["apiKey"]
    game = cli.json("key", "create", "--community", cid, "--label", "in-game")["apiKey"]
    keys = cli.json("key", "list", "--community", cid)["keys"]
    assert all(set(one) == KEY_FIELDS for one in keys)
    assert [(one["prefix"], one["label"], one["lastUsed"]) for one in keys] == [
        (alpha["apiKey"][:7], None, None),
        (bot[:7], "discord bot", None),
        (game[:7], "in-game", None),
    ]
    with running.client(bot) as http:
        assert http.get(CALLS).status_code == 200
    used = {one["label"]: one["lastUsed"] for one in cli.json("key", "list", "--community", cid)["keys"]}
    assert used["discord bot"] is not None and used["in-game"] is None

    revoked = cli.json("key", "revoke", "--community", cid, "--label", "discord bot")
    assert revoked["revoked"] is True and set(revoked["key"]) == KEY_FIELDS
    assert revoked["key"]["prefix"] == bot[:7] and revoked["key"]["revoked"] is not None
    by_prefix = cli.json("key", "revoke", "--community", cid, "--prefix", game[:7])
    assert by_prefix["key"]["label"] == "in-game"
    with running.client(bot) as http:
        assert http.get(CALLS).status_code == 401
    with running.client(game) as http:
        assert http.get(CALLS).status_code == 401
    with running.client(alpha["apiKey"]) as http:
        assert http.get(CALLS).status_code == 200
    assert [one["prefix"] for one in cli.json("key", "list", "--community", cid)["keys"]] == [
        alpha["apiKey"][:7]
    ]
    every = cli.json("key", "list", "--community", cid, "--all")["keys"]
    assert [one["revoked"] is not None for one in every] == [False, True, True]
    human = cli.run("key", "list", "--community", cid, "--all").stdout
    assert "discord bot" in human and "revoked" in human


def test_a_key_piped_on_stdin_is_revoked_and_a_key_as_an_argument_is_refused(
    cli: Cli, running: Server, provision: Provisioner
) -> None:
    alpha = cli.json("community", "create", "--name", "Alpha")
    cid = alpha["communityId"]
    spare = cli.json("key", "create", "--community", cid)["apiKey"]
    before = every_row_count(provision)
    refused = cli.fails("key", "revoke", "--community", cid, "--key", spare)
    assert "never taken as an argument" in refused and spare not in refused
    pushed = cli.fails(
        "push", "set", "--community", cid, "--server", "1", "--url", "http://x", "--key", spare
    )
    assert "never taken as an argument" in pushed
    assert every_row_count(provision) == before
    with running.client(spare) as http:
        assert http.get(CALLS).status_code == 200
    revoked = cli.run("key", "revoke", "--community", cid, "--key", "-", "--json", stdin=spare + "\n")
    assert revoked.exit_code == 0, revoked.stderr
    assert spare not in revoked.stdout
    with running.client(spare) as http:
        assert http.get(CALLS).status_code == 401
    # push set takes its body key the same way.
    target = cli.run(
        "push",
        "set",
        "--community",
        cid,
        "--server",
        "1",
        "--url",
        "http://127.0.0.1:9/e",
        "--key",
        "-",
        stdin=alpha["apiKey"] + "\n",
    )
    assert target.exit_code == 0, target.stderr
    assert alpha["apiKey"] not in target.stdout
    assert cli.json("push", "show", "--community", cid)["targets"][0]["hasKey"] is True


def test_key_revoke_errors_are_one_line_and_revoke_nothing(cli: Cli, provision: Provisioner) -> None:
    alpha = cli.json("community", "create", "--name", "Alpha")
    beta = cli.json("community", "create", "--name", "Beta")
    cid = alpha["communityId"]
    for label in ("twin", "twin"):
        cli.json("key", "create", "--community", cid, "--label", label)
    before = every_row_count(provision)
    active = provision.scalar("SELECT count(*) FROM api_keys WHERE revoked_at IS NULL")
    revoke = ("key", "revoke", "--community", cid)
    ambiguous = cli.fails(*revoke, "--prefix", "od_")
    assert "names 3 active keys" in ambiguous and alpha["apiKey"][:7] in ambiguous
    assert "names 2 active keys" in cli.fails(*revoke, "--label", "twin")
    assert "No active key of this community has the prefix 'od_zzzz'" in cli.fails(
        *revoke, "--prefix", "od_zzzz"
    )
    assert "No active key" in cli.fails(*revoke, "--label", "nope")
    assert "1 to 7 characters" in cli.fails(*revoke, "--prefix", alpha["apiKey"][:12])
    assert "exactly one" in cli.fails(*revoke)
    assert "exactly one" in cli.fails(*revoke, "--prefix", "od_", "--label", "twin")
    # Another community's key, by its prefix or piped whole: not this community's.
    assert "No active key" in cli.fails(*revoke, "--prefix", beta["apiKey"][:7])
    assert "not an active key" in cli.fails(*revoke, "--key", "-", stdin=beta["apiKey"])
    assert "does not exist" in cli.fails("key", "revoke", "--community", "nope", "--prefix", "od_")
    assert "does not exist" in cli.fails("key", "list", "--community", "nope")
    assert "at most 64" in cli.fails("key", "create", "--community", cid, "--label", "x" * 65)
    assert every_row_count(provision) == before
    assert provision.scalar("SELECT count(*) FROM api_keys WHERE revoked_at IS NULL") == active


def test_no_command_prints_a_key_after_it_was_made(cli: Cli, running: Server) -> None:
    alpha = cli.json("community", "create", "--name", "Alpha")
    cid = alpha["communityId"]
    labelled = cli.json("key", "create", "--community", cid, "--label", "bot")["apiKey"]
    another = cli.json("key", "create", "--community", cid, "--label", "bot 2")["apiKey"]
    account = cli.json("account", "create", "--community", cid, "--username", "ann")
    cli.json("unit", "create", "--community", cid, "--account", account["accountUuid"], "--server", "1")
    with running.client(labelled) as http:
        assert http.get(CALLS).status_code == 200
    commands = [
        ("status",),
        ("community", "list"),
        ("community", "show", "--community", cid),
        ("key", "list", "--community", cid, "--all"),
        ("server", "list", "--community", cid),
        ("server", "show", "--community", cid, "--server", "1"),
        ("account", "list", "--community", cid),
        ("account", "show", "--community", cid, "--username", "ann"),
        ("unit", "list", "--community", cid),
        ("limits", "show", "--community", cid),
    ]
    runs = [(command, extra) for command in commands for extra in ((), ("--json",))]
    runs += [
        (("key", "revoke", "--community", cid, "--label", "bot"), ()),
        (("key", "revoke", "--community", cid, "--label", "bot 2"), ("--json",)),
    ]
    for command, extra in runs:
        result = cli.run(*command, *extra)
        assert result.exit_code == 0, (command, result.stderr)
        for secret in (alpha["apiKey"], labelled, another, account["secretUuid"]):
            # Not even the part of a key after its listed prefix.
            assert secret[7:] not in result.output, command


# -- accounts --------------------------------------------------------------------------------------------


def test_account_create_admin_and_roles(cli: Cli, running: Server) -> None:
    cid = cli.json("community", "create", "--name", "Alpha")["communityId"]
    admin = cli.run(
        "account",
        "create",
        "--community",
        cid,
        "--username",
        "boss",
        "--admin",
        "--json",
        stdin=PASSWORD + "\n",
    )
    assert admin.exit_code == 0, admin.stderr
    assert PASSWORD not in admin.output
    assert '"roles": ["admin"]' in admin.stdout
    assert login(running, cid, "boss") == 200

    both = cli.json(
        "account",
        "create",
        "--community",
        cid,
        "--username",
        "ann",
        "--role",
        "dispatcher",
        "--role",
        "member",
        stdin=PASSWORD + "\n",
    )
    assert both["roles"] == ["dispatcher", "member"] and both["dispatcher"] is True
    assert login(running, cid, "ann") == 200
    member = cli.json("account", "create", "--community", cid, "--username", "max")
    assert member["roles"] == ["member"]
    assert login(running, cid, "max") == 401
    # `account password` on a member makes it a dispatcher, as it did before roles existed.
    password = cli.json("account", "password", "--community", cid, "--username", "max", stdin=PASSWORD)
    assert password["roles"] == ["dispatcher", "member"] and password["dispatcher"] is True
    assert login(running, cid, "max") == 200
    # An admin given a new password stays an admin only.
    again = cli.json("account", "password", "--community", cid, "--username", "boss", stdin=PASSWORD)
    assert again["roles"] == ["admin"] and again["dispatcher"] is False
    assert (
        "Invalid value for '--role'"
        in cli.run("account", "create", "--community", cid, "--username", "x", "--role", "owner").stderr
    )


def test_account_list_show_set(cli: Cli, running: Server) -> None:
    alpha = cli.json("community", "create", "--name", "Alpha", "--servers", "2")
    cid = alpha["communityId"]
    ann = cli.json(
        "account",
        "create",
        "--community",
        cid,
        "--username",
        "ann",
        "--community-user-id",
        "license:ann",
        "--discord",
        "123",
        "--dispatcher",
        stdin=PASSWORD + "\n",
    )
    cli.json("account", "create", "--community", cid, "--username", "bob")
    cli.json("unit", "create", "--community", cid, "--account", ann["accountUuid"], "--server", "1")
    with running.client(alpha["apiKey"]) as http:
        body = {"accountUuid": ann["accountUuid"], "apiIds": ["steam:ann"]}
        assert http.put("/v2/general/api-ids", json=body).status_code == 200
    assert login(running, cid, "ann") == 200

    listed = cli.json("account", "list", "--community", cid)["accounts"]
    assert [one["username"] for one in listed] == ["ann", "bob"]
    assert all(set(one) == ACCOUNT_FIELDS for one in listed)
    first = listed[0]
    assert first["roles"] == ["dispatcher"] and first["hasPassword"] is True
    assert (first["communityUserId"], first["discord"], first["apiIds"], first["identifiers"]) == (
        "license:ann",
        "123",
        ["steam:ann"],
        1,
    )
    assert first["lastLogin"] is not None and first["disabled"] is False
    assert listed[1]["roles"] == ["member"] and listed[1]["hasPassword"] is False
    by_uuid = cli.json("account", "show", "--community", cid, "--account", ann["accountUuid"])
    assert by_uuid == cli.json("account", "show", "--community", cid, "--username", "ann") == first

    changed = cli.json(
        "account",
        "set",
        "--community",
        cid,
        "--username",
        "ann",
        "--new-username",
        "anna",
        "--discord",
        "",
        "--roblox",
        "42",
        "--add-role",
        "admin",
    )
    assert (changed["username"], changed["discord"], changed["roblox"]) == ("anna", None, "42")
    assert changed["roles"] == ["admin", "dispatcher"]
    with running.client(alpha["apiKey"]) as http:
        found = http.get("/v2/general/accounts/account", params={"username": "anna"})
        assert found.status_code == 200, found.text
        assert found.json()["permissions"]["admin"] is True and found.json()["roblox"] == "42"
    taken = cli.fails("account", "set", "--community", cid, "--username", "bob", "--roblox", "42")
    assert "already taken" in taken
    assert cli.json("account", "show", "--community", cid, "--username", "bob")["roblox"] is None
    # A member only: it logs in to its own page, and the board answers it 403.
    cli.json(
        "account",
        "set",
        "--community",
        cid,
        "--username",
        "anna",
        "--remove-role",
        "admin",
        "--remove-role",
        "dispatcher",
        "--add-role",
        "member",
    )
    with running.client() as http:
        body = {"communityId": cid, "username": "anna", "password": PASSWORD}
        assert http.post(LOGIN, json=body).status_code == 200
        assert http.get("/console/api/servers/1/board").status_code == 403
    # Without any role, the console is closed to it.
    cli.json("account", "set", "--community", cid, "--username", "anna", "--remove-role", "member")
    assert login(running, cid, "anna") == 401


def test_a_disabled_account_cannot_log_in_and_its_sessions_end(cli: Cli, running: Server) -> None:
    alpha = cli.json("community", "create", "--name", "Alpha")
    cid = alpha["communityId"]
    cli.json(
        "account", "create", "--community", cid, "--username", "ann", "--dispatcher", stdin=PASSWORD + "\n"
    )
    cli.json(
        "account", "create", "--community", cid, "--username", "bob", "--dispatcher", stdin=PASSWORD + "\n"
    )
    with running.client() as ann, running.client() as bob:
        for http, name in ((ann, "ann"), (bob, "bob")):
            body = {"communityId": cid, "username": name, "password": PASSWORD}
            assert http.post(LOGIN, json=body).status_code == 200
        disabled = cli.json("account", "disable", "--community", cid, "--username", "ann")
        assert disabled["disabled"] is True and disabled["disabledAt"] is not None
        assert ann.get("/console/api/session").status_code == 401
        assert bob.get("/console/api/session").status_code == 200  # only ann's sessions ended
    assert login(running, cid, "ann") == 401
    assert "DISABLED" in cli.run("account", "list", "--community", cid).stdout
    enabled = cli.json("account", "enable", "--community", cid, "--username", "ann")
    assert enabled["disabled"] is False
    assert login(running, cid, "ann") == 200


def test_account_errors_are_one_line_and_change_nothing(cli: Cli, provision: Provisioner) -> None:
    alpha = cli.json("community", "create", "--name", "Alpha")
    beta = cli.json("community", "create", "--name", "Beta")
    cid = alpha["communityId"]
    bob = cli.json("account", "create", "--community", beta["communityId"], "--username", "bob")
    cli.json("account", "create", "--community", cid, "--username", "ann")
    before = every_row_count(provision)
    failures = {
        "unknown community": ("account", "list", "--community", "nope"),
        "unknown username": ("account", "show", "--community", cid, "--username", "nope"),
        "another community's account": (
            "account",
            "show",
            "--community",
            cid,
            "--account",
            bob["accountUuid"],
        ),
        "another community's account, disable": (
            "account",
            "disable",
            "--community",
            cid,
            "--account",
            bob["accountUuid"],
        ),
        "no account named": ("account", "show", "--community", cid),
        "two accounts named": ("account", "show", "--community", cid, "--username", "ann", "--account", "x"),
        "nothing to change": ("account", "set", "--community", cid, "--username", "ann"),
        "role added and removed": (
            "account",
            "set",
            "--community",
            cid,
            "--username",
            "ann",
            "--add-role",
            "admin",
            "--remove-role",
            "admin",
        ),
        "discord not digits": ("account", "set", "--community", cid, "--username", "ann", "--discord", "x1"),
        "admin without a password": ("account", "create", "--community", cid, "--username", "z", "--admin"),
    }
    messages = {name: cli.fails(*args) for name, args in failures.items()}
    assert "No account has accountUuid" in messages["another community's account"]
    assert "exactly one of --account" in messages["no account named"]
    assert "at least 8 characters" in messages["admin without a password"]
    assert every_row_count(provision) == before


# -- units -----------------------------------------------------------------------------------------------


def test_unit_list_show_set(cli: Cli, running: Server) -> None:
    alpha = cli.json("community", "create", "--name", "Alpha", "--servers", "2")
    beta = cli.json("community", "create", "--name", "Beta")
    cid = alpha["communityId"]
    ann = cli.json(
        "account", "create", "--community", cid, "--username", "ann", "--community-user-id", "license:ann"
    )
    bob = cli.json("account", "create", "--community", cid, "--username", "bob")
    first = cli.json(
        "unit",
        "create",
        "--community",
        cid,
        "--account",
        ann["accountUuid"],
        "--server",
        "1",
        "--unit-num",
        "1A",
    )["identId"]
    second = cli.json(
        "unit",
        "create",
        "--community",
        cid,
        "--account",
        bob["accountUuid"],
        "--server",
        "2",
        "--unit-num",
        "2B",
    )["identId"]
    other = cli.json("account", "create", "--community", beta["communityId"], "--username", "eve")
    foreign = cli.json(
        "unit",
        "create",
        "--community",
        beta["communityId"],
        "--account",
        other["accountUuid"],
        "--server",
        "1",
    )["identId"]

    listed = cli.json("unit", "list", "--community", cid)["units"]
    assert [(one["identId"], one["username"], one["selectedOn"]) for one in listed] == [
        (first, "ann", [1]),
        (second, "bob", [2]),
    ]
    assert {
        "identId",
        "accountUuid",
        "username",
        "unitNum",
        "name",
        "department",
        "status",
        "selectedOn",
        "callId",
        "group",
        "rank",
    } <= set(listed[0])
    on_two = cli.json("unit", "list", "--community", cid, "--server", "2")["units"]
    assert [one["identId"] for one in on_two] == [second]
    of_ann = cli.json("unit", "list", "--community", cid, "--account", ann["accountUuid"])["units"]
    assert [one["identId"] for one in of_ann] == [first]
    assert cli.json("unit", "show", "--community", cid, "--unit", str(first)) == listed[0]

    changed = cli.json(
        "unit",
        "set",
        "--community",
        cid,
        "--unit",
        str(first),
        "--unit-num",
        "1A-07",
        "--name",
        "Ann",
        "--department",
        "LSPD",
        "--group",
        "CAR-51",
        "--select-on",
        "2",
    )
    assert (changed["unitNum"], changed["name"], changed["department"], changed["group"]) == (
        "1A-07",
        "Ann",
        "LSPD",
        "CAR-51",
    )
    assert changed["selectedOn"] == [1, 2]
    on_two = cli.json("unit", "list", "--community", cid, "--server", "2")["units"]
    assert [one["identId"] for one in on_two] == [first, second]

    assert "does not exist" in cli.fails("unit", "show", "--community", cid, "--unit", str(foreign))
    assert "does not exist" in cli.fails(
        "unit", "set", "--community", cid, "--unit", str(foreign), "--name", "x"
    )
    assert cli.json("unit", "show", "--community", beta["communityId"], "--unit", str(foreign))["name"] == ""
    assert "unitNum" in cli.fails(
        "unit", "set", "--community", cid, "--unit", str(first), "--unit-num", "x" * 33
    )
    assert "Server 9 does not exist" in cli.fails(
        "unit", "set", "--community", cid, "--unit", str(first), "--select-on", "9"
    )
    assert "nothing to change" in cli.fails("unit", "set", "--community", cid, "--unit", str(first))
    assert "does not exist" in cli.fails(
        "unit", "list", "--community", cid, "--account", other["accountUuid"]
    )
    assert cli.json("unit", "show", "--community", cid, "--unit", str(first))["unitNum"] == "1A-07"


# -- status ----------------------------------------------------------------------------------------------


def test_status_shows_what_an_operator_looks_for_first(
    cli: Cli, provision: Provisioner, database_url: str
) -> None:
    alpha = cli.json("community", "create", "--name", "Alpha", "--servers", "2")
    cli.json("community", "create", "--name", "Beta")
    cli.json("key", "create", "--community", alpha["communityId"])
    with provision.db.transaction() as conn:
        for number in range(3):
            events.emit(
                conn,
                community_id=alpha["communityId"],
                server_id=1,
                type=events.EventType.EVENT_REMOVE_911,
                data={"callIds": [number]},
                now=provision.now(),
            )
        # Without a push target they would be skipped: two wait for delivery, one gave up.
        conn.exec_driver_sql("UPDATE events SET state = 'pending' WHERE seq > 1")
        conn.exec_driver_sql("UPDATE events SET state = 'dead' WHERE seq = 1")
    shown: dict[str, Any] = cli.json("status")
    assert set(shown) == {
        "version",
        "database",
        "schemaRevision",
        "communities",
        "servers",
        "activeKeys",
        "pushEvents",
    }
    assert shown["pushEvents"] == {"pending": 2, "dead": 1}
    assert (shown["servers"], shown["activeKeys"]) == (3, 3)
    assert [one["name"] for one in shown["communities"]] == ["Alpha", "Beta"]
    assert shown["schemaRevision"] and shown["version"]
    assert shown["database"].split("://")[0] == database_url.split("://")[0]
    human = cli.run("status").stdout
    assert "2 communities, 3 servers, 3 active keys" in human and "2 pending, 1 dead" in human


def test_status_never_shows_the_database_password(cli: Cli, database_url: str) -> None:
    unreachable = Cli("postgresql+psycopg://operator:s3cret-pw@127.0.0.1:9/none").run("status")
    assert unreachable.exit_code != 0 and "s3cret-pw" not in unreachable.output
    if database_url.startswith("postgresql"):
        # The test cluster trusts loopback: a URL with a password connects, and the password stays hidden.
        url = make_url(database_url)
        with_password = url.set(username=url.username, password="s3cret-pw")
        shown = Cli(with_password.render_as_string(hide_password=False)).json("status")
        assert "s3cret-pw" not in shown["database"] and "***" in shown["database"]
