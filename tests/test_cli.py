"""The `opendispatch` command line: provisioning with --json, one-line errors, and `serve` for real."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from opendispatch.api.limits import DEFAULT_LIMITS
from opendispatch.cli import main
from opendispatch.communities.service import authenticate
from opendispatch.settings import Settings
from tests.support import (
    Provisioner,
    Server,
    every_row_count,
    free_port,
    in_process_server,
    new_911,
    new_dispatch,
)

CREATE_911 = "/v2/emergency/servers/{server}/calls/911"


class Cli:
    """Runs `opendispatch ...` in-process against one database."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.runner = CliRunner()

    def run(self, *args: str, stdin: str | None = None) -> Result:
        return self.runner.invoke(
            main, [*args, "--database", self.database_url], input=stdin, catch_exceptions=True
        )

    def json(self, *args: str, stdin: str | None = None) -> dict[str, Any]:
        result = self.run(*args, "--json", stdin=stdin)
        assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
        lines = result.stdout.strip().splitlines()
        assert len(lines) == 1, result.stdout  # one JSON object, on one line
        answer: dict[str, Any] = json.loads(lines[0])
        return answer

    def fails(self, *args: str, stdin: str | None = None) -> str:
        result = self.run(*args, stdin=stdin)
        assert result.exit_code != 0, result.stdout
        assert result.stdout == ""
        assert "Traceback" not in result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("Error: ")
        return lines[0]


@pytest.fixture
def cli(database_url: str) -> Cli:
    return Cli(database_url)


@pytest.fixture(autouse=True)
def no_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("OPENDISPATCH_"):
            monkeypatch.delenv(name)


@pytest.fixture
def running(settings: Settings) -> Iterator[Server]:
    # Key cache off: a key revoked from the CLI is refused on the next request.
    with in_process_server(settings.model_copy(update={"key_cache_seconds": 0})) as server:
        yield server


# -- provisioning --------------------------------------------------------------------------------------


def test_community_create_prints_the_id_key_and_servers(cli: Cli, running: Server) -> None:
    created = cli.json("community", "create", "--name", "Los Santos RP")
    assert set(created) == {"communityId", "apiKey", "servers", "consolePath"}
    assert created["servers"] == [1]
    assert created["consolePath"] == f"/console?community={created['communityId']}"
    with running.client(created["apiKey"]) as http:
        response = http.post(CREATE_911.format(server=1), json=new_911())
        assert response.status_code == 200, response.text
        servers = http.get("/v2/general/servers").json()["servers"]
    assert [(server["id"], server["name"]) for server in servers] == [(1, "Server 1")]


def test_community_create_with_several_servers(cli: Cli, running: Server) -> None:
    created = cli.json("community", "create", "--name", "Big", "--servers", "3", "--plan", "standard")
    assert created["servers"] == [1, 2, 3]
    with running.client(created["apiKey"]) as http:
        assert http.post(CREATE_911.format(server=3), json=new_911()).status_code == 200
        assert http.get("/v2/general/version").json() == {"version": 2, "name": "STANDARD"}


def test_community_create_without_json_prints_readable_lines(cli: Cli) -> None:
    result = cli.run("community", "create", "--name", "Plain")
    assert result.exit_code == 0
    assert "communityId:" in result.stdout
    assert "apiKey:" in result.stdout
    assert "console:     /console?community=" in result.stdout


def test_key_create_and_revoke(cli: Cli, running: Server) -> None:
    community = cli.json("community", "create", "--name", "Keys")
    rotated = cli.json("key", "create", "--community", community["communityId"])
    assert set(rotated) == {"apiKey"}
    assert rotated["apiKey"] != community["apiKey"]
    # The key is piped on stdin, never an argument (shell history, `ps`).
    revoke = cli.run(
        "key", "revoke", "--community", community["communityId"], "--key", "-", stdin=community["apiKey"]
    )
    assert revoke.exit_code == 0, revoke.stderr
    with running.client(community["apiKey"]) as old:
        assert old.get("/v2/emergency/servers/1/calls").status_code == 401
    with running.client(rotated["apiKey"]) as new:
        assert new.get("/v2/emergency/servers/1/calls").status_code == 200


def test_server_add(cli: Cli, running: Server) -> None:
    community = cli.json("community", "create", "--name", "Servers")
    added = cli.json("server", "add", "--community", community["communityId"], "--name", "Paleto")
    assert added == {"serverId": 2}
    with running.client(community["apiKey"]) as http:
        assert http.post(CREATE_911.format(server=2), json=new_911()).status_code == 200
        servers = http.get("/v2/general/servers").json()["servers"]
    assert [(server["id"], server["name"]) for server in servers] == [(1, "Server 1"), (2, "Paleto")]


def test_account_and_unit_create_make_a_target_for_dispatch_calls(cli: Cli, running: Server) -> None:
    community = cli.json("community", "create", "--name", "Units")
    cid = community["communityId"]
    account = cli.json(
        "account", "create", "--community", cid, "--username", "ann", "--community-user-id", "license:ann"
    )
    assert set(account) == {"accountUuid", "secretUuid", "roles"} and account["roles"] == ["member"]
    unit = cli.json(
        "unit", "create", "--community", cid, "--account", account["accountUuid"], "--server", "1"
    )
    assert set(unit) == {"identId"}
    assert isinstance(unit["identId"], int)
    with running.client(community["apiKey"]) as http:
        call = http.post(
            "/v2/emergency/servers/1/dispatch-calls", json=new_dispatch(communityUserIds=["license:ann"])
        )
    assert call.status_code == 200, call.text
    assert call.json()["idents"] == [unit["identId"]]


def test_limits_set_and_show(cli: Cli, running: Server) -> None:
    community = cli.json("community", "create", "--name", "Limits")
    cid = community["communityId"]
    assert cli.json("limits", "show")["limits"] == DEFAULT_LIMITS
    changed = cli.json("limits", "set", "--community", cid, "--endpoint", "create_911", "--per-minute", "1")
    assert changed == {"communityId": cid, "endpoint": "create_911", "perMinute": 1}
    shown = cli.json("limits", "show", "--community", cid)
    assert shown == {"communityId": cid, "limits": {**DEFAULT_LIMITS, "create_911": 1}}
    assert cli.json("limits", "show")["limits"] == DEFAULT_LIMITS
    with running.client(community["apiKey"]) as http:
        assert http.post(CREATE_911.format(server=1), json=new_911()).status_code == 200
        refused = http.post(CREATE_911.format(server=1), json=new_911())
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "60"


# -- errors --------------------------------------------------------------------------------------------


def test_errors_are_one_line_on_stderr_and_change_nothing(cli: Cli, provision: Provisioner) -> None:
    community = cli.json("community", "create", "--name", "Errors")
    cid = community["communityId"]
    account = cli.json("account", "create", "--community", cid, "--username", "ann")
    before = every_row_count(provision)
    uuid = account["accountUuid"]
    limit = ("limits", "set", "--community", cid, "--endpoint")
    failures = {
        "unknown community, key": ("key", "create", "--community", "nope"),
        "unknown community, server": ("server", "add", "--community", "nope"),
        "unknown community, account": ("account", "create", "--community", "nope", "--username", "x"),
        "unknown community, limits": ("limits", "show", "--community", "nope"),
        "username taken": ("account", "create", "--community", cid, "--username", "ann"),
        "unknown account": ("unit", "create", "--community", cid, "--account", "nope", "--server", "1"),
        "unknown server": ("unit", "create", "--community", cid, "--account", uuid, "--server", "9"),
        "unknown endpoint": (*limit, "nope", "--per-minute", "1"),
        "limit below one": (*limit, "get_calls", "--per-minute", "0"),
        "key not active": ("key", "revoke", "--community", cid, "--prefix", "od_nope"),
        "empty name": ("community", "create", "--name", " "),
    }
    messages = {name: cli.fails(*args) for name, args in failures.items()}
    assert "nope" in messages["unknown community, key"]
    assert "nope" in messages["unknown endpoint"]
    assert every_row_count(provision) == before
    # The failed revoke revoked nothing: the community's key still authenticates.
    with provision.db.transaction() as conn:
        principal = authenticate(conn, community["apiKey"])
    assert principal is not None and principal.community_id == cid


def test_an_unusable_database_is_a_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    message = Cli(f"sqlite:///{blocker}/sub/opendispatch.db").fails("community", "create", "--name", "X")
    assert "a-file" in message or "directory" in message.lower()


# -- `opendispatch serve` for real ----------------------------------------------------------------------


def test_serve_on_first_start_prints_a_community_id_and_key_that_work(tmp_path: Path) -> None:
    port = free_port()
    executable = Path(sys.executable).with_name("opendispatch")
    env = {name: value for name, value in os.environ.items() if not name.startswith("OPENDISPATCH_")}
    database = f"sqlite:///{tmp_path / 'served.db'}"
    with (tmp_path / "stderr.log").open("w") as stderr:
        process = subprocess.Popen(
            [str(executable), "serve", "--port", str(port), "--database", database],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=env,
        )
        try:
            lines: queue.Queue[str] = queue.Queue()
            assert process.stdout is not None
            stdout = process.stdout
            threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True).start()
            printed: dict[str, str] = {}
            deadline = time.monotonic() + 20
            while {"communityId", "apiKey"} - set(printed):
                assert time.monotonic() < deadline, (printed, (tmp_path / "stderr.log").read_text())
                try:
                    line = lines.get(timeout=0.5)
                except queue.Empty:
                    assert process.poll() is None, (tmp_path / "stderr.log").read_text()
                    continue
                name, _, value = line.strip().partition(":")
                if name in {"communityId", "apiKey"}:
                    printed[name] = value.strip()

            url = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {printed['apiKey']}"}) as http:
                while True:
                    try:
                        version = http.get("/v2/general/version")
                        break
                    except httpx.TransportError:
                        assert time.monotonic() < deadline, (tmp_path / "stderr.log").read_text()
                        time.sleep(0.05)
                assert version.status_code == 200, version.text
                created = http.post(CREATE_911.format(server=1), json=new_911())
                assert created.status_code == 200, created.text
                assert http.get("/v2/emergency/servers/1/calls").json()["emergencyCalls"] == [created.json()]
            # The printed community id is the key's community: the CLI can issue it another key.
            another = Cli(database).json("key", "create", "--community", printed["communityId"])
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {another['apiKey']}"}) as http:
                assert http.get("/v2/emergency/servers/1/calls").status_code == 200
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    assert process.returncode is not None
