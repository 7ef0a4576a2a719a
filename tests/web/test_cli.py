"""The console's commands: `account create --dispatcher`, `account password`, `map set` (an image file or
the game's six minimap_sea tiles) and `map clear`."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from PIL import Image

from opendispatch.cli import main
from opendispatch.web import maps
from tests.support import Community, Provisioner, Server, new_911
from tests.web.support import C1, PASSWORD, S1, Console


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


# -- map set on a folder of the game's six minimap_sea tiles ------------------------------------------------

TILE_COLOURS = {
    (0, 0): (200, 30, 30),
    (0, 1): (30, 200, 30),
    (1, 0): (30, 30, 200),
    (1, 1): (200, 200, 30),
    (2, 0): (30, 200, 200),
    (2, 1): (200, 30, 200),
}
GAME_GRID = [-4140.0, 8400.0, 4860.0, -5100.0]  # minimap.ymt: 4500-unit tiles from (-4140, 8400)


def tile_folder(tmp_path: Path, side: int = 16) -> Path:
    """Six single-colour tiles as OpenIV exports them: mostly PNG, one DDS and one lossless WebP."""
    folder = tmp_path / "tiles"
    folder.mkdir()
    formats = {(0, 0): ("dds", "DDS"), (1, 1): ("webp", "WEBP")}
    for (row, col), colour in TILE_COLOURS.items():
        ext, kind = formats.get((row, col), ("png", "PNG"))
        options = {"lossless": True} if kind == "WEBP" else {}
        Image.new("RGB", (side, side), colour).save(
            folder / f"minimap_sea_{row}_{col}.{ext}", kind, **options
        )
    (folder / "readme.txt").write_text("not a tile")  # other files in the folder are left alone
    return folder


def set_map(database_url: str, community: Community, image: Path, *extra: str) -> Result:
    return run(
        database_url,
        *("map", "set", "--community", community.community_id, "--server", "1", "--image", str(image)),
        *extra,
    )


def test_map_set_composes_a_folder_of_minimap_sea_tiles_on_the_games_tile_grid(
    database_url: str, server: Server, community: Community, alice: dict[str, str], tmp_path: Path
) -> None:
    stored = answer(set_map(database_url, community, tile_folder(tmp_path), "--json"))
    assert stored == {"serverId": 1, "width": 32, "height": 48, "bounds": GAME_GRID}

    console = Console(server, community)
    board_map = console.get(f"{C1}/board").json()["map"]
    assert (board_map["width"], board_map["height"], board_map["bounds"]) == (32, 48, GAME_GRID)
    served = console.get(board_map["imageUrl"])
    assert served.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(served.content)).convert("RGB")
    assert image.size == (32, 48)
    for (row, col), colour in TILE_COLOURS.items():  # row 0 at the top (north), column 0 at the left
        assert image.getpixel((col * 16 + 8, row * 16 + 8)) == colour, (row, col)

    # A call at the middle of tile 1_0 in game coordinates lands on that tile in its snapshot.
    with server.client(community.api_key) as api:
        body = new_911(metaData={"x": str(-4140 + 2250), "y": str(8400 - 4500 - 2250)})
        call_id = api.post(f"{S1}/calls/911", json=body).json()["callId"]
        shot = Image.open(io.BytesIO(api.get(f"{S1}/calls/{call_id}/snapshot.png").content)).convert("RGB")
    assert shot.getpixel((40, 40)) == TILE_COLOURS[(1, 0)]


def test_map_set_takes_bounds_for_a_tile_folder_and_still_needs_them_for_a_file(
    database_url: str, provision: Provisioner, community: Community, tmp_path: Path
) -> None:
    folder = tile_folder(tmp_path)
    live_map = "-4230,8420,4970,-5170"  # the TGRHavoc live_map / SnailyCAD corners, as docs/console.md gives
    stored = answer(set_map(database_url, community, folder, "--bounds", live_map, "--json"))
    assert stored["bounds"] == [-4230.0, 8420.0, 4970.0, -5170.0] and stored["width"] == 32
    with provision.db.transaction() as conn:
        info = maps.map_info(conn, community_id=community.community_id, server_id=1)
    assert info is not None and info.bounds == [-4230.0, 8420.0, 4970.0, -5170.0]

    human = set_map(database_url, community, folder)
    assert human.exit_code == 0
    assert human.stdout.strip().endswith(
        "32×48 image composed of the six minimap_sea tiles, corners [-4140.0, 8400.0, 4860.0, -5100.0]"
    )

    bad_bounds = set_map(database_url, community, folder, "--bounds", "1,2,3")
    assert bad_bounds.exit_code != 0 and "Bounds are four numbers" in bad_bounds.stderr

    no_bounds = set_map(database_url, community, folder / "minimap_sea_0_1.png")
    assert no_bounds.exit_code != 0 and len(no_bounds.stderr.strip().splitlines()) == 1
    assert "--bounds X1,Y1,X2,Y2 is required for an image file" in no_bounds.stderr
    with provision.db.transaction() as conn:
        info = maps.map_info(conn, community_id=community.community_id, server_id=1)
    assert info is not None and info.bounds == GAME_GRID  # the failed calls changed nothing


def test_a_tile_folder_missing_or_with_an_unreadable_tile_is_one_line_naming_it_and_changes_nothing(
    database_url: str, provision: Provisioner, community: Community, tmp_path: Path
) -> None:
    folder = tile_folder(tmp_path)
    answer(set_map(database_url, community, folder, "--json"))
    with provision.db.transaction() as conn:
        before = maps.map_image(conn, community_id=community.community_id, server_id=1)

    (folder / "minimap_sea_2_1.png").unlink()
    missing = set_map(database_url, community, folder)
    assert missing.exit_code != 0 and missing.stdout == ""
    assert missing.stderr.strip() == (
        "Error: The map tile folder needs the six minimap_sea_{row}_{col} tiles: missing minimap_sea_2_1 "
        "(.png, .webp, .jpg, .jpeg, .dds)."
    )

    (folder / "minimap_sea_0_1.png").write_bytes(b"not an image")
    both = set_map(database_url, community, folder)
    assert both.exit_code != 0 and len(both.stderr.strip().splitlines()) == 1
    assert "missing minimap_sea_2_1" in both.stderr
    assert "not a readable PNG, WebP, JPEG or DDS image: minimap_sea_0_1.png" in both.stderr

    with provision.db.transaction() as conn:
        after = maps.map_image(conn, community_id=community.community_id, server_id=1)
    assert after == before
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = set_map(database_url, community, empty)
    assert "missing minimap_sea_0_0, minimap_sea_0_1, minimap_sea_1_0" in nothing.stderr
    assert provision.scalar("SELECT count(*) FROM server_maps") == 1
