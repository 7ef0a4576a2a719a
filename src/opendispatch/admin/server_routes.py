"""The admin pages' servers, API keys, and plan and limits, under ``/console/api/admin``.

Admins only (403 otherwise), their own community only (another's server or key is 404); every change
leaves an audit entry. Map images and postal files come as the request body itself: the file as it is.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool

from opendispatch.admin import servers as service
from opendispatch.admin.routes import ADMIN, Admin
from opendispatch.admin.server_schemas import (
    MAX_DELIVERY_LOG,
    AdminServer,
    AdminServers,
    CommunityChange,
    DeliveryLog,
    KeyCreated,
    KeyList,
    KeyRevoked,
    LimitChange,
    MapCleared,
    NewKey,
    PlanAndLimits,
    PostalFile,
    PushTargetChange,
    PushTargetSet,
    Redelivered,
    Redelivery,
    SecretRotated,
    ServerRename,
)
from opendispatch.api.auth import Caller
from opendispatch.api.params import ServerId
from opendispatch.api.routing import Operation
from opendispatch.api.state import app_state
from opendispatch.errors import InvalidInput
from opendispatch.maps.schemas import POSTAL_BODY_BYTES, PostalsSet
from opendispatch.schemas import MAX_ID
from opendispatch.web import tiles
from opendispatch.web.maps import MAX_MAP_BYTES, parse_bounds
from opendispatch.web.schemas import ConsoleUser, MapInfo

servers = APIRouter(include_in_schema=False, route_class=Operation)
SERVER = ADMIN + "/servers/{serverId}"
# Uploads are the request body itself, so their paths carry no server id: the body limit is per path.
MAP_IMAGE = ADMIN + "/map/image"
MAP_TILES = ADMIN + "/map/tiles"
POSTALS = ADMIN + "/postals"
MAX_TILE_UPLOAD = 96 * 1024 * 1024  # six tiles in one request; a larger set goes through `map set`
UPLOAD_LIMITS = {MAP_IMAGE: MAX_MAP_BYTES, MAP_TILES: MAX_TILE_UPLOAD, POSTALS: POSTAL_BODY_BYTES}
MAX_TILE_FILES = 12  # the six tiles, perhaps each in two formats

UploadServer = Annotated[int, Query(ge=1, le=MAX_ID, description="The server the map is for.")]
Bounds = Annotated[str, Query(max_length=200, description="X1,Y1,X2,Y2: the image's corners in game units.")]
OperationName = Annotated[
    str, Path(max_length=64, description="An operation's name, as DEFAULT_LIMITS has it.")
]
KeyPrefix = Annotated[str, Path(min_length=1, max_length=16, description="The key's listed prefix.")]


def _admin(caller: Caller) -> ConsoleUser:
    assert caller.session is not None  # console_session("admin") made the caller from a session
    return caller.session


# -- servers ---------------------------------------------------------------------------------------------


@servers.get(ADMIN + "/servers", response_model=AdminServers)
async def list_servers(caller: Admin) -> AdminServers:
    """The community's servers: names, heartbeats, push targets (no secrets), maps; the postal count."""
    return await caller.read(service.list_servers)


@servers.patch(SERVER, response_model=AdminServer)
async def rename_server(serverId: ServerId, body: ServerRename, caller: Admin) -> AdminServer:
    """Rename a server."""
    return await caller.write(
        service.rename_server, admin=_admin(caller), server_id=serverId, name=body.name, now=caller.now()
    )


@servers.put(SERVER + "/push", response_model=PushTargetSet)
async def set_push_target(serverId: ServerId, body: PushTargetChange, caller: Admin) -> PushTargetSet:
    """Create or change the server's push target (a new one answers its secret and receiver key once)."""
    return await caller.write(
        service.set_push_target, admin=_admin(caller), server_id=serverId, change=body, now=caller.now()
    )


@servers.post(SERVER + "/push/rotate", response_model=SecretRotated)
async def rotate_push_secret(serverId: ServerId, caller: Admin) -> SecretRotated:
    """A new signing secret for the server's push target, shown this once."""
    return await caller.write(
        service.rotate_push_secret, admin=_admin(caller), server_id=serverId, now=caller.now()
    )


@servers.get(SERVER + "/deliveries", response_model=DeliveryLog)
async def delivery_log(
    serverId: ServerId, caller: Admin, limit: Annotated[int, Query(ge=1, le=MAX_DELIVERY_LOG)] = 50
) -> DeliveryLog:
    """The server's newest delivery attempts."""
    return await caller.read(service.delivery_log, server_id=serverId, limit=limit)


@servers.post(SERVER + "/redeliver", response_model=Redelivered)
async def redeliver(serverId: ServerId, body: Redelivery, caller: Admin, request: Request) -> Redelivered:
    """Queue one event of the server (``eventId``) or all its dead events (``dead: true``) again."""
    max_age_ms = int(app_state(request).settings.push_max_age_seconds * 1000)
    return await caller.write(
        service.redeliver,
        admin=_admin(caller),
        server_id=serverId,
        redelivery=body,
        max_age_ms=max_age_ms,
        now=caller.now(),
    )


@servers.put(MAP_IMAGE, response_model=MapInfo)
async def set_map_image(request: Request, caller: Admin, serverId: UploadServer, bounds: Bounds) -> MapInfo:
    """The server's map image: a PNG, JPEG or WebP file as the body, its corners in ``bounds``."""
    corners = parse_bounds(bounds)
    image = await request.body()
    return await caller.write(
        service.set_map,
        admin=_admin(caller),
        server_id=serverId,
        image=image,
        bounds=corners,
        tiles=False,
        now=caller.now(),
    )


@servers.put(MAP_TILES, response_model=MapInfo)
async def set_map_tiles(
    request: Request,
    caller: Admin,
    serverId: UploadServer,
    files: Annotated[str, Query(max_length=1000, description="name:size,... of the files in the body.")],
    bounds: Annotated[str | None, Query(max_length=200)] = None,
) -> MapInfo:
    """The server's map composed of the game's six ``minimap_sea`` tiles, sent one after another as the
    body (``files`` names each with its size); the game's tile grid unless ``bounds`` are given."""
    corners = tiles.TILE_SET_BOUNDS if bounds is None else parse_bounds(bounds)
    sent = split_files(files, await request.body())
    image = await run_in_threadpool(tiles.compose_tile_set, sent)  # seconds of CPU: off the event loop
    return await caller.write(
        service.set_map,
        admin=_admin(caller),
        server_id=serverId,
        image=image,
        bounds=corners,
        tiles=True,
        now=caller.now(),
    )


def split_files(listing: str, body: bytes) -> dict[str, bytes]:
    """The files of a body sent as files one after another, named with their sizes in ``name:size,...``."""
    named: list[tuple[str, int]] = []
    for entry in listing.split(","):
        name, _colon, size = entry.strip().rpartition(":")
        if not name.strip() or not size.isdigit():
            named = []
            break
        named.append((name.strip(), int(size)))
    if not 1 <= len(named) <= MAX_TILE_FILES:
        raise InvalidInput(
            f"files is name:size,... for 1 to {MAX_TILE_FILES} files in the order they are sent.",
            {"files": "name:size,..."},
        )
    if sum(size for _name, size in named) != len(body):
        raise InvalidInput(
            "The file sizes do not add up to the body sent.", {"files": "sizes differ from the body"}
        )
    found: dict[str, bytes] = {}
    start = 0
    for name, length in named:
        found[name] = body[start : start + length]
        start += length
    return found


@servers.delete(SERVER + "/map", response_model=MapCleared)
async def clear_map(serverId: ServerId, caller: Admin) -> MapCleared:
    """Take the server's map image away."""
    return await caller.write(service.clear_map, admin=_admin(caller), server_id=serverId, now=caller.now())


@servers.put(POSTALS, response_model=PostalsSet)
async def upload_postals(body: PostalFile, caller: Admin) -> PostalsSet:
    """Replace the community's postal list with a FiveM postal file (``[{code, x, y}]``) as the body."""
    return await caller.write(service.set_postals, admin=_admin(caller), postal_list=body, now=caller.now())


# -- API keys --------------------------------------------------------------------------------------------


@servers.get(ADMIN + "/keys", response_model=KeyList)
async def list_keys(caller: Admin, revoked: Annotated[bool, Query()] = False) -> KeyList:
    """The community's API keys by label and prefix (``revoked=true``: revoked ones too)."""
    return await caller.read(service.list_keys, include_revoked=revoked)


@servers.post(ADMIN + "/keys", response_model=KeyCreated)
async def create_key(body: NewKey, caller: Admin) -> KeyCreated:
    """Issue an API key with a label; the whole key is in this answer only."""
    return await caller.write(service.create_key, admin=_admin(caller), label=body.label, now=caller.now())


@servers.delete(ADMIN + "/keys/{prefix}", response_model=KeyRevoked)
async def revoke_key(prefix: KeyPrefix, caller: Admin) -> KeyRevoked:
    """Revoke an active key by its listed prefix."""
    return await caller.write(service.revoke_key, admin=_admin(caller), prefix=prefix, now=caller.now())


# -- plan and limits -------------------------------------------------------------------------------------


@servers.get(ADMIN + "/limits", response_model=PlanAndLimits)
async def plan_and_limits(caller: Admin) -> PlanAndLimits:
    """The community's plan, API switch and each operation's rate limit."""
    return await caller.read(service.plan_and_limits)


@servers.patch(ADMIN + "/community", response_model=PlanAndLimits)
async def change_community(body: CommunityChange, caller: Admin) -> PlanAndLimits:
    """Change the community's plan or switch its API on or off."""
    return await caller.write(service.change_community, admin=_admin(caller), change=body, now=caller.now())


@servers.put(ADMIN + "/limits/{operation}", response_model=PlanAndLimits)
async def set_limit(operation: OperationName, body: LimitChange, caller: Admin) -> PlanAndLimits:
    """Override one operation's per-key requests per minute."""
    return await caller.write(
        service.set_limit,
        admin=_admin(caller),
        operation=operation,
        per_minute=body.perMinute,
        now=caller.now(),
    )


@servers.delete(ADMIN + "/limits/{operation}", response_model=PlanAndLimits)
async def clear_limit(operation: OperationName, caller: Admin) -> PlanAndLimits:
    """Drop the community's override: the operation's default applies again."""
    return await caller.write(
        service.clear_limit, admin=_admin(caller), operation=operation, now=caller.now()
    )
