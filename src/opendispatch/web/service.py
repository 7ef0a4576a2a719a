"""Rules of the console: dispatcher logins and sessions, the board, map images, nearest units, snapshots.

Every change a dispatcher makes goes through the same call and unit services as the API; this module
only adds what the console needs around them. Like every service it takes the connection and never
commits. Password hashing and PNG rendering are CPU work: the routes run them off the event loop.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import math
import secrets
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import orjson
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError
from sqlalchemy import Connection, delete, insert, select, update

from opendispatch.calls import service as calls
from opendispatch.calls.models import dispatch_calls, emergency_calls
from opendispatch.calls.schemas import (
    CallStatus,
    CallTableType,
    DispatchCall,
    EmergencyCall,
    UnitsAttached,
)
from opendispatch.clock import iso_utc
from opendispatch.communities.models import communities
from opendispatch.communities.service import list_servers, require_server
from opendispatch.errors import Conflict, DomainError, InvalidInput, NotFound
from opendispatch.history import service as history
from opendispatch.history.schemas import Actor
from opendispatch.units import service as units
from opendispatch.units.models import accounts
from opendispatch.units.schemas import Targets, UnitStatus
from opendispatch.web.models import console_sessions, server_maps
from opendispatch.web.schemas import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    Board,
    CallDetail,
    CallPoint,
    ConsoleDispatchCall,
    ConsoleEmergencyCall,
    ConsoleNewDispatchCall,
    ConsoleUser,
    DispatchDraft,
    Dispatcher,
    MapInfo,
    NearestUnit,
    NearestUnits,
    SessionInfo,
)

SESSION_MS = 12 * 60 * 60 * 1000  # a dispatcher's shift; then they log in again
MAX_UNITS_ON_BOARD = 500


class Forbidden(DomainError):
    """The request is authenticated but may not do this (a change without its CSRF token)."""

    status = 403


# -- passwords -------------------------------------------------------------------------------------------

# argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): the library's default of 64 MiB
# per check would take the server past its 150 MB memory budget with a single login. Hashes made with
# other parameters still verify, and are rehashed with these at the next login.
_hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
# Verified against when the username is unknown, so a wrong username costs the same time as a wrong
# password and timing tells nobody which usernames exist. The hash of a random password thrown away,
# with the parameters above; written out so importing costs no hashing.
_DUMMY_HASH = (
    "$argon2id$v=19$m=19456,t=2,p=1$CRUH0rAe4WAjpEVnzt+wPw$Eqe39iam5WyMwYxrcUA/gLj8URnOrB7X3q+k9R0H6WM"
)
# Every check runs on this one thread: one at a time, and the memory each check frees stays in one
# allocator arena for the next, instead of one arena per pool thread (6 concurrent logins on the shared
# pool took the server from 92 MB to 172 MB; on one thread it stays near 113 MB).
PASSWORD_THREAD = ThreadPoolExecutor(1, thread_name_prefix="opendispatch-password")


def check_password_rules(password: str) -> None:
    """Raise InvalidInput unless the password is long enough (and not absurdly long)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"A dispatcher password needs at least {MIN_PASSWORD_LENGTH} characters.",
            {"password": f"at least {MIN_PASSWORD_LENGTH} characters"},
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            f"A password is at most {MAX_PASSWORD_LENGTH} characters.",
            {"password": f"at most {MAX_PASSWORD_LENGTH} characters"},
        )


def hash_password(password: str) -> str:
    """An argon2id hash of a password (CPU work: ~30 ms); check the rules first for a new one."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> tuple[bool, bool]:
    """(matches, needs rehash); an account without a password never matches, in the same time."""
    try:
        _hasher.verify(password_hash or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False, False
    if password_hash is None:
        return False, False
    return True, _hasher.check_needs_rehash(password_hash)


def set_password(conn: Connection, *, community_id: str, username: str, password_hash: str) -> str:
    """Make an account a dispatcher (or change its password); its open sessions end. Returns its uuid."""
    account_uuid = conn.execute(
        select(accounts.c.account_uuid).where(
            accounts.c.community_id == community_id, accounts.c.username == username.strip()
        )
    ).scalar()
    if account_uuid is None:
        raise NotFound(f"Account {username!r} does not exist in this community.")
    conn.execute(
        update(accounts).where(accounts.c.account_uuid == account_uuid).values(password_hash=password_hash)
    )
    conn.execute(delete(console_sessions).where(console_sessions.c.account_uuid == account_uuid))
    return str(account_uuid)


# -- sessions --------------------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def csrf_token(token: str) -> str:
    """The CSRF token bound to a session: derived from its cookie, which pages can never read."""
    return hmac.new(token.encode("utf-8"), b"opendispatch-console-csrf", hashlib.sha256).hexdigest()


def find_dispatcher(conn: Connection, *, community_id: str, username: str) -> Dispatcher | None:
    """The account that may log in with this username, or None (unknown, or no password set)."""
    row = conn.execute(
        select(
            accounts.c.account_uuid,
            accounts.c.community_id,
            accounts.c.username,
            accounts.c.community_user_id,
            accounts.c.password_hash,
        ).where(accounts.c.community_id == community_id, accounts.c.username == username.strip())
    ).first()
    if row is None or row.password_hash is None:
        return None
    return Dispatcher(
        account_uuid=row.account_uuid,
        community_id=row.community_id,
        username=row.username,
        community_user_id=row.community_user_id,
        password_hash=row.password_hash,
    )


def open_session(
    conn: Connection, *, dispatcher: Dispatcher, now: int, new_hash: str | None = None
) -> tuple[str, int]:
    """Start a session for a dispatcher whose password checked out; returns (cookie token, expiry).

    The dispatcher's expired sessions are dropped, and ``new_hash`` (a stronger hash of the same
    password) replaces the stored one.
    """
    token = secrets.token_urlsafe(32)
    expires_at = now + SESSION_MS
    conn.execute(
        delete(console_sessions).where(
            console_sessions.c.account_uuid == dispatcher.account_uuid, console_sessions.c.expires_at <= now
        )
    )
    conn.execute(
        insert(console_sessions).values(
            token_hash=_token_hash(token),
            community_id=dispatcher.community_id,
            account_uuid=dispatcher.account_uuid,
            created_at=now,
            expires_at=expires_at,
        )
    )
    if new_hash is not None:
        conn.execute(
            update(accounts)
            .where(accounts.c.account_uuid == dispatcher.account_uuid)
            .values(password_hash=new_hash)
        )
    return token, expires_at


def session_user(conn: Connection, *, token: str, now: int) -> ConsoleUser | None:
    """The dispatcher behind a session token, or None when it is unknown, ended or expired."""
    digest = _token_hash(token)
    row = conn.execute(
        select(
            console_sessions.c.token_hash,
            console_sessions.c.community_id,
            console_sessions.c.expires_at,
            accounts.c.account_uuid,
            accounts.c.username,
            accounts.c.community_user_id,
            accounts.c.password_hash,
        )
        .join(accounts, accounts.c.account_uuid == console_sessions.c.account_uuid)
        .where(console_sessions.c.token_hash == digest)
    ).first()
    if row is None or row.expires_at <= now or row.password_hash is None:
        return None
    if not hmac.compare_digest(row.token_hash, digest):
        return None
    return ConsoleUser(
        community_id=row.community_id,
        account_uuid=row.account_uuid,
        username=row.username,
        community_user_id=row.community_user_id,
        token_hash=row.token_hash,
        csrf_token=csrf_token(token),
        expires_at=row.expires_at,
    )


def close_session(conn: Connection, *, token_hash: str) -> None:
    """End a session (logout)."""
    conn.execute(delete(console_sessions).where(console_sessions.c.token_hash == token_hash))


def session_info(conn: Connection, *, user: ConsoleUser) -> SessionInfo:
    """Who is logged in and the servers of their community."""
    name = conn.execute(
        select(communities.c.name).where(communities.c.community_id == user.community_id)
    ).scalar_one()
    return SessionInfo(
        username=user.username,
        communityId=user.community_id,
        communityName=name,
        communityUserId=user.community_user_id,
        csrfToken=user.csrf_token,
        expires=iso_utc(user.expires_at),
        servers=list_servers(conn, user.community_id),
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


# -- where calls are, and the units nearest to them ------------------------------------------------------


MAX_COORDINATE = 1e7


def _coordinate(meta: dict[str, str], key: str) -> float | None:
    try:
        value = float(meta[key])
    except (KeyError, ValueError):
        return None
    # Beyond any game map (and where float steps stop moving a grid line) a coordinate is no point.
    return value if math.isfinite(value) and abs(value) <= MAX_COORDINATE else None


def point_of(meta: dict[str, str]) -> CallPoint | None:
    """The map point of a call's metaData (``x``, ``y``, optional ``radius``), or None without both."""
    x, y = _coordinate(meta, "x"), _coordinate(meta, "y")
    if x is None or y is None:
        return None
    radius = _coordinate(meta, "radius")
    return CallPoint(x=x, y=y, radius=radius if radius is not None and radius > 0 else None)


@dataclass(frozen=True, slots=True)
class LocatedCall:
    """A live call of a server and its map point (None when its metaData has no x/y)."""

    call_id: int
    kind: str  # "emergency" or "dispatch"
    is_emergency: bool
    point: CallPoint | None


def locate_call(conn: Connection, *, community_id: str, server_id: int, call_id: int) -> LocatedCall:
    """A 911 call in the queue or a dispatch call (open or closed) of this server; 404 otherwise."""
    require_server(conn, community_id, server_id)
    for table, kind in ((emergency_calls, "emergency"), (dispatch_calls, "dispatch")):
        columns = [table.c.meta_data]
        if table is emergency_calls:
            columns.append(table.c.is_emergency)
        row = conn.execute(
            select(*columns).where(
                table.c.community_id == community_id,
                table.c.server_id == server_id,
                table.c.call_id == call_id,
                table.c.removed_at.is_(None),
            )
        ).first()
        if row is not None:
            point = point_of(orjson.loads(row.meta_data))
            emergency = bool(row.is_emergency) if kind == "emergency" else False
            return LocatedCall(call_id=call_id, kind=kind, is_emergency=emergency, point=point)
    raise NotFound(f"Call {call_id} does not exist on server {server_id}.")


def require_point(located: LocatedCall) -> CallPoint:
    if located.point is None:
        raise Conflict(f"Call {located.call_id} has no x/y coordinates in its metaData.")
    return located.point


def nearest_units(
    conn: Connection,
    *,
    community_id: str,
    server_id: int,
    call_id: int,
    limit: int = 10,
    dispatch_only: bool = False,
) -> NearestUnits:
    """Available units (status AVAILABLE, on no open call) with coordinates, nearest to the call first.

    Distance is straight-line on the map plane (x, y) from each unit's last reported coordinates;
    ties go to the lower identId. 409 when the call has no x/y.
    """
    located = locate_call(conn, community_id=community_id, server_id=server_id, call_id=call_id)
    if dispatch_only and located.kind != "dispatch":
        raise NotFound(f"Dispatch call {call_id} does not exist on server {server_id}.")
    point = require_point(located)
    listed = units.list_units(
        conn,
        community_id=community_id,
        server_id=server_id,
        include_offline=False,
        limit=10_000,
        offset=0,
    )
    ranked = sorted(
        (
            NearestUnit(
                identId=unit.identId,
                unitNum=unit.unitNum,
                name=unit.name,
                department=unit.department,
                status=unit.status,
                coordinates=unit.coordinates,
                distance=round(math.hypot(unit.coordinates.x - point.x, unit.coordinates.y - point.y), 1),
            )
            for unit in listed.units
            if unit.status == UnitStatus.AVAILABLE and unit.callId is None and unit.coordinates is not None
        ),
        key=lambda unit: (unit.distance, unit.identId),
    )
    return NearestUnits(callId=call_id, x=point.x, y=point.y, units=ranked[:limit])


def attach_nearest(
    conn: Connection, *, community_id: str, server_id: int, call_id: int, now: int, actor: Actor
) -> UnitsAttached:
    """Attach the nearest available unit to a dispatch call (409 when none has coordinates)."""
    nearest = nearest_units(
        conn, community_id=community_id, server_id=server_id, call_id=call_id, limit=1, dispatch_only=True
    )
    if not nearest.units:
        raise Conflict("No available unit has reported coordinates on this server.")
    return calls.attach_to_call(
        conn,
        community_id=community_id,
        server_id=server_id,
        call_id=call_id,
        targets=Targets(identIds=[nearest.units[0].identId]),
        now=now,
        actor=actor,
    )


# -- the board -------------------------------------------------------------------------------------------


def _times(conn: Connection, table: Any, community_id: str, call_ids: Sequence[int]) -> dict[int, Any]:
    if not call_ids:
        return {}
    columns = [table.c.call_id, table.c.created_at]
    if table is dispatch_calls:
        columns += [dispatch_calls.c.closed_at, dispatch_calls.c.source_call_id]
    rows = conn.execute(
        select(*columns).where(table.c.community_id == community_id, table.c.call_id.in_(list(call_ids)))
    )
    return {row.call_id: row for row in rows}


def _dispatched_from(conn: Connection, community_id: str, call_ids: Sequence[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    if not call_ids:
        return found
    rows = conn.execute(
        select(dispatch_calls.c.source_call_id, dispatch_calls.c.call_id)
        .where(
            dispatch_calls.c.community_id == community_id,
            dispatch_calls.c.source_call_id.in_(list(call_ids)),
            dispatch_calls.c.removed_at.is_(None),
        )
        .order_by(dispatch_calls.c.call_id)
    )
    for row in rows:
        found.setdefault(row.source_call_id, []).append(row.call_id)
    return found


def console_emergency_calls(
    conn: Connection, community_id: str, found: Iterable[EmergencyCall]
) -> list[ConsoleEmergencyCall]:
    """911 calls with their arrival time and the dispatch calls made from them, newest first."""
    found = list(found)
    ids = [call.callId for call in found]
    times = _times(conn, emergency_calls, community_id, ids)
    dispatched = _dispatched_from(conn, community_id, ids)
    enriched = [
        ConsoleEmergencyCall(
            **call.model_dump(),
            createdMs=times[call.callId].created_at,
            dispatchCallIds=dispatched.get(call.callId, []),
        )
        for call in found
    ]
    return sorted(enriched, key=lambda call: (call.createdMs, call.callId), reverse=True)


def console_dispatch_calls(
    conn: Connection, community_id: str, found: Iterable[DispatchCall]
) -> list[ConsoleDispatchCall]:
    """Dispatch calls with when they were opened and closed and the 911 call they came from."""
    found = list(found)
    times = _times(conn, dispatch_calls, community_id, [call.callId for call in found])
    return [
        ConsoleDispatchCall(
            **call.model_dump(),
            createdMs=times[call.callId].created_at,
            closedMs=times[call.callId].closed_at,
            sourceCallId=times[call.callId].source_call_id,
        )
        for call in found
    ]


def board(
    conn: Connection, *, community_id: str, server_id: int, closed_limit: int, closed_offset: int, now: int
) -> Board:
    """The 911 queue (newest first), open dispatch calls, a page of closed calls, units and the map."""
    listing = calls.list_calls(
        conn,
        community_id=community_id,
        server_id=server_id,
        table_type=CallTableType.SEARCH_ALL,
        closed_limit=closed_limit,
        closed_offset=closed_offset,
    )
    on_server = units.list_units(
        conn,
        community_id=community_id,
        server_id=server_id,
        include_offline=True,
        limit=MAX_UNITS_ON_BOARD,
        offset=0,
    )
    # Newest first: the call that just came in is the one a dispatcher must see.
    active = sorted(listing.activeCalls, key=lambda call: call.callId, reverse=True)
    return Board(
        serverId=server_id,
        nowMs=now,
        emergencyCalls=console_emergency_calls(conn, community_id, listing.emergencyCalls),
        activeCalls=console_dispatch_calls(conn, community_id, active),
        closedCalls=console_dispatch_calls(conn, community_id, listing.closedCalls),
        closedCallCount=listing.closedCallCount,
        closedOffset=closed_offset,
        closedLimit=closed_limit,
        units=on_server.units,
        map=map_info(conn, community_id=community_id, server_id=server_id),
    )


def _emergency_call(conn: Connection, community_id: str, server_id: int, call_id: int) -> EmergencyCall:
    listed = calls.list_calls(
        conn,
        community_id=community_id,
        server_id=server_id,
        table_type=CallTableType.EMERGENCY_CALL,
        closed_limit=0,
        closed_offset=0,
    )
    for call in listed.emergencyCalls:
        if call.callId == call_id:
            return call
    raise NotFound(f"911 call {call_id} does not exist on server {server_id}.")


def call_detail(conn: Connection, *, community_id: str, server_id: int, call_id: int) -> CallDetail:
    """A 911 call in the queue or a dispatch call of the server, with its history; 404 otherwise."""
    located = locate_call(conn, community_id=community_id, server_id=server_id, call_id=call_id)
    snapshot = f"/v2/emergency/servers/{server_id}/calls/{call_id}/snapshot.png"
    if located.kind == "emergency":
        found = _emergency_call(conn, community_id, server_id, call_id)
        past = history.read_history(conn, community_id=community_id, call_id=call_id)
        return CallDetail(
            kind="emergency",
            emergency=console_emergency_calls(conn, community_id, [found])[0],
            point=located.point,
            snapshotUrl=snapshot if located.point else None,
            history=past.entries,
            units=past.units,
        )
    dispatch = calls.load_dispatch_calls(conn, community_id, [call_id])
    past = calls.dispatch_call_history(conn, community_id=community_id, server_id=server_id, call_id=call_id)
    return CallDetail(
        kind="dispatch",
        dispatch=console_dispatch_calls(conn, community_id, dispatch)[0],
        point=located.point,
        snapshotUrl=snapshot if located.point else None,
        history=past.entries,
        units=past.units,
    )


_CARRIED_META = ("x", "y", "z", "radius")


def dispatch_draft(conn: Connection, *, community_id: str, server_id: int, call_id: int) -> DispatchDraft:
    """A dispatch call pre-filled from a 911 call: metaData ``postal``, ``block``, ``code``,
    ``priority`` fill those fields; the location becomes the address; ``x``/``y``/``z``/``radius``
    carry over so the new call is on the map too."""
    found = _emergency_call(conn, community_id, server_id, call_id)
    meta = found.metaData
    try:
        priority = int(meta.get("priority", ""))
    except ValueError:
        priority = 0
    if not 1 <= priority <= 3:
        priority = 1 if found.isEmergency else 2
    first_line = found.description.strip().splitlines()[0] if found.description.strip() else ""
    title = meta.get("title") or first_line or ("Emergency call" if found.isEmergency else "Civil call")
    return DispatchDraft(
        sourceCallId=call_id,
        origin=0,
        status=int(CallStatus.ACTIVE),
        priority=priority,
        block=meta.get("block", "")[:255],
        address=found.location,
        postal=meta.get("postal", "")[:64],
        title=title[:80],
        code=meta.get("code", "")[:64],
        description=found.description,
        notes=[{"label": "911", "type": "text", "content": f"Caller: {found.caller}"}],
        metaData={key: meta[key] for key in _CARRIED_META if key in meta},
    )


def attached_to(conn: Connection, *, community_id: str, server_id: int, call_id: int) -> list[int]:
    """The units on a dispatch call of this server, in order (404 when there is no such call)."""
    exists = conn.execute(
        select(dispatch_calls.c.call_id).where(
            dispatch_calls.c.community_id == community_id,
            dispatch_calls.c.server_id == server_id,
            dispatch_calls.c.call_id == call_id,
            dispatch_calls.c.removed_at.is_(None),
        )
    ).first()
    if exists is None:
        raise NotFound(f"Dispatch call {call_id} does not exist on server {server_id}.")
    return calls.load_dispatch_calls(conn, community_id, [call_id])[0].idents


def open_dispatch_call(
    conn: Connection,
    *,
    community_id: str,
    server_id: int,
    call: ConsoleNewDispatchCall,
    now: int,
    actor: Actor,
) -> DispatchCall:
    """Open a dispatch call from the console in one unit of work, through the API's services.

    The call is linked to the 911 call it was made from (``sourceCallId``), the units picked by id are
    attached, and with ``removeSource`` that 911 call leaves the queue (unless it already has).
    """
    created = calls.open_dispatch_call(
        conn,
        community_id=community_id,
        server_id=server_id,
        call=call,
        now=now,
        actor=actor,
        source_call_id=call.sourceCallId,
    )
    if call.identIds:
        calls.attach_to_call(
            conn,
            community_id=community_id,
            server_id=server_id,
            call_id=created.callId,
            targets=Targets(identIds=call.identIds),
            now=now,
            actor=actor,
        )
    if call.removeSource and call.sourceCallId is not None:
        with suppress(NotFound):  # another dispatcher removed it meanwhile: nothing left to do
            calls.remove_emergency_call(
                conn,
                community_id=community_id,
                server_id=server_id,
                call_id=call.sourceCallId,
                now=now,
                actor=actor,
            )
    return calls.load_dispatch_calls(conn, community_id, [created.callId])[0]


def detach_from_call(
    conn: Connection,
    *,
    community_id: str,
    server_id: int,
    call_id: int,
    ident_ids: Sequence[int],
    now: int,
    actor: Actor,
) -> list[int]:
    """Take units off one dispatch call (409 for a unit that is not on it, say after it moved)."""
    on_call = attached_to(conn, community_id=community_id, server_id=server_id, call_id=call_id)
    elsewhere = [ident for ident in ident_ids if ident not in on_call]
    if elsewhere:
        raise Conflict(
            f"Unit(s) {', '.join(map(str, elsewhere))} are not attached to dispatch call {call_id}."
        )
    return calls.detach_from_calls(
        conn,
        community_id=community_id,
        server_id=server_id,
        targets=Targets(identIds=list(ident_ids)),
        now=now,
        actor=actor,
    )


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
