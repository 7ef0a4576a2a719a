"""The GTA V map as the game ships it: six ``minimap_sea_{row}_{col}`` tiles composed into one map image.

Communities already extract these tiles (OpenIV, from ``minimap_sea_*.ytd``) for every other CAD and live
map, so ``opendispatch map set --image FOLDER`` takes the folder as it is.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from opendispatch.errors import InvalidInput
from opendispatch.web.maps import MAX_MAP_BYTES, MAX_MAP_SIDE

TILE_ROWS = 3
TILE_COLUMNS = 2
TILE_NAMES = tuple(f"minimap_sea_{row}_{col}" for row in range(TILE_ROWS) for col in range(TILE_COLUMNS))
TILE_EXTENSIONS = (".png", ".webp", ".jpg", ".jpeg", ".dds")  # the order a name given twice is taken in
_TILE_FORMATS = ("PNG", "WEBP", "JPEG", "DDS")  # all read by Pillow itself, no extra library
MAX_TILE_BYTES = 128 * 1024 * 1024  # an uncompressed 4096×4096 DDS with alpha is 64 MiB

# The game draws these textures on a grid of 4500×4500 game-unit squares whose top-left corner is
# (-4140, 8400): the minimap.ymt values vBitmapTileSizeX/Y = 4500, vBitmapStartX = -4140,
# vBitmapStartY = 8400, as used by github.com/alexlicuriceanu/extra-map-tiles (client.lua). Two columns and
# three rows span x -4140..4860 and y 8400..-5100. The hand-fitted corners of the older web live maps
# (TGRHavoc/live_map-interface src/js/utils.js, copied by SnailyCAD apps/client/src/lib/map/utils.ts:
# (-4230, 8420) at the image's top-left and (370, -640) at its (1/2, 2/3) point) extend to
# -4230,8420,4970,-5170, within about 25 pixels of a 1024-pixel tile of this; docs/console.md says how to
# pass them with --bounds to match those maps exactly.
TILE_SIZE = 4500.0
TILE_SET_BOUNDS = (
    -4140.0,
    8400.0,
    -4140.0 + TILE_COLUMNS * TILE_SIZE,
    8400.0 - TILE_ROWS * TILE_SIZE,
)


def read_tile_set(folder: Path) -> dict[str, bytes]:
    """The files of a folder named as one of the six map tiles with an image extension, by file name."""
    found: dict[str, bytes] = {}
    for path in sorted(folder.iterdir()):
        if not (
            path.stem.lower() in TILE_NAMES and path.suffix.lower() in TILE_EXTENSIONS and path.is_file()
        ):
            continue
        if path.stat().st_size > MAX_TILE_BYTES:
            raise InvalidInput(
                f"{path.name} is larger than {MAX_TILE_BYTES // (1024 * 1024)} MiB.", {"image": "too large"}
            )
        found[path.name] = path.read_bytes()
    return found


def compose_tile_set(
    files: Mapping[str, bytes], *, max_side: int = MAX_MAP_SIDE, max_bytes: int = MAX_MAP_BYTES
) -> bytes:
    """One map image of the six ``minimap_sea_{row}_{col}`` tiles among ``files`` (by file name), row 0 at
    the top and column 0 at the left, each stretched over an equal cell as the game does; scaled down to
    ``max_side`` pixels a side at most, PNG when that fits ``max_bytes``, else WebP, else JPEG."""
    by_stem: dict[str, tuple[str, bytes]] = {}
    for extension in TILE_EXTENSIONS:  # a tile given in two formats: the earlier extension wins
        for name, data in files.items():
            stem, dot, ext = name.lower().rpartition(".")
            if dot and f".{ext}" == extension and stem in TILE_NAMES:
                by_stem.setdefault(stem, (name, data))
    missing = [stem for stem in TILE_NAMES if stem not in by_stem]
    # Headers first (sizes, broken files), then one tile decoded at a time, each scaled as it is pasted:
    # six large tiles are never all in memory at once.
    opened: dict[str, Image.Image] = {}
    unreadable: list[str] = []
    try:
        for stem, (name, data) in by_stem.items():
            try:
                opened[stem] = Image.open(io.BytesIO(data), formats=_TILE_FORMATS)
            except _UNREADABLE:
                unreadable.append(name)
        _refuse(missing, unreadable)
        cell_w = max(tile.width for tile in opened.values())
        cell_h = max(tile.height for tile in opened.values())
        scale = min(1.0, max_side / (TILE_COLUMNS * cell_w), max_side / (TILE_ROWS * cell_h))
        cell_w, cell_h = max(1, math.floor(cell_w * scale)), max(1, math.floor(cell_h * scale))
        canvas = Image.new("RGBA", (TILE_COLUMNS * cell_w, TILE_ROWS * cell_h))
        for row in range(TILE_ROWS):
            for col in range(TILE_COLUMNS):
                stem = f"minimap_sea_{row}_{col}"
                try:
                    tile = opened[stem].convert("RGBA")
                except _UNREADABLE:
                    unreadable.append(by_stem[stem][0])
                    continue
                finally:
                    opened[stem].close()  # frees the decoded tile before the next is decoded
                if tile.size != (cell_w, cell_h):
                    tile = tile.resize((cell_w, cell_h), Image.Resampling.LANCZOS)
                canvas.paste(tile, (col * cell_w, row * cell_h))
        _refuse([], unreadable)
    finally:
        for tile in opened.values():
            tile.close()
    # DXT-compressed DDS tiles decode with an alpha channel even when opaque: keep alpha only when used.
    if canvas.getchannel("A").getextrema()[0] == 255:
        canvas = canvas.convert("RGB")
    return _encode_within(canvas, max_bytes)


_UNREADABLE = (
    UnidentifiedImageError,
    OSError,
    SyntaxError,
    ValueError,
    NotImplementedError,
    Image.DecompressionBombError,
)


def _refuse(missing: list[str], unreadable: list[str]) -> None:
    problems = []
    if missing:
        problems.append("missing " + ", ".join(missing) + " (" + ", ".join(TILE_EXTENSIONS) + ")")
    if unreadable:
        problems.append("not a readable PNG, WebP, JPEG or DDS image: " + ", ".join(sorted(unreadable)))
    if problems:
        raise InvalidInput(
            "The map tile folder needs the six minimap_sea_{row}_{col} tiles: " + "; ".join(problems) + ".",
            {"image": "incomplete tile set"},
        )


def _encode_within(canvas: Image.Image, max_bytes: int) -> bytes:
    # PNG keeps the tiles exact; a large map that PNG cannot fit goes lossy, WebP first (it keeps alpha).
    attempts: list[tuple[str, dict[str, object]]] = [
        ("PNG", {"compress_level": 6}),
        ("WEBP", {"quality": 90, "method": 4}),
        ("JPEG", {"quality": 85}),
    ]
    for kind, options in attempts:
        image = canvas.convert("RGB") if kind == "JPEG" and canvas.mode != "RGB" else canvas
        out = io.BytesIO()
        image.save(out, format=kind, **options)
        if out.tell() <= max_bytes:
            return out.getvalue()
    raise InvalidInput(
        f"The composed map is larger than {max_bytes // (1024 * 1024)} MiB even as JPEG.",
        {"image": "too large"},
    )
