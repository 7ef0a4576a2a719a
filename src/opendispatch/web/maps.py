"""Each server's map image and the location snapshots drawn on it.

Decoding and rendering PNGs is CPU work: the routes run it off the event loop.
"""

from __future__ import annotations

import io
import math
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi.concurrency import run_in_threadpool
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError
from sqlalchemy import Connection, delete, insert, select, update

from opendispatch.calls import service as calls
from opendispatch.calls.schemas import DispatchCall, EmergencyCall
from opendispatch.clock import iso_utc
from opendispatch.communities.service import require_server
from opendispatch.errors import Conflict, InvalidInput, NotFound
from opendispatch.maps import service as maps
from opendispatch.storage.database import Database
from opendispatch.web.models import server_maps
from opendispatch.web.schemas import (
    CallPoint,
    MapInfo,
)

# -- map images ------------------------------------------------------------------------------------------

MAX_MAP_BYTES = 32 * 1024 * 1024
MAX_MAP_SIDE = 8192
_MAP_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


@dataclass(frozen=True, slots=True)
class MapImage:
    """A server's stored map image and its corners."""

    image: bytes
    content_type: str
    bounds: tuple[float, float, float, float]
    updated_at: int


def parse_bounds(text: str) -> tuple[float, float, float, float]:
    """``X1,Y1,X2,Y2`` (top-left and bottom-right corners in game coordinates) as four numbers."""
    parts = [part.strip() for part in text.split(",")]
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        numbers = []
    if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
        raise InvalidInput(
            "Bounds are four numbers X1,Y1,X2,Y2: the game coordinates of the image's top-left and "
            "bottom-right corners.",
            {"bounds": "X1,Y1,X2,Y2"},
        )
    x1, y1, x2, y2 = numbers
    if x1 == x2 or y1 == y2:
        raise InvalidInput("The corners must differ in both x and y.", {"bounds": "an empty area"})
    return x1, y1, x2, y2


def inspect_image(image: bytes) -> tuple[str, int, int]:
    """(content type, width, height) of a PNG, JPEG or WebP image within the size limits."""
    if len(image) > MAX_MAP_BYTES:
        raise InvalidInput(
            f"The map image is larger than {MAX_MAP_BYTES // (1024 * 1024)} MiB.", {"image": "too large"}
        )
    try:
        with Image.open(io.BytesIO(image)) as opened:
            kind, (width, height) = opened.format, opened.size
            opened.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise InvalidInput(
            "The map image is not a readable PNG, JPEG or WebP.", {"image": "unreadable"}
        ) from None
    if kind not in _MAP_FORMATS:
        raise InvalidInput(
            f"The map image is {kind}; use PNG, JPEG or WebP.", {"image": "unsupported format"}
        )
    if width > MAX_MAP_SIDE or height > MAX_MAP_SIDE:
        raise InvalidInput(
            f"The map image is {width}×{height}; at most {MAX_MAP_SIDE} pixels a side.",
            {"image": "too large"},
        )
    return _MAP_FORMATS[kind], width, height


def set_map(
    conn: Connection,
    *,
    community_id: str,
    server_id: int,
    image: bytes,
    bounds: tuple[float, float, float, float],
    now: int,
) -> MapInfo:
    """Give a server its map image (replacing any earlier one)."""
    require_server(conn, community_id, server_id)
    content_type, width, height = inspect_image(image)
    x1, y1, x2, y2 = bounds
    values = {
        "image": image,
        "content_type": content_type,
        "width": width,
        "height": height,
        "x1": x1,
        "y1": y1,
        "x2": x2,
        "y2": y2,
        "updated_at": now,
    }
    where = (server_maps.c.community_id == community_id) & (server_maps.c.server_id == server_id)
    if conn.execute(update(server_maps).where(where).values(**values)).rowcount == 0:
        conn.execute(insert(server_maps).values(community_id=community_id, server_id=server_id, **values))
    info = map_info(conn, community_id=community_id, server_id=server_id)
    assert info is not None
    return info


def clear_map(conn: Connection, *, community_id: str, server_id: int) -> None:
    """Take a server's map image away; the console draws a plain grid again."""
    require_server(conn, community_id, server_id)
    conn.execute(
        delete(server_maps).where(
            server_maps.c.community_id == community_id, server_maps.c.server_id == server_id
        )
    )


def map_info(conn: Connection, *, community_id: str, server_id: int) -> MapInfo | None:
    """A server's map settings (without the image itself), or None when it has none."""
    row = conn.execute(
        select(
            server_maps.c.width,
            server_maps.c.height,
            server_maps.c.x1,
            server_maps.c.y1,
            server_maps.c.x2,
            server_maps.c.y2,
            server_maps.c.updated_at,
        ).where(server_maps.c.community_id == community_id, server_maps.c.server_id == server_id)
    ).first()
    if row is None:
        return None
    return MapInfo(
        imageUrl=f"/console/api/servers/{server_id}/map/image?v={row.updated_at}",
        width=row.width,
        height=row.height,
        bounds=[row.x1, row.y1, row.x2, row.y2],
        updated=iso_utc(row.updated_at),
    )


def map_version(conn: Connection, *, community_id: str, server_id: int) -> int | None:
    """When the server's map image was last set (its cache key), or None when it has none."""
    require_server(conn, community_id, server_id)
    return conn.execute(
        select(server_maps.c.updated_at).where(
            server_maps.c.community_id == community_id, server_maps.c.server_id == server_id
        )
    ).scalar()


def map_image(conn: Connection, *, community_id: str, server_id: int) -> MapImage:
    """A server's map image and corners; 404 when it has none."""
    require_server(conn, community_id, server_id)
    row = conn.execute(
        select(server_maps).where(
            server_maps.c.community_id == community_id, server_maps.c.server_id == server_id
        )
    ).first()
    if row is None:
        raise NotFound(f"Server {server_id} has no map image.")
    return MapImage(
        image=row.image,
        content_type=row.content_type,
        bounds=(row.x1, row.y1, row.x2, row.y2),
        updated_at=row.updated_at,
    )


# -- where calls are -------------------------------------------------------------------------------------
# The one place a call's position is decided: the console's map and board, call details, snapshots and
# nearest units all ask here.


@dataclass(frozen=True, slots=True)
class CallPlace:
    """What places a call: its metaData and its postal (a dispatch call's field, a 911 call's metaData)."""

    meta: dict[str, str]
    postal: str


def place_calls(conn: Connection, community_id: str, places: Sequence[CallPlace]) -> list[CallPoint | None]:
    """Each call's map point: its metaData ``x``/``y`` (and ``radius``), else the position of its postal in
    the community's postal list, else None; one postal lookup for all of them."""
    own = [point_of(place.meta) for place in places]
    wanted = [place.postal for place, at in zip(places, own, strict=True) if at is None and place.postal]
    positions = maps.postal_positions(conn, community_id, wanted)
    points: list[CallPoint | None] = []
    for place, at in zip(places, own, strict=True):
        if at is None and place.postal.strip() in positions:
            x, y = positions[place.postal.strip()]
            at = CallPoint(x=x, y=y, radius=maps.meta_radius(place.meta), fromPostal=True)
        points.append(at)
    return points


def point_of(meta: dict[str, str]) -> CallPoint | None:
    """The map point of a call's metaData (``x``, ``y``, optional ``radius``), or None without both."""
    at = maps.meta_position(meta)
    return None if at is None else CallPoint(x=at[0], y=at[1], radius=maps.meta_radius(meta))


def _place(meta: dict[str, str], postal_field: str) -> CallPlace:
    # A dispatch call's postal field first; a 911 call has none, so its metaData's postal.
    return CallPlace(meta, postal_field or meta.get("postal", ""))


def emergency_place(call: EmergencyCall) -> CallPlace:
    """What places a 911 call: its metaData (``x``/``y``, else ``postal``)."""
    return _place(call.metaData, "")


def dispatch_place(call: DispatchCall) -> CallPlace:
    """What places a dispatch call: its metaData ``x``/``y``, else its postal field or metaData postal."""
    return _place(call.metaData, call.postal)


@dataclass(frozen=True, slots=True)
class LocatedCall:
    """A live call of a server and its map point (None when neither x/y nor a known postal place it)."""

    call_id: int
    kind: str  # calls.EMERGENCY or calls.DISPATCH
    is_emergency: bool
    point: CallPoint | None


def locate_call(conn: Connection, *, community_id: str, server_id: int, call_id: int) -> LocatedCall:
    """A 911 call in the queue or a dispatch call (open or closed) of this server; 404 otherwise."""
    require_server(conn, community_id, server_id)
    found = calls.require_call(conn, community_id, server_id, call_id)
    emergency = found.kind == calls.EMERGENCY and bool(found.row.is_emergency)
    postal_field = found.row.postal if found.kind == calls.DISPATCH else ""
    [point] = place_calls(conn, community_id, [_place(orjson.loads(found.row.meta_data), postal_field)])
    return LocatedCall(call_id=call_id, kind=found.kind, is_emergency=emergency, point=point)


def require_point(located: LocatedCall) -> CallPoint:
    """The call's map point, or a 409 when nothing places it."""
    if located.point is None:
        raise Conflict(
            f"Call {located.call_id} has no x/y coordinates in its metaData and no postal in the postal list."
        )
    return located.point


# -- location snapshots ----------------------------------------------------------------------------------

SNAPSHOT_SIZE = (512, 384)
SNAPSHOT_HALF_SPAN = 250.0  # game units from the centre to the left and right edges, at the least
MARKER_COLOUR = (230, 30, 30)
MARKER_RADIUS = 9
_BACKGROUND = (18, 24, 33)
_GRID = (44, 56, 72)
_GRID_MAJOR = (66, 82, 104)
_CIRCLE = (255, 170, 40)
SNAPSHOT_MAP_SIDE = 4096  # a larger map image is scaled down once before cropping (memory)


@dataclass(frozen=True, slots=True)
class SnapshotBase:
    """A decoded map image ready for cropping, with its corners in game coordinates."""

    image: Image.Image
    bounds: tuple[float, float, float, float]


def decode_map(stored: MapImage) -> SnapshotBase:
    """Decode a stored map image for snapshots, scaled down to at most SNAPSHOT_MAP_SIDE a side."""
    with Image.open(io.BytesIO(stored.image)) as opened:
        opened.draft("RGB", (SNAPSHOT_MAP_SIDE, SNAPSHOT_MAP_SIDE))  # JPEG decodes smaller for free
        image = opened.convert("RGB")
    image.thumbnail((SNAPSHOT_MAP_SIDE, SNAPSHOT_MAP_SIDE))
    return SnapshotBase(image=image, bounds=stored.bounds)


def _grid_step(half_span: float) -> float:
    raw = half_span / 4
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return next(float(step * magnitude) for step in (1, 2, 5, 10) if step * magnitude >= raw)


def render_snapshot(point: CallPoint, base: SnapshotBase | None, *, label: str = "") -> bytes:
    """A PNG of the map around a call, north (game +y) up, the call's marker at the centre.

    The view spans at least 500 game units across and widens to show the whole ``radius`` circle.
    Without a map image the background is a plain grid in game coordinates.
    """
    width, height = SNAPSHOT_SIZE
    half_span = max(SNAPSHOT_HALF_SPAN, (point.radius or 0) * 1.25)
    scale = (width / 2) / half_span  # pixels per game unit
    centre_u, centre_v = width / 2, height / 2
    if base is not None:
        x1, y1, x2, y2 = base.bounds
        image_w, image_h = base.image.size
        sx, sy = image_w / (x2 - x1), image_h / (y2 - y1)  # image pixels per game unit (may be negative)
        # Output pixel (u, v) shows game point (x + (u - cu)/scale, y - (v - cv)/scale).
        affine = (
            sx / scale,
            0.0,
            (point.x - x1) * sx - centre_u * sx / scale,
            0.0,
            -sy / scale,
            (point.y - y1) * sy + centre_v * sy / scale,
        )
        canvas = base.image.transform(
            SNAPSHOT_SIZE, Image.Transform.AFFINE, affine, Image.Resampling.BILINEAR, fillcolor=_BACKGROUND
        )
    else:
        canvas = Image.new("RGB", SNAPSHOT_SIZE, _BACKGROUND)
    draw = ImageDraw.Draw(canvas, "RGBA")
    if base is None:
        step = _grid_step(half_span)
        left, right = point.x - centre_u / scale, point.x + centre_u / scale
        bottom, top = point.y - centre_v / scale, point.y + centre_v / scale
        line = math.floor(left / step) * step
        while line <= right:
            u = centre_u + (line - point.x) * scale
            colour = _GRID_MAJOR if round(line / step) % 5 == 0 else _GRID
            draw.line([(u, 0), (u, height)], fill=colour, width=1)
            line += step
        line = math.floor(bottom / step) * step
        while line <= top:
            v = centre_v - (line - point.y) * scale
            colour = _GRID_MAJOR if round(line / step) % 5 == 0 else _GRID
            draw.line([(0, v), (width, v)], fill=colour, width=1)
            line += step
    if point.radius:
        r = point.radius * scale
        box = [centre_u - r, centre_v - r, centre_u + r, centre_v + r]
        draw.ellipse(box, fill=(*_CIRCLE, 48), outline=(*_CIRCLE, 230), width=2)
    m = MARKER_RADIUS
    draw.ellipse(
        [centre_u - m - 2, centre_v - m - 2, centre_u + m + 2, centre_v + m + 2], fill=(255, 255, 255, 255)
    )
    draw.ellipse([centre_u - m, centre_v - m, centre_u + m, centre_v + m], fill=(*MARKER_COLOUR, 255))
    font = ImageFont.load_default()
    caption = f"{label}  x {point.x:g}  y {point.y:g}".strip()
    draw.rectangle([0, height - 20, width, height], fill=(0, 0, 0, 150))
    draw.text((8, height - 16), caption, fill=(235, 240, 245, 255), font=font)
    out = io.BytesIO()
    canvas.save(out, format="PNG", optimize=False)
    return out.getvalue()


# -- snapshots served, with what is worth keeping between requests -----------------------------------------


class _Lru:
    """A small least-recently-used cache."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable) -> Any:
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
        return found

    def put(self, key: Hashable, value: Any) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)


class Snapshots:
    """Renders call snapshots off the event loop, keeping the last decoded maps and recent PNGs."""

    def __init__(self) -> None:
        self._bases = _Lru(2)  # decoded map images are large
        self._pngs = _Lru(256)

    async def render(self, db: Database, *, community_id: str, server_id: int, call_id: int) -> bytes:
        """The PNG of a call's surroundings; 404 for no such call, 409 when it has no x/y."""
        located = await db.read(locate_call, community_id=community_id, server_id=server_id, call_id=call_id)
        point = require_point(located)
        version = await db.read(map_version, community_id=community_id, server_id=server_id)
        key = (community_id, server_id, call_id, point.x, point.y, point.radius, version)
        png: bytes | None = self._pngs.get(key)
        if png is None:
            base = await self._base(db, community_id, server_id, version)
            png = await run_in_threadpool(render_snapshot, point, base, label=f"#{call_id}")
            self._pngs.put(key, png)
        return png

    async def _base(
        self, db: Database, community_id: str, server_id: int, version: int | None
    ) -> SnapshotBase | None:
        if version is None:
            return None
        key = (community_id, server_id, version)
        base: SnapshotBase | None = self._bases.get(key)
        if base is None:
            stored = await db.read(map_image, community_id=community_id, server_id=server_id)
            base = await run_in_threadpool(decode_map, stored)
            self._bases.put(key, base)
        return base
