"""The admins' servers, API keys, and plan and limits: each change made by its domain's service and
written to the audit log in the same transaction (never with a secret in it)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection

from opendispatch.admin.server_schemas import (
    MAX_DELIVERY_LOG,
    AdminServer,
    AdminServers,
    CommunityChange,
    DeliveryLog,
    KeyCreated,
    KeyList,
    KeyRevoked,
    MapCleared,
    OperationLimit,
    PlanAndLimits,
    PushTargetChange,
    PushTargetSet,
    PushTargetView,
    Redelivered,
    Redelivery,
    SecretRotated,
)
from opendispatch.admin.service import Actor, audit
from opendispatch.api.limits import DEFAULT_LIMITS
from opendispatch.communities import service as communities
from opendispatch.communities.schemas import MAX_RATE_LIMIT, Plan
from opendispatch.errors import InvalidInput, NotFound
from opendispatch.events import service as events
from opendispatch.events.schemas import ServerChange, ServerChanges
from opendispatch.maps import service as maps
from opendispatch.maps.schemas import PostalList, PostalsSet
from opendispatch.web import maps as map_images
from opendispatch.web.schemas import ConsoleUser, MapInfo

PREFIX_LENGTH = len(communities.KEY_PREFIX) + 4  # as keys are listed


def _audit(
    conn: Connection,
    admin: ConsoleUser,
    action: str,
    target: str,
    now: int,
    detail: dict[str, Any] | None = None,
) -> None:
    audit(conn, admin.community_id, Actor(admin.account_uuid, admin.username), action, target, detail, now)


def _shown_url(url: str) -> str:
    """A push URL as the audit log keeps it: without credentials or a query, which may hold a token."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


# -- servers ---------------------------------------------------------------------------------------------


def list_servers(conn: Connection, *, community_id: str) -> AdminServers:
    """Every server of the community with its heartbeat, push target (no secret) and map."""
    listed = events.server_settings(conn, community_id).servers
    keyed = {
        target.serverId: has_key
        for target, _secret, has_key in events.push_targets_with_keys(conn, community_id)
    }
    found = []
    for one in listed:
        beat = communities.server_heartbeat(conn, community_id=community_id, server_id=one.id)
        push = None
        if one.pushUrl is not None:
            push = PushTargetView(
                url=one.pushUrl,
                shape=one.pushShape,
                enabled=one.pushEnabled,
                receiverKey=keyed.get(one.id, False),
            )
        found.append(
            AdminServer(
                id=one.id,
                name=one.name,
                playerCount=beat.playerCount if beat else None,
                lastHeartbeat=beat.receivedAtUtc if beat else None,
                push=push,
                map=map_images.map_info(conn, community_id=community_id, server_id=one.id),
            )
        )
    return AdminServers(servers=found, postals=maps.postal_count(conn, community_id=community_id))


def admin_server(conn: Connection, *, community_id: str, server_id: int) -> AdminServer:
    """One server as the admin pages show it; 404 when the community has no such server."""
    communities.require_server(conn, community_id, server_id)
    [found] = [one for one in list_servers(conn, community_id=community_id).servers if one.id == server_id]
    return found


def rename_server(
    conn: Connection, *, community_id: str, admin: ConsoleUser, server_id: int, name: str, now: int
) -> AdminServer:
    """Give a server a new name (as `PUT /v2/general/servers` does)."""
    communities.require_server(conn, community_id, server_id)  # the v2 change would add a missing server
    name = name.strip()
    if not name:
        raise InvalidInput("A server needs a name.", {"name": "must not be empty"})
    events.change_server_settings(
        conn,
        community_id=community_id,
        changes=ServerChanges(servers=[ServerChange(id=server_id, name=name)]),
        now=now,
    )
    _audit(conn, admin, "server.rename", f"server {server_id}", now, {"name": name})
    return admin_server(conn, community_id=community_id, server_id=server_id)


def set_push_target(
    conn: Connection,
    *,
    community_id: str,
    admin: ConsoleUser,
    server_id: int,
    change: PushTargetChange,
    now: int,
) -> PushTargetSet:
    """Create or change a server's push target; a new one comes with its signing secret and an API key
    for the receiver to check events by, both shown this once."""
    communities.require_server(conn, community_id, server_id)
    if change.url is None and change.shape is None and change.enabled is None:
        raise InvalidInput("Nothing to change: give url, shape or enabled.", {"url": "nothing to change"})
    creating = not any(
        target.serverId == server_id
        for target, _secret, _key in events.push_targets_with_keys(conn, community_id)
    )
    target, secret = events.set_push_target(
        conn,
        community_id=community_id,
        server_id=server_id,
        now=now,
        url=change.url,
        shape=change.shape,
        enabled=change.enabled,
    )
    receiver_key = None
    if creating:
        # The receiver compares each event's key with its own API key: a new target gets one of its own.
        receiver_key = communities.create_api_key(
            conn, community_id=community_id, now=now, label=f"push receiver, server {server_id}"
        )
        events.set_push_target(
            conn, community_id=community_id, server_id=server_id, now=now, body_key=receiver_key
        )
    detail: dict[str, Any] = {"url": _shown_url(target.url), "shape": target.shape, "enabled": target.enabled}
    if receiver_key is not None:
        detail["receiverKey"] = receiver_key[:PREFIX_LENGTH]
    _audit(conn, admin, "push.create" if creating else "push.change", f"server {server_id}", now, detail)
    return PushTargetSet(
        server=admin_server(conn, community_id=community_id, server_id=server_id),
        signingSecret=secret if creating else None,
        receiverKey=receiver_key,
    )


def rotate_push_secret(
    conn: Connection, *, community_id: str, admin: ConsoleUser, server_id: int, now: int
) -> SecretRotated:
    """Give a server's push target a new signing secret, shown this once."""
    _target, secret = events.rotate_signing_secret(
        conn, community_id=community_id, server_id=server_id, now=now
    )
    _audit(conn, admin, "push.rotate_secret", f"server {server_id}", now)
    return SecretRotated(serverId=server_id, signingSecret=secret)


def delivery_log(conn: Connection, *, community_id: str, server_id: int, limit: int) -> DeliveryLog:
    """The server's newest delivery attempts, newest first."""
    communities.require_server(conn, community_id, server_id)
    if not 1 <= limit <= MAX_DELIVERY_LOG:
        raise InvalidInput(f"limit is 1 to {MAX_DELIVERY_LOG}.", {"limit": "out of range"})
    attempts = events.delivery_log(conn, community_id=community_id, server_id=server_id, limit=limit)
    return DeliveryLog(attempts=attempts)


def redeliver(
    conn: Connection,
    *,
    community_id: str,
    admin: ConsoleUser,
    server_id: int,
    redelivery: Redelivery,
    max_age_ms: int,
    now: int,
) -> Redelivered:
    """Queue one event of the server again, or every dead one of it."""
    communities.require_server(conn, community_id, server_id)
    if redelivery.eventId is not None:
        try:
            queued = events.redeliver(
                conn,
                community_id=community_id,
                now=now,
                max_age_ms=max_age_ms,
                event_id=redelivery.eventId,
                server_id=server_id,
            )
        except NotFound:
            raise NotFound(f"Server {server_id} has no event {redelivery.eventId}.") from None
    else:
        queued = events.redeliver(
            conn, community_id=community_id, now=now, max_age_ms=max_age_ms, server_id=server_id
        )
    what = {"eventId": redelivery.eventId} if redelivery.eventId is not None else {"dead": True}
    _audit(conn, admin, "push.redeliver", f"server {server_id}", now, {**what, "queued": len(queued)})
    return Redelivered(eventIds=queued)


def set_map(
    conn: Connection,
    *,
    community_id: str,
    admin: ConsoleUser,
    server_id: int,
    image: bytes,
    bounds: tuple[float, float, float, float],
    tiles: bool,
    now: int,
) -> MapInfo:
    """Give a server its map image (uploaded, or composed of the six map tiles) and its corners."""
    info = map_images.set_map(
        conn, community_id=community_id, server_id=server_id, image=image, bounds=bounds, now=now
    )
    detail = {"width": info.width, "height": info.height, "bounds": info.bounds, "tiles": tiles}
    _audit(conn, admin, "map.set", f"server {server_id}", now, detail)
    return info


def clear_map(
    conn: Connection, *, community_id: str, admin: ConsoleUser, server_id: int, now: int
) -> MapCleared:
    """Take a server's map image away."""
    if map_images.map_version(conn, community_id=community_id, server_id=server_id) is None:
        raise NotFound(f"Server {server_id} has no map image.")
    map_images.clear_map(conn, community_id=community_id, server_id=server_id)
    _audit(conn, admin, "map.clear", f"server {server_id}", now)
    return MapCleared(serverId=server_id)


def set_postals(
    conn: Connection, *, community_id: str, admin: ConsoleUser, postal_list: PostalList, now: int
) -> PostalsSet:
    """Replace the community's postal list with an uploaded postal file (as `PUT /v2/general/postals`)."""
    done = maps.set_postals(conn, community_id=community_id, postal_list=postal_list.postals)
    _audit(conn, admin, "postals.set", "postal list", now, {"postals": done.updated})
    return done


# -- API keys --------------------------------------------------------------------------------------------


def list_keys(conn: Connection, *, community_id: str, include_revoked: bool) -> KeyList:
    """The community's keys by label and prefix, oldest first."""
    return KeyList(
        keys=communities.list_api_keys(conn, community_id=community_id, include_revoked=include_revoked)
    )


def create_key(
    conn: Connection, *, community_id: str, admin: ConsoleUser, label: str, now: int
) -> KeyCreated:
    """Issue an API key with a label; the whole key is in this answer only."""
    api_key = communities.create_api_key(conn, community_id=community_id, now=now, label=label)
    prefix = api_key[:PREFIX_LENGTH]
    # Listed oldest first: the newest key with this prefix is the one just made.
    info = [
        one for one in communities.list_api_keys(conn, community_id=community_id) if one.prefix == prefix
    ][-1]
    _audit(conn, admin, "key.create", f"key {prefix}", now, {"label": info.label})
    return KeyCreated(apiKey=api_key, key=info)


def revoke_key(
    conn: Connection, *, community_id: str, admin: ConsoleUser, prefix: str, now: int
) -> KeyRevoked:
    """Revoke an active key by its listed prefix; a push target's copy of it is dropped too."""
    revoked = communities.revoke_api_key(conn, community_id=community_id, now=now, prefix=prefix)
    events.forget_revoked_key(conn, community_id=community_id, key_hash=revoked.key_hash)
    _audit(conn, admin, "key.revoke", f"key {revoked.info.prefix}", now, {"label": revoked.info.label})
    return KeyRevoked(key=revoked.info)


# -- plan and limits -------------------------------------------------------------------------------------


def plan_and_limits(conn: Connection, *, community_id: str) -> PlanAndLimits:
    """The community's plan and API switch, and each operation's default, override and effective limit."""
    summary = communities.community_summary(conn, community_id)
    overrides = communities.rate_limit_overrides(conn, community_id)
    return PlanAndLimits(
        plan=summary.plan,
        plans=[plan.name for plan in Plan],
        apiEnabled=summary.apiEnabled,
        maxPerMinute=MAX_RATE_LIMIT,
        limits=[
            OperationLimit(
                operation=name,
                default=default,
                override=overrides.get(name),
                perMinute=overrides.get(name, default),
            )
            for name, default in sorted(DEFAULT_LIMITS.items())
        ],
    )


def change_community(
    conn: Connection, *, community_id: str, admin: ConsoleUser, change: CommunityChange, now: int
) -> PlanAndLimits:
    """Change the community's plan or switch its API on or off."""
    if change.plan is None and change.apiEnabled is None:
        raise InvalidInput("Nothing to change: give plan or apiEnabled.", {"plan": "nothing to change"})
    before = communities.community_summary(conn, community_id)
    after = communities.change_community(
        conn,
        community_id=community_id,
        plan=Plan[change.plan] if change.plan is not None else None,
        api_enabled=change.apiEnabled,
    )
    # What changed, as the page sends both fields whichever the admin touched.
    detail = {
        field: getattr(after, field)
        for field in ("plan", "apiEnabled")
        if getattr(after, field) != getattr(before, field)
    }
    _audit(conn, admin, "community.set", "community", now, detail)
    return plan_and_limits(conn, community_id=community_id)


def set_limit(
    conn: Connection, *, community_id: str, admin: ConsoleUser, operation: str, per_minute: int, now: int
) -> PlanAndLimits:
    """Override one operation's per-key limit for the community."""
    communities.set_rate_limit(conn, community_id=community_id, endpoint=operation, per_minute=per_minute)
    _audit(conn, admin, "limit.set", f"limit {operation}", now, {"perMinute": per_minute})
    return plan_and_limits(conn, community_id=community_id)


def clear_limit(
    conn: Connection, *, community_id: str, admin: ConsoleUser, operation: str, now: int
) -> PlanAndLimits:
    """Drop the community's override of one operation's limit: the default applies again."""
    if not communities.clear_rate_limit(conn, community_id=community_id, endpoint=operation):
        raise NotFound(f"The limit of {operation} is not overridden.")
    _audit(conn, admin, "limit.clear", f"limit {operation}", now, {"default": DEFAULT_LIMITS[operation]})
    return plan_and_limits(conn, community_id=community_id)
