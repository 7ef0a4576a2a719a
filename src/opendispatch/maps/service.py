"""Rules of the map: the community's postal list, where a postal is and which is nearest, and blips."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, Row, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from opendispatch.communities.service import require_server
from opendispatch.errors import InvalidInput, LimitReached, NotFound
from opendispatch.events import service as events
from opendispatch.events.schemas import EventType
from opendispatch.maps.models import blip_counters, blips, postals
from opendispatch.maps.schemas import (
    MAX_BLIP_BYTES,
    MAX_BLIPS_PER_SERVER,
    MAX_COORDINATE,
    Blip,
    BlipChanges,
    BlipCoordinates,
    BlipDataRow,
    BlipsDeleted,
    BlipUpdated,
    NewBlip,
    Postal,
    PostalPosition,
    PostalsSet,
)
from opendispatch.storage.statements import Prepared

# -- postals ---------------------------------------------------------------------------------------------


def set_postals(conn: Connection, *, community_id: str, postal_list: Sequence[Postal]) -> PostalsSet:
    """Replace the community's postal list; a code listed twice keeps its first position."""
    first: dict[str, Postal] = {}
    for postal in postal_list:
        first.setdefault(postal.code, postal)
    conn.execute(delete(postals).where(postals.c.community_id == community_id))
    if first:
        conn.execute(
            insert(postals),
            [
                {"community_id": community_id, "code": postal.code, "x": postal.x, "y": postal.y}
                for postal in first.values()
            ],
        )
    return PostalsSet(updated=len(first))


def postal_count(conn: Connection, *, community_id: str) -> int:
    """How many postals the community's list holds."""
    return int(
        conn.execute(
            select(func.count()).select_from(postals).where(postals.c.community_id == community_id)
        ).scalar_one()
    )


def postal_positions(
    conn: Connection, community_id: str, codes: Iterable[str]
) -> dict[str, tuple[float, float]]:
    """Where each of these postal codes is (codes not in the list are left out)."""
    wanted = sorted({code.strip() for code in codes if code.strip()})
    if not wanted:
        return {}
    rows = conn.execute(
        select(postals.c.code, postals.c.x, postals.c.y).where(
            postals.c.community_id == community_id, postals.c.code.in_(wanted)
        )
    )
    return {row.code: (row.x, row.y) for row in rows}


def find_postal(conn: Connection, *, community_id: str, code: str) -> PostalPosition:
    """A postal of the community by its code; 404 when the list has no such code."""
    found = postal_positions(conn, community_id, [code])
    if code.strip() not in found:
        raise NotFound(f"Postal {code.strip()!r} is not in the community's postal list.")
    x, y = found[code.strip()]
    return PostalPosition(code=code.strip(), x=x, y=y)


# Half-widths of the square searched around a point, widening until the nearest postal is certain.
_SEARCH_SPANS = (250.0, 1_000.0, 4_000.0)
_COMMUNITY = postals.c.community_id == bindparam("community_id")
_POSITIONS = select(postals.c.code, postals.c.x, postals.c.y).where(_COMMUNITY)
# Prepared: a 911 call with coordinates runs these as it is created (the hot path).
_IN_SQUARE = Prepared(
    _POSITIONS.where(
        postals.c.x.between(bindparam("x_low"), bindparam("x_high")),
        postals.c.y.between(bindparam("y_low"), bindparam("y_high")),
    )
)
_EVERY = Prepared(_POSITIONS)
_ANY = Prepared(select(postals.c.code).where(_COMMUNITY).limit(1))


def _rows(statement: Prepared, conn: Connection, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    cursor = statement.run(conn, params)
    try:
        return list(cursor.fetchall())
    finally:
        cursor.close()


def nearest_postal(conn: Connection, community_id: str, x: float, y: float) -> str | None:
    """The code of the postal nearest to (x, y) (ties to the lower code), or None without a postal list.

    A postal found within a square of half-width ``span`` and no farther than ``span`` is the nearest
    (any nearer one would lie in the square too); otherwise the square widens, then every postal is read.
    """
    community = {"community_id": community_id}
    for span in (*_SEARCH_SPANS, None):
        if span is None:
            rows = _rows(_EVERY, conn, community)
        else:
            square = {"x_low": x - span, "x_high": x + span, "y_low": y - span, "y_high": y + span}
            rows = _rows(_IN_SQUARE, conn, {**community, **square})
            if not rows and span == _SEARCH_SPANS[0] and not _rows(_ANY, conn, community):
                return None  # no list at all: no wider search
        best = min(((math.hypot(px - x, py - y), code) for code, px, py in rows), default=None)
        if best is not None and (span is None or best[0] <= span):
            return str(best[1])
    return None


def _coordinate(meta: Mapping[str, str], key: str) -> float | None:
    try:
        value = float(meta[key])
    except (KeyError, ValueError):
        return None
    # Beyond any game map (and where float steps stop moving a grid line) a coordinate is no point.
    return value if math.isfinite(value) and abs(value) <= MAX_COORDINATE else None


def meta_position(meta: Mapping[str, str]) -> tuple[float, float] | None:
    """The (x, y) a call's metaData gives, or None without both as numbers."""
    x, y = _coordinate(meta, "x"), _coordinate(meta, "y")
    return None if x is None or y is None else (x, y)


def meta_radius(meta: Mapping[str, str]) -> float | None:
    """The map circle's radius a call's metaData gives, when positive."""
    radius = _coordinate(meta, "radius")
    return radius if radius is not None and radius > 0 else None


def postal_for(conn: Connection, community_id: str, meta: Mapping[str, str], postal: str = "") -> str:
    """A call's postal: the one it was given, else the postal nearest its metaData x/y, else ``""``."""
    if postal.strip():
        return postal
    position = meta_position(meta)
    if position is None:
        return postal
    return nearest_postal(conn, community_id, *position) or postal


def with_postal(conn: Connection, community_id: str, meta: dict[str, str]) -> dict[str, str]:
    """A 911 call's metaData with ``postal`` set to the one nearest its x/y, when it names none."""
    postal = postal_for(conn, community_id, meta, meta.get("postal", ""))
    return {**meta, "postal": postal} if postal != meta.get("postal", "") else meta


# -- blips -----------------------------------------------------------------------------------------------


def _next_blip_ids(conn: Connection, community_id: str, count: int) -> list[int]:
    # One counter row per community: ids are never reused, and concurrent creators queue on the row. The
    # counter moves by ``count`` in one statement, whatever the number of blips.
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    upsert = dialect.insert(blip_counters).values(community_id=community_id, last_blip_id=count)
    statement = upsert.on_conflict_do_update(
        index_elements=[blip_counters.c.community_id],
        set_={"last_blip_id": blip_counters.c.last_blip_id + count},
    ).returning(blip_counters.c.last_blip_id)
    cursor = conn.execute(statement)
    (last,) = cursor.one()
    cursor.close()
    return list(range(int(last) - count + 1, int(last) + 1))


def _require_blip_size(blip: Blip, where: str) -> None:
    size = len(orjson.dumps(blip.model_dump()))
    if size > MAX_BLIP_BYTES:
        raise LimitReached(
            f"{where} would weigh {size} bytes; the size of a blip is at most {MAX_BLIP_BYTES} bytes. "
            "Nothing was stored.",
            "size of a blip",
        )


def _blip(row: Row[Any]) -> Blip:
    return Blip(
        id=row.blip_id,
        coordinates=BlipCoordinates(x=row.x, y=row.y, z=row.z, w=row.w),
        subType=row.sub_type,
        icon=row.icon,
        color=row.color,
        tooltip=row.tooltip,
        data=[BlipDataRow.model_validate(item) for item in orjson.loads(row.data)],
        radius=row.radius,
    )


def _data_text(rows: Sequence[BlipDataRow]) -> str:
    return orjson.dumps([row.model_dump() for row in rows]).decode()


def _announce(conn: Connection, community_id: str, server_id: int, ids: list[int], now: int) -> None:
    # The console redraws on this; the in-game resource has no such event, so it is not pushed to it.
    events.emit(
        conn,
        community_id=community_id,
        server_id=server_id,
        type=EventType.EVENT_BLIPS_CHANGED,
        data={"ids": ids},
        now=now,
        push=False,
    )


def create_blips(
    conn: Connection, *, community_id: str, server_id: int, new: Sequence[NewBlip], now: int
) -> list[Blip]:
    """Put blips on a server's map, at most MAX_BLIPS_PER_SERVER there at once (409 beyond)."""
    require_server(conn, community_id, server_id)
    held = conn.execute(
        select(func.count())
        .select_from(blips)
        .where(blips.c.community_id == community_id, blips.c.server_id == server_id)
    ).scalar_one()
    if held + len(new) > MAX_BLIPS_PER_SERVER:
        raise LimitReached(
            f"Server {server_id} has {held} blips; at most {MAX_BLIPS_PER_SERVER} at once (blips per "
            "server). Delete some first. Nothing was stored.",
            "blips per server",
        )
    ids = _next_blip_ids(conn, community_id, len(new)) if new else []
    made = [Blip(id=blip_id, **blip.model_dump()) for blip_id, blip in zip(ids, new, strict=True)]
    for number, blip in enumerate(made):
        _require_blip_size(blip, f"Blip {number + 1} of the request")
    conn.execute(
        insert(blips),
        [
            {
                "community_id": community_id,
                "blip_id": blip_id,
                "server_id": server_id,
                "x": blip.coordinates.x,
                "y": blip.coordinates.y,
                "z": blip.coordinates.z,
                "w": blip.coordinates.w,
                "sub_type": blip.subType,
                "icon": blip.icon,
                "color": blip.color,
                "tooltip": blip.tooltip,
                "radius": blip.radius,
                "data": _data_text(blip.data),
                "updated_at": now,
            }
            for blip_id, blip in zip(ids, new, strict=True)
        ],
    )
    _announce(conn, community_id, server_id, ids, now)
    return made


def create_blip(conn: Connection, *, community_id: str, server_id: int, blip: NewBlip, now: int) -> Blip:
    """Put one blip on a server's map."""
    return create_blips(conn, community_id=community_id, server_id=server_id, new=[blip], now=now)[0]


def list_blips(conn: Connection, *, community_id: str, server_id: int) -> list[Blip]:
    """A server's blips in id order."""
    require_server(conn, community_id, server_id)
    rows = conn.execute(
        select(blips)
        .where(blips.c.community_id == community_id, blips.c.server_id == server_id)
        .order_by(blips.c.blip_id)
    )
    return [_blip(row) for row in rows]


def _find_blip(conn: Connection, community_id: str, server_id: int | None, blip_id: int) -> Row[Any]:
    where = [blips.c.community_id == community_id, blips.c.blip_id == blip_id]
    if server_id is not None:
        where.append(blips.c.server_id == server_id)
    row = conn.execute(select(blips).where(*where)).first()
    if row is None:
        on = "" if server_id is None else f" on server {server_id}"
        raise NotFound(f"Blip {blip_id} does not exist{on}.")
    return row


# Wire field → column of the fields Update Blip changes besides coordinates.
_COLUMNS = {
    "subType": "sub_type",
    "icon": "icon",
    "color": "color",
    "tooltip": "tooltip",
    "radius": "radius",
    "data": "data",
}


def update_blip(
    conn: Connection,
    *,
    community_id: str,
    server_id: int | None,
    blip_id: int,
    changes: BlipChanges,
    now: int,
) -> BlipUpdated:
    """Change the fields sent of a blip of this server (``server_id`` None: any server of the community)."""
    if server_id is not None:
        require_server(conn, community_id, server_id)
    changed = changes.changed()
    if not changed:
        raise InvalidInput(
            "The body names no field to change: send at least one of coordinates, subType, icon, color, "
            "tooltip, radius, data.",
            {"body": "no field to change"},
        )
    row = _find_blip(conn, community_id, server_id, blip_id)
    values: dict[str, Any] = {"updated_at": now}
    moved = changed.pop("coordinates", None)
    if moved is not None:
        for axis in ("x", "y", "z", "w"):
            if getattr(moved, axis) is not None:
                values[axis] = getattr(moved, axis)
    for name, value in changed.items():
        values[_COLUMNS[name]] = _data_text(value) if name == "data" else value
    conn.execute(
        update(blips).where(blips.c.community_id == community_id, blips.c.blip_id == blip_id).values(**values)
    )
    _require_blip_size(_blip(_find_blip(conn, community_id, server_id, blip_id)), f"Blip {blip_id}")
    _announce(conn, community_id, row.server_id, [blip_id], now)
    return BlipUpdated(id=blip_id)


def delete_blips(
    conn: Connection, *, community_id: str, server_id: int | None, blip_ids: Sequence[int], now: int
) -> BlipsDeleted:
    """Delete blips of this server (None: of any server of the community); 404 and none deleted if one is
    not there."""
    if server_id is not None:
        require_server(conn, community_id, server_id)
    wanted = list(dict.fromkeys(blip_ids))
    # One read for every id asked for, not one per id.
    where = [blips.c.community_id == community_id, blips.c.blip_id.in_(wanted)]
    if server_id is not None:
        where.append(blips.c.server_id == server_id)
    rows = conn.execute(select(blips.c.blip_id, blips.c.server_id).where(*where))
    found = {row.blip_id: row.server_id for row in rows}
    missing = next((blip_id for blip_id in wanted if blip_id not in found), None)
    if missing is not None:
        on = "" if server_id is None else f" on server {server_id}"
        raise NotFound(f"Blip {missing} does not exist{on}.")
    servers_of: dict[int, list[int]] = {}
    for blip_id in wanted:
        servers_of.setdefault(found[blip_id], []).append(blip_id)
    if not servers_of:
        return BlipsDeleted(ids=[])
    conn.execute(
        delete(blips).where(blips.c.community_id == community_id, blips.c.blip_id.in_(list(blip_ids)))
    )
    for on_server, ids in servers_of.items():
        _announce(conn, community_id, on_server, ids, now)
    return BlipsDeleted(ids=list(dict.fromkeys(blip_ids)))
