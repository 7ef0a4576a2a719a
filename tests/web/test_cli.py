"""The console's commands: `account create --dispatcher`, `account password`, `map set` and `map clear`."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from PIL import Image

from opendispatch.cli import main
from opendispatch.web import maps
from tests.support import Community, Provisioner, Server
from tests.web.support import C1, PASSWORD, Console


def run(database_url: str, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, [*args, "--database", database_url], input=stdin, catch_exceptions=True)


def answer(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    parsed: dict[str, Any] = json.loads(result.stdout.strip())
    return parsed


def test_a_dispatcher_account_takes_its_password_from_stdin_and_can_log_in(
    database_url: str, server: Server, community: Community
) -> None:
    created = run(
        database_url,
        *("account", "create", "--community", community.community_id, "--username", "alice"),
        *("--community-user-id", "license:alice", "--dispatcher", "--json"),
        stdin=PASSWORD + "\n",
    )
    payload = answer(created)
    assert payload["dispatcher"] is True and set(payload) == {
        "accountUuid",
        "secretUuid",
        "dispatcher",
        "roles",
    }
    assert payload["roles"] == ["dispatcher"]
    assert PASSWORD not in created.output  # never echoed
    console = Console(server, community)
    assert console.session["username"] == "alice"


def test_a_short_password_fails_in_one_line_and_creates_no_account(
    database_url: str, provision: Provisioner, community: Community
) -> None:
    failed = run(
        database_url,
        *("account", "create", "--community", community.community_id, "--username", "alice", "--dispatcher"),
        stdin="short\n",
    )
    assert failed.exit_code != 0 and failed.stdout == ""
    assert failed.stderr.strip() == "Error: A dispatcher password needs at least 8 characters."
    assert provision.scalar("SELECT count(*) FROM accounts") == 0


def test_without_dispatcher_an_account_cannot_log_in_until_it_gets_a_password(
    database_url: str, server: Server, community: Community
) -> None:
    answer(
        run(
            database_url,
            "account",
            "create",
            "--community",
            community.community_id,
            "--username",
            "bob",
            "--json",
        )
    )
    login = {"communityId": community.community_id, "username": "bob", "password": PASSWORD}
    with server.client() as http:
        assert http.post("/console/api/login", json=login).status_code == 401
    set_password = run(
        database_url,
        *("account", "password", "--community", community.community_id, "--username", "bob", "--json"),
        stdin=PASSWORD + "\n",
    )
    assert answer(set_password)["dispatcher"] is True
    console = Console(server, community, "bob")
    assert console.get(f"{C1}/board").status_code == 200
    # A new password ends the sessions opened with the old one.
    answer(
        run(
            database_url,
            *("account", "password", "--community", community.community_id, "--username", "bob", "--json"),
            stdin="another good one\n",
        )
    )
    assert console.get(f"{C1}/board").status_code == 401


def test_map_set_stores_the_image_and_corners_and_map_clear_removes_them(
    database_url: str, provision: Provisioner, community: Community, tmp_path: Path
) -> None:
    image_path = tmp_path / "map.png"
    Image.new("RGB", (64, 32), (1, 2, 3)).save(image_path)
    stored = answer(
        run(
            database_url,
            *(
                "map",
                "set",
                "--community",
                community.community_id,
                "--server",
                "2",
                "--image",
                str(image_path),
            ),
            *("--bounds", "-4000,8000,4500,-4000", "--json"),
        )
    )
    assert stored == {"serverId": 2, "width": 64, "height": 32, "bounds": [-4000.0, 8000.0, 4500.0, -4000.0]}
    with provision.db.transaction() as conn:
        found = maps.map_image(conn, community_id=community.community_id, server_id=2)
    assert found.image == image_path.read_bytes() and found.bounds == (-4000.0, 8000.0, 4500.0, -4000.0)

    cleared = run(
        database_url, "map", "clear", "--community", community.community_id, "--server", "2", "--json"
    )
    assert answer(cleared) == {"serverId": 2, "cleared": True}
    assert provision.scalar("SELECT count(*) FROM server_maps") == 0


def test_map_set_refuses_bad_input_in_one_line(
    database_url: str, provision: Provisioner, community: Community, tmp_path: Path
) -> None:
    good = tmp_path / "map.png"
    Image.new("RGB", (4, 4)).save(good)
    text = tmp_path / "map.txt"
    text.write_text("not an image")
    gif = tmp_path / "map.gif"
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, format="GIF")
    gif.write_bytes(buffer.getvalue())
    cases = [
        (good, "1,2,3", "Bounds are four numbers"),
        (good, "0,0,0,0", "must differ"),
        (text, "0,1,1,0", "not a readable"),
        (gif, "0,1,1,0", "use PNG, JPEG or WebP"),
    ]
    for path, bounds, message in cases:
        result = run(
            database_url,
            *("map", "set", "--community", community.community_id, "--server", "1", "--image", str(path)),
            "--bounds=" + bounds,
        )
        assert (
            result.exit_code != 0
            and message in result.stderr
            and len(result.stderr.strip().splitlines()) == 1
        )
    missing_server = run(
        database_url,
        *("map", "set", "--community", community.community_id, "--server", "9", "--image", str(good)),
        *("--bounds", "0,1,1,0"),
    )
    assert "Server 9 does not exist" in missing_server.stderr
    assert provision.scalar("SELECT count(*) FROM server_maps") == 0
