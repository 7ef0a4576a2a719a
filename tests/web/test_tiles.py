"""Composing the game's six minimap_sea tiles into one map image (web/tiles.py), without the database."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest
from PIL import Image

from opendispatch.errors import InvalidInput
from opendispatch.web import maps, tiles

COLOURS = {
    (0, 0): (255, 0, 0),
    (0, 1): (0, 255, 0),
    (1, 0): (0, 0, 255),
    (1, 1): (255, 255, 0),
    (2, 0): (0, 255, 255),
    (2, 1): (255, 0, 255),
}


def encoded(image: Image.Image, kind: str = "PNG", **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=kind, **options)
    return out.getvalue()


def tile_set(side: int = 16, replace: dict[str, bytes] | None = None) -> dict[str, bytes]:
    files = {
        f"minimap_sea_{row}_{col}.png": encoded(Image.new("RGB", (side, side), colour))
        for (row, col), colour in COLOURS.items()
    }
    files.update(replace or {})
    return files


def decoded(image: bytes) -> Image.Image:
    return Image.open(io.BytesIO(image))


def cell_colours(image: Image.Image, cell_w: int, cell_h: int) -> dict[tuple[int, int], tuple[int, ...]]:
    rgb = image.convert("RGB")
    return {
        (row, col): rgb.getpixel((col * cell_w + cell_w // 2, row * cell_h + cell_h // 2))  # type: ignore[misc]
        for row in range(3)
        for col in range(2)
    }


def test_the_grid_is_the_games_minimap_ymt_tile_grid() -> None:
    assert tiles.TILE_SET_BOUNDS == (-4140.0, 8400.0, 4860.0, -5100.0)
    x1, y1, x2, y2 = tiles.TILE_SET_BOUNDS
    assert (x2 - x1) / 2 == (y1 - y2) / 3 == 4500.0  # square 4500-unit tiles, so square pixels


def test_tiles_of_different_sizes_are_each_stretched_over_an_equal_cell() -> None:
    big = encoded(Image.new("RGB", (32, 32), COLOURS[(2, 1)]))
    image = decoded(tiles.compose_tile_set(tile_set(16, {"minimap_sea_2_1.png": big})))
    assert image.format == "PNG" and image.mode == "RGB" and image.size == (64, 96)
    assert cell_colours(image, 32, 32) == COLOURS


def test_a_large_tile_set_is_scaled_down_to_the_side_limit_keeping_its_aspect() -> None:
    image = decoded(tiles.compose_tile_set(tile_set(40), max_side=60))
    assert image.size == (40, 60)
    assert cell_colours(image, 20, 20) == COLOURS
    assert maps.inspect_image(tiles.compose_tile_set(tile_set(40)))[1:] == (80, 120)


def test_a_map_png_cannot_fit_goes_webp_then_jpeg_within_the_byte_limit() -> None:
    noise = random.Random(13)
    files = {
        f"minimap_sea_{row}_{col}.png": encoded(
            Image.frombytes("RGB", (64, 64), bytes(noise.randrange(256) for _ in range(64 * 64 * 3)))
        )
        for row in range(3)
        for col in range(2)
    }
    png = tiles.compose_tile_set(files)
    assert decoded(png).format == "PNG"
    webp = tiles.compose_tile_set(files, max_bytes=len(png) - 1)
    assert decoded(webp).format == "WEBP" and len(webp) < len(png) and decoded(webp).size == (128, 192)
    jpeg = tiles.compose_tile_set(files, max_bytes=len(webp) - 1)
    assert decoded(jpeg).format == "JPEG" and len(jpeg) < len(webp)
    assert maps.inspect_image(jpeg) == ("image/jpeg", 128, 192)
    with pytest.raises(InvalidInput, match="larger than 0 MiB even as JPEG"):
        tiles.compose_tile_set(files, max_bytes=100)


def test_dds_webp_jpeg_and_upper_case_names_are_read_and_png_wins_a_tile_given_twice() -> None:
    dxt1 = encoded(Image.new("RGBA", (16, 16), (*COLOURS[(0, 0)], 255)), "DDS", pixel_format="DXT1")
    files = tile_set(
        replace={
            "minimap_sea_0_0.png": encoded(Image.new("RGB", (16, 16), (9, 9, 9))),
            "minimap_sea_0_0.dds": dxt1,
            "MINIMAP_SEA_1_1.WEBP": encoded(
                Image.new("RGB", (16, 16), COLOURS[(1, 1)]), "WEBP", lossless=True
            ),
            "minimap_sea_2_0.jpg": encoded(Image.new("RGB", (16, 16), COLOURS[(2, 0)]), "JPEG", quality=100),
        }
    )
    del files["minimap_sea_1_1.png"], files["minimap_sea_2_0.png"]
    image = decoded(tiles.compose_tile_set(files))
    assert image.mode == "RGB"  # opaque DXT tiles decode as RGBA; the map stays RGB
    colours = cell_colours(image, 16, 16)
    assert colours[(0, 0)] == (9, 9, 9)
    assert colours[(1, 1)] == COLOURS[(1, 1)]
    assert all(abs(a - b) <= 3 for a, b in zip(colours[(2, 0)], COLOURS[(2, 0)], strict=True))

    del files["minimap_sea_0_0.png"]
    from_dds = cell_colours(decoded(tiles.compose_tile_set(files)), 16, 16)[(0, 0)]
    assert all(abs(a - b) <= 8 for a, b in zip(from_dds, COLOURS[(0, 0)], strict=True))


def test_transparent_tiles_keep_their_alpha() -> None:
    clear = encoded(Image.new("RGBA", (16, 16), (0, 0, 0, 0)))
    image = decoded(tiles.compose_tile_set(tile_set(replace={"minimap_sea_1_0.png": clear})))
    assert image.mode == "RGBA"
    assert image.getpixel((8, 24)) == (0, 0, 0, 0) and image.getpixel((24, 8)) == (0, 255, 0, 255)


def test_a_gif_named_like_a_tile_is_unreadable_and_every_problem_is_named() -> None:
    gif = encoded(Image.new("RGB", (16, 16)), "GIF")
    files = tile_set(replace={"minimap_sea_1_1.png": gif, "minimap_sea_0_1.png": b""})
    del files["minimap_sea_2_0.png"]
    with pytest.raises(InvalidInput) as failed:
        tiles.compose_tile_set(files)
    assert failed.value.detail == (
        "The map tile folder needs the six minimap_sea_{row}_{col} tiles: missing minimap_sea_2_0 "
        "(.png, .webp, .jpg, .jpeg, .dds); not a readable PNG, WebP, JPEG or DDS image: "
        "minimap_sea_0_1.png, minimap_sea_1_1.png."
    )


def test_a_tile_whose_header_reads_but_whose_pixels_are_cut_off_is_named_too() -> None:
    cut = encoded(Image.new("RGB", (64, 64), (1, 2, 3)), compress_level=0)[:200]
    assert Image.open(io.BytesIO(cut)).size == (64, 64)  # only decoding finds it broken
    with pytest.raises(InvalidInput) as failed:
        tiles.compose_tile_set(tile_set(replace={"minimap_sea_2_0.png": cut}))
    assert failed.value.detail.endswith("not a readable PNG, WebP, JPEG or DDS image: minimap_sea_2_0.png.")


def test_read_tile_set_takes_only_tile_files_of_the_folder(tmp_path: Path) -> None:
    (tmp_path / "minimap_sea_0_0.png").write_bytes(b"a")
    (tmp_path / "Minimap_Sea_2_1.DDS").write_bytes(b"b")
    (tmp_path / "minimap_sea_0_1.ytd").write_bytes(b"c")  # the texture dictionary itself, not a tile
    (tmp_path / "notes.txt").write_bytes(b"d")
    (tmp_path / "minimap_sea_0_-1.png").write_bytes(b"e")  # an extra tile west of the grid (custom maps)
    (tmp_path / "minimap_sea_1_0.png").mkdir()
    assert tiles.read_tile_set(tmp_path) == {"minimap_sea_0_0.png": b"a", "Minimap_Sea_2_1.DDS": b"b"}
