"""Rules of tenancy: creating communities, servers and keys, and finding the community behind a key."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from opendispatch.api.limits import DEFAULT_LIMITS
from opendispatch.clock import iso_utc
from opendispatch.communities.models import api_keys, communities, rate_limits, server_configs, servers
from opendispatch.communities.schemas import (
    MAX_KEY_LABEL,
    MAX_RATE_LIMIT,
    ApiKeyInfo,
    Callouts,
    CalloutsSet,
    CommunityDetails,
    CommunitySummary,
    HeartbeatReceived,
    Info,
    NewCommunity,
    PagerConfig,
    PagerConfigChange,
    Plan,
    Principal,
    Server,
    ServerAck,
    ServerConfiguration,
    Stations,
    StreetSignConfig,
    StreetSignConfigSet,
    StreetSignsUpdated,
    StreetSignUpdate,
)
from opendispatch.errors import Conflict, InvalidInput, NotFound
from opendispatch.storage import counters
from opendispatch.storage.counters import Taken
from opendispatch.storage.statements import Prepared
from opendispatch.web.models import console_sessions

KEY_PREFIX = "od_"
MAX_SERVERS = 100  # per community

# Hot-path statements are built once: building a statement costs more than running it.
_ACTIVE_KEY = (
    select(
        api_keys.c.id,
        api_keys.c.key_hash,
        communities.c.community_id,
        communities.c.plan,
        communities.c.api_enabled,
        communities.c.disabled_at,
        api_keys.c.last_used_at,
    )
    .join(communities, communities.c.community_id == api_keys.c.community_id)
    .where(api_keys.c.key_hash == bindparam("digest"), api_keys.c.revoked_at.is_(None))
)
_LIMIT_OVERRIDES = select(rate_limits.c.endpoint, rate_limits.c.per_minute).where(
    rate_limits.c.community_id == bindparam("community_id")
)
_SERVER = Prepared(
    select(servers.c.server_id).where(
        servers.c.community_id == bindparam("community_id"), servers.c.server_id == bindparam("server_id")
    )
)
_NEXT_CALL_ID = Prepared(
    update(communities)
    .where(communities.c.community_id == bindparam("for_community"))
    .values(last_call_id=communities.c.last_call_id + 1)
    .returning(communities.c.last_call_id)
)
_STORE_CALL_ID = Prepared(
    update(communities)
    .where(communities.c.community_id == bindparam("for_community"))
    .values(last_call_id=bindparam("value"))
)


def hash_secret(secret: str) -> str:
    """SHA-256 of a long random secret (API key, account secret); stored instead of the secret."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def create_community(
    conn: Connection, *, name: str, now: int, servers_count: int = 1, plan: Plan = Plan.PRO
) -> NewCommunity:
    """Create a community with ``servers_count`` servers (1, 2, …) and its first API key."""
    if not name.strip():
        raise InvalidInput("A community needs a name.", {"name": "must not be empty"})
    if servers_count < 1:
        raise InvalidInput("A community needs at least one server.", {"servers": "must be 1 or more"})
    community_id = secrets.token_hex(6)
    conn.execute(
        insert(communities).values(
            community_id=community_id,
            name=name.strip(),
            plan=int(plan),
            api_enabled=True,
            last_call_id=0,
            created_at=now,
        )
    )
    server_ids = [add_server(conn, community_id=community_id, now=now) for _ in range(servers_count)]
    api_key = create_api_key(conn, community_id=community_id, now=now)
    return NewCommunity(community_id=community_id, api_key=api_key, servers=server_ids)


def require_community(conn: Connection, community_id: str) -> None:
    """Raise NotFound unless the community exists."""
    found = conn.execute(
        select(communities.c.community_id).where(communities.c.community_id == community_id)
    ).first()
    if found is None:
        raise NotFound(f"Community {community_id!r} does not exist.")


def add_server(
    conn: Connection, *, community_id: str, now: int, name: str | None = None, server_id: int | None = None
) -> int:
    """Add a server (the community's next id unless ``server_id`` names one) and return its id."""
    require_community(conn, community_id)
    count, highest = conn.execute(
        select(func.count(), func.max(servers.c.server_id)).where(servers.c.community_id == community_id)
    ).one()
    if count >= MAX_SERVERS:
        raise InvalidInput(
            f"A community has at most {MAX_SERVERS} servers.", {"servers": f"at most {MAX_SERVERS}"}
        )
    if server_id is None:
        server_id = (highest or 0) + 1
    conn.execute(
        insert(servers).values(
            community_id=community_id,
            server_id=server_id,
            name=name or f"Server {server_id}",
            closed_call_count=0,
            created_at=now,
        )
    )
    return server_id


def require_server(conn: Connection, community_id: str, server_id: int) -> None:
    """Raise NotFound unless the community has this server."""
    found = _SERVER.run(conn, {"community_id": community_id, "server_id": server_id}).fetchone()
    if found is None:
        raise NotFound(f"Server {server_id} does not exist.")


def list_servers(conn: Connection, community_id: str) -> list[Server]:
    """The community's servers in id order."""
    rows = conn.execute(
        select(servers.c.server_id, servers.c.name)
        .where(servers.c.community_id == community_id)
        .order_by(servers.c.server_id)
    )
    return [Server(id=row.server_id, name=row.name) for row in rows]


def _label(label: str | None) -> str | None:
    if label is None or not label.strip():
        return None
    if len(label.strip()) > MAX_KEY_LABEL:
        raise InvalidInput(
            f"A key label is at most {MAX_KEY_LABEL} characters.", {"label": f"at most {MAX_KEY_LABEL}"}
        )
    return label.strip()


def create_api_key(conn: Connection, *, community_id: str, now: int, label: str | None = None) -> str:
    """Issue a new API key; only its hash is kept, so this is the one time it is seen."""
    require_community(conn, community_id)
    api_key = _new_api_key()
    conn.execute(
        insert(api_keys).values(
            community_id=community_id,
            key_hash=hash_secret(api_key),
            prefix=api_key[: len(KEY_PREFIX) + 4],
            created_at=now,
            label=_label(label),
        )
    )
    return api_key


def _key_info(row: Any) -> ApiKeyInfo:
    return ApiKeyInfo(
        prefix=row.prefix,
        label=row.label,
        created=iso_utc(row.created_at),
        lastUsed=iso_utc(row.last_used_at) if row.last_used_at is not None else None,
        revoked=iso_utc(row.revoked_at) if row.revoked_at is not None else None,
    )


def list_api_keys(conn: Connection, *, community_id: str, include_revoked: bool = False) -> list[ApiKeyInfo]:
    """The community's keys, oldest first, as their prefix and label (a key is never kept to show)."""
    require_community(conn, community_id)
    query = select(api_keys).where(api_keys.c.community_id == community_id)
    if not include_revoked:
        query = query.where(api_keys.c.revoked_at.is_(None))
    return [_key_info(row) for row in conn.execute(query.order_by(api_keys.c.created_at, api_keys.c.id))]


@dataclass(frozen=True, slots=True)
class RevokedKey:
    """A key just revoked: how it is listed, and its hash (to drop its readable copies elsewhere)."""

    info: ApiKeyInfo
    key_hash: str


def revoke_api_key(
    conn: Connection,
    *,
    community_id: str,
    now: int,
    api_key: str | None = None,
    prefix: str | None = None,
    label: str | None = None,
) -> RevokedKey:
    """Revoke one of the community's active keys, named by the key, its listed prefix or its label.

    A prefix or label that names several active keys is refused, and nothing is revoked.
    """
    if sum(given is not None for given in (api_key, prefix, label)) != 1:
        raise InvalidInput("Name the key by exactly one of key, prefix or label.", {"key": "exactly one"})
    active = select(api_keys).where(api_keys.c.community_id == community_id, api_keys.c.revoked_at.is_(None))
    if api_key is not None:
        rows = conn.execute(active.where(api_keys.c.key_hash == hash_secret(api_key))).all()
        if not rows:
            raise NotFound("That key is not an active key of this community.")
    else:
        require_community(conn, community_id)
        if prefix is not None:
            wanted = prefix.strip()
            if not wanted or len(wanted) > len(KEY_PREFIX) + 4:
                raise InvalidInput(
                    f"A key prefix is 1 to {len(KEY_PREFIX) + 4} characters, as `key list` shows it.",
                    {"prefix": f"1 to {len(KEY_PREFIX) + 4} characters"},
                )
            # Compared as text, not LIKE: SQLite's LIKE ignores case, and keys do not.
            starts = func.substr(api_keys.c.prefix, 1, len(wanted)) == wanted
            rows = conn.execute(active.where(starts)).all()
            named = f"prefix {wanted!r}"
        else:
            wanted = (label or "").strip()
            rows = conn.execute(active.where(api_keys.c.label == wanted)).all()
            named = f"label {wanted!r}"
        if not rows:
            raise NotFound(f"No active key of this community has the {named}.")
        if len(rows) > 1:
            listed = ", ".join(row.prefix for row in rows)
            raise Conflict(f"The {named} names {len(rows)} active keys ({listed}); name one of them.")
    [row] = rows
    conn.execute(update(api_keys).where(api_keys.c.id == row.id).values(revoked_at=now))
    revoked = _key_info(row).model_copy(update={"revoked": iso_utc(now)})
    return RevokedKey(info=revoked, key_hash=row.key_hash)


TOUCH_EVERY_MS = 60_000


def touch_api_key(conn: Connection, *, key_id: int, now: int) -> None:
    """Record that a key was used, unless that was recorded less than a minute ago."""
    conn.execute(
        update(api_keys)
        .where(
            api_keys.c.id == key_id,
            or_(api_keys.c.last_used_at.is_(None), api_keys.c.last_used_at <= now - TOUCH_EVERY_MS),
        )
        .values(last_used_at=now)
    )


def require_active_key(conn: Connection, *, community_id: str, api_key: str) -> None:
    """Raise NotFound unless ``api_key`` is an active key of this community."""
    principal = authenticate(conn, api_key)
    if principal is None or principal.community_id != community_id:
        raise NotFound("That key is not an active key of this community.")


def authenticate(conn: Connection, api_key: str) -> Principal | None:
    """The principal behind an active API key, or None."""
    digest = hash_secret(api_key)
    row = conn.execute(_ACTIVE_KEY, {"digest": digest}).first()
    # The lookup is by hash, so timing tells nothing of the key; compare_digest guards the match itself.
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        return None
    overrides = conn.execute(_LIMIT_OVERRIDES, {"community_id": row.community_id})
    return Principal(
        community_id=row.community_id,
        key_id=row.id,
        plan=row.plan,
        # A disabled community's keys answer as for a switched-off API.
        api_enabled=row.api_enabled and row.disabled_at is None,
        limits={endpoint: per_minute for endpoint, per_minute in overrides},
        last_used_at=row.last_used_at,
    )


def _require_endpoint(endpoint: str) -> None:
    if endpoint not in DEFAULT_LIMITS:
        names = ", ".join(sorted(DEFAULT_LIMITS))
        raise InvalidInput(f"Unknown endpoint {endpoint!r}; one of: {names}.", {"endpoint": "unknown"})


def set_rate_limit(conn: Connection, *, community_id: str, endpoint: str, per_minute: int) -> None:
    """Override one endpoint's per-key limit for a community."""
    _require_endpoint(endpoint)
    if per_minute < 1:
        raise InvalidInput("A limit is at least 1 request per minute.", {"perMinute": "must be 1 or more"})
    if per_minute > MAX_RATE_LIMIT:
        raise InvalidInput(
            f"A limit is at most {MAX_RATE_LIMIT} requests per minute.",
            {"perMinute": f"at most {MAX_RATE_LIMIT}"},
        )
    require_community(conn, community_id)
    changed = conn.execute(
        update(rate_limits)
        .where(rate_limits.c.community_id == community_id, rate_limits.c.endpoint == endpoint)
        .values(per_minute=per_minute)
    )
    if changed.rowcount == 0:
        conn.execute(
            insert(rate_limits).values(community_id=community_id, endpoint=endpoint, per_minute=per_minute)
        )


def clear_rate_limit(conn: Connection, *, community_id: str, endpoint: str) -> bool:
    """Drop a community's override of one endpoint's limit (the default applies again); False if none."""
    _require_endpoint(endpoint)
    require_community(conn, community_id)
    dropped = conn.execute(
        delete(rate_limits).where(
            rate_limits.c.community_id == community_id, rate_limits.c.endpoint == endpoint
        )
    )
    return dropped.rowcount > 0


def rate_limit_overrides(conn: Connection, community_id: str) -> dict[str, int]:
    """The community's own per-minute limits, by endpoint (the defaults apply to the rest)."""
    require_community(conn, community_id)
    rows = conn.execute(_LIMIT_OVERRIDES, {"community_id": community_id})
    return {endpoint: per_minute for endpoint, per_minute in rows}


def effective_limits(conn: Connection, community_id: str | None) -> dict[str, int]:
    """Each endpoint's per-minute limit: the defaults, overridden by the community's own."""
    limits = dict(DEFAULT_LIMITS)
    if community_id is not None:
        require_community(conn, community_id)
        rows = conn.execute(
            select(rate_limits.c.endpoint, rate_limits.c.per_minute).where(
                rate_limits.c.community_id == community_id
            )
        )
        limits.update({endpoint: per_minute for endpoint, per_minute in rows})
    return limits


# -- the operator's view: listing, changing and disabling communities ------------------------------------


def _summaries(conn: Connection, community_id: str | None) -> list[CommunitySummary]:
    server_count = (
        select(func.count())
        .select_from(servers)
        .where(servers.c.community_id == communities.c.community_id)
        .scalar_subquery()
    )
    key_count = (
        select(func.count())
        .select_from(api_keys)
        .where(api_keys.c.community_id == communities.c.community_id, api_keys.c.revoked_at.is_(None))
        .scalar_subquery()
    )
    query = select(communities, server_count.label("server_count"), key_count.label("key_count"))
    if community_id is not None:
        query = query.where(communities.c.community_id == community_id)
    return [
        CommunitySummary(
            communityId=row.community_id,
            name=row.name,
            plan=Plan(row.plan).name,
            apiEnabled=row.api_enabled,
            disabled=row.disabled_at is not None,
            disabledAt=iso_utc(row.disabled_at) if row.disabled_at is not None else None,
            created=iso_utc(row.created_at),
            servers=row.server_count,
            activeKeys=row.key_count,
        )
        for row in conn.execute(query.order_by(communities.c.created_at, communities.c.community_id))
    ]


def list_communities(conn: Connection) -> list[CommunitySummary]:
    """Every community of this server, oldest first."""
    return _summaries(conn, None)


def community_summary(conn: Connection, community_id: str) -> CommunitySummary:
    """One community as the operator sees it."""
    found = _summaries(conn, community_id)
    if not found:
        raise NotFound(f"Community {community_id!r} does not exist.")
    return found[0]


def change_community(
    conn: Connection,
    *,
    community_id: str,
    name: str | None = None,
    plan: Plan | None = None,
    api_enabled: bool | None = None,
) -> CommunitySummary:
    """Rename a community, change its plan or switch its API; what is not given stays."""
    values: dict[str, Any] = {}
    if name is not None:
        if not name.strip():
            raise InvalidInput("A community needs a name.", {"name": "must not be empty"})
        if len(name.strip()) > 255:
            raise InvalidInput("A community name is at most 255 characters.", {"name": "at most 255"})
        values["name"] = name.strip()
    if plan is not None:
        values["plan"] = int(plan)
    if api_enabled is not None:
        values["api_enabled"] = api_enabled
    require_community(conn, community_id)
    if values:
        conn.execute(update(communities).where(communities.c.community_id == community_id).values(**values))
    return community_summary(conn, community_id)


def set_community_disabled(
    conn: Connection, *, community_id: str, disabled: bool, now: int
) -> CommunitySummary:
    """Disable a community (its keys refused, its console sessions ended and logins refused) or enable it."""
    require_community(conn, community_id)
    conn.execute(
        update(communities)
        .where(communities.c.community_id == community_id)
        .values(disabled_at=now if disabled else None)
    )
    if disabled:
        conn.execute(delete(console_sessions).where(console_sessions.c.community_id == community_id))
    return community_summary(conn, community_id)


def has_communities(conn: Connection) -> bool:
    """Whether any community exists yet (the first start creates one)."""
    return conn.execute(select(communities.c.community_id).limit(1)).first() is not None


def next_call_id(conn: Connection, community_id: str) -> int:
    """Hand out the community's next call id; ids are never reused, whatever happens to the call."""
    (call_id,) = ask_call_id(conn, community_id).row()
    return int(call_id)


def ask_call_id(conn: Connection, community_id: str) -> Taken:
    """Take the community's next call id, read later with ``.row()``.

    Asked and read apart, so a create can ask for its event number in between: on PostgreSQL both
    answers then come back in one round trip. In a batch, only the first take runs a statement.
    """
    params = {"for_community": community_id}
    return counters.take(conn, ("call_id", community_id), _NEXT_CALL_ID, params, _STORE_CALL_ID)


class KeyCache:
    """Remembers recently seen keys for a few seconds, so a request costs no key lookup.

    A key revoked (or a limit changed) from the CLI takes effect within ``ttl`` seconds; 0 turns it off.
    """

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, Principal | None]] = {}

    def get(self, api_key: str, now: float) -> tuple[bool, Principal | None]:
        """(found, principal): a cached None means a known-bad key, which is cached too."""
        entry = self._entries.get(api_key)
        if entry is None or entry[0] <= now:
            return False, None
        return True, entry[1]

    def put(self, api_key: str, principal: Principal | None, now: float) -> None:
        """Remember the outcome of a lookup until ``now + ttl``."""
        if self.ttl <= 0:
            return
        if len(self._entries) >= 10_000:
            self._entries = {key: entry for key, entry in self._entries.items() if entry[0] > now}
            if len(self._entries) >= 10_000:  # a flood of distinct bad keys: start over
                self._entries.clear()
        self._entries[api_key] = (now + self.ttl, principal)


# -- general information, heartbeat and per-server configuration ----------------------------------------


def community_info(conn: Connection, community_id: str) -> Info:
    """The community's id, name and shared codes, as ``GET /v2/general/info`` answers them."""
    name = conn.execute(
        select(communities.c.name).where(communities.c.community_id == community_id)
    ).scalar_one()
    # Self-hosted: times are UTC, the console is the login page, and no shared code lists are kept.
    details = CommunityDetails(comId=community_id, name=name, timezone="UTC", customLoginUrl=None)
    return Info(uuid=community_id, community=details, codes=[])


def record_heartbeat(
    conn: Connection, *, community_id: str, server_id: int, player_count: int, now: int
) -> HeartbeatReceived:
    """Store a server's player count and when it reported it."""
    changed = conn.execute(
        update(servers)
        .where(servers.c.community_id == community_id, servers.c.server_id == server_id)
        .values(player_count=player_count, heartbeat_at=now)
    )
    if changed.rowcount == 0:
        raise NotFound(f"Server {server_id} does not exist.")
    return HeartbeatReceived(serverId=server_id, playerCount=player_count, receivedAtUtc=iso_utc(now))


def server_heartbeat(conn: Connection, *, community_id: str, server_id: int) -> HeartbeatReceived | None:
    """The server's last heartbeat, or None when it never sent one."""
    row = conn.execute(
        select(servers.c.player_count, servers.c.heartbeat_at).where(
            servers.c.community_id == community_id, servers.c.server_id == server_id
        )
    ).first()
    if row is None:
        raise NotFound(f"Server {server_id} does not exist.")
    if row.heartbeat_at is None:
        return None
    return HeartbeatReceived(
        serverId=server_id, playerCount=row.player_count, receivedAtUtc=iso_utc(row.heartbeat_at)
    )


STATIONS, CALLOUTS, STREET_SIGNS, PAGER = "stations", "callouts", "street_signs", "pager"


def _stored_config(conn: Connection, community_id: str, server_id: int, kind: str) -> Any:
    body = conn.execute(
        select(server_configs.c.body).where(
            server_configs.c.community_id == community_id,
            server_configs.c.server_id == server_id,
            server_configs.c.kind == kind,
        )
    ).scalar()
    return None if body is None else orjson.loads(body)


def _store_config(
    conn: Connection, community_id: str, server_id: int, kind: str, value: Any, now: int
) -> None:
    require_server(conn, community_id, server_id)
    body = orjson.dumps(value).decode()
    # One statement, so two processes storing at once never both insert (the second would be refused).
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    upsert = dialect.insert(server_configs).values(
        community_id=community_id, server_id=server_id, kind=kind, body=body, updated_at=now
    )
    conn.execute(
        upsert.on_conflict_do_update(
            index_elements=[server_configs.c.community_id, server_configs.c.server_id, server_configs.c.kind],
            set_={"body": body, "updated_at": now},
        )
    )


def set_stations(
    conn: Connection, *, community_id: str, server_id: int, stations: Stations, now: int
) -> ServerAck:
    """Replace the server's station alert configuration."""
    _store_config(conn, community_id, server_id, STATIONS, stations.model_dump(), now)
    return ServerAck(serverId=server_id)


def set_callouts(
    conn: Connection, *, community_id: str, server_id: int, callouts: Callouts, now: int
) -> CalloutsSet:
    """Replace the server's ERS callouts."""
    _store_config(conn, community_id, server_id, CALLOUTS, callouts.model_dump()["callouts"], now)
    return CalloutsSet(serverId=server_id, callouts=len(callouts.callouts))


def set_street_sign_config(
    conn: Connection, *, community_id: str, server_id: int, config: StreetSignConfig, now: int
) -> StreetSignConfigSet:
    """Replace every street sign of the server."""
    signs = list({sign.id: sign.model_dump() for sign in config.signs}.values())  # a repeated id: the last
    _store_config(conn, community_id, server_id, STREET_SIGNS, signs, now)
    return StreetSignConfigSet(serverId=server_id, signs=len(signs))


def update_street_signs(
    conn: Connection, *, community_id: str, server_id: int, change: StreetSignUpdate, now: int
) -> StreetSignsUpdated:
    """Set the text of the configured signs named; 404 when none of them is configured."""
    require_server(conn, community_id, server_id)
    signs: list[dict[str, Any]] = _stored_config(conn, community_id, server_id, STREET_SIGNS) or []
    wanted = set(change.ids)
    texts = change.model_dump(include={"text1", "text2", "text3"}, exclude_none=True)
    updated = []
    for sign in signs:
        if sign["id"] in wanted:
            sign.update(texts)
            updated.append(sign["id"])
    if not updated:
        raise NotFound("None of those street signs is configured on this server.")
    _store_config(conn, community_id, server_id, STREET_SIGNS, signs, now)
    return StreetSignsUpdated(ids=updated)


def get_pager_config(conn: Connection, *, community_id: str, server_id: int) -> PagerConfig:
    """The server's pager configuration; the docs' defaults until one is set."""
    require_server(conn, community_id, server_id)
    stored = _stored_config(conn, community_id, server_id, PAGER)
    return PagerConfig.model_validate(stored) if stored is not None else PagerConfig()


def set_pager_config(
    conn: Connection, *, community_id: str, server_id: int, change: PagerConfigChange, now: int
) -> ServerAck:
    """Replace the server's pager configuration; without ``nodes`` the stored node tree stays."""
    current = get_pager_config(conn, community_id=community_id, server_id=server_id)
    config = PagerConfig(
        natureWords=change.natureWords,
        maxAddresses=change.maxAddresses,
        maxBodyLength=change.maxBodyLength,
        nodes=current.nodes if change.nodes is None else change.nodes,
        perms=change.perms.model_dump() if change.perms is not None else {"roles": [], "players": []},
    )
    _store_config(conn, community_id, server_id, PAGER, config.model_dump(), now)
    return ServerAck(serverId=server_id)


def server_configuration(conn: Connection, *, community_id: str, server_id: int) -> ServerConfiguration:
    """Everything the in-game resource stored for the server (None where it sent nothing)."""
    require_server(conn, community_id, server_id)
    return ServerConfiguration(
        stations=_stored_config(conn, community_id, server_id, STATIONS),
        callouts=_stored_config(conn, community_id, server_id, CALLOUTS),
        streetSigns=_stored_config(conn, community_id, server_id, STREET_SIGNS),
        pager=_stored_config(conn, community_id, server_id, PAGER),
    )
