"""The hub's methods at ``/apiWsHub``: a thin door onto the same key check and services as the API.

Each answers ``{success, error, count}`` as the websocket docs show; a refusal is an answer, not an error,
because the in-game resource reads ``success`` and logs ``error``.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.routing import BaseRoute

from opendispatch.api.auth import API_NOT_ENABLED, key_caller, lookup_key
from opendispatch.api.state import app_state
from opendispatch.communities.service import require_server
from opendispatch.errors import NotFound
from opendispatch.hub.protocol import HubConnection, hub_routes
from opendispatch.hub.sessions import SESSION, HubSession, PushSockets
from opendispatch.storage.database import StorageUnavailable
from opendispatch.units.positions import LivePositions, TargetCache
from opendispatch.units.schemas import LocationUpdate
from opendispatch.units.service import positions_of, units_on_server

HUB_PATH = "/apiWsHub"
BAD_CREDENTIALS = "Invalid community ID or API key."
# The websocket docs' limits and answer strings for unitLocation.
MAX_UPDATES = 25
MIN_INTERVAL_SECONDS = 0.2
# Calls are timed as they are handled, so a call that waited behind others makes the next one look early:
# one may come this much before its turn, while the rate over time stays one call per 200 ms (GCRA).
JITTER_SECONDS = 0.05
UNAUTHENTICATED = "Unauthenticated. Call authenticate first."
NO_UPDATES = "Missing unit location updates."
TOO_MANY = f"Too many unit updates in one call. Max is {MAX_UPDATES}."
TOO_FAST = "UNIT_LOCATION updates are limited to every 200ms."
BAD_UPDATE = "Each unit update requires identId, apiId, communityUserId, or roblox, and location."
DEFAULT_SERVER_ID = 1  # a connection authenticated without a server places units on server 1, as v1 does
# Bounds of the hub's connections; docs/api.md ("Limits") lists them. Each game server holds one socket
# (two for a moment while it reconnects), so a key's allowance covers a community of many servers.
MAX_CONNECTIONS = 800  # open sockets of one process: below the usual 1,024 descriptors, with room for HTTP
MAX_CONNECTIONS_PER_KEY = 50  # sockets authenticated with one API key in one process
AUTHENTICATE_WITHIN_SECONDS = 30.0  # a socket that has not authenticated by then is closed
KEY_ID = "key_id"  # the id of the key a connection authenticated with
NEXT_LOCATION_AT = "next_location_at"  # when the connection's next unitLocation is due
TARGETS = "targets"  # the connection's TargetCache


def answer(success: bool, error: str | None = None, count: int = 0) -> dict[str, Any]:
    """The documented answer of every hub method."""
    return {"success": success, "error": error, "count": count}


def push_sockets(connection: HubConnection) -> PushSockets:
    """This process's registry of push connections."""
    sockets: PushSockets = connection.websocket.app.state.push_sockets
    return sockets


def key_connections(connection: HubConnection) -> dict[int, set[HubConnection]]:
    """This process's authenticated connections by the id of the key they proved."""
    app_state_ = connection.websocket.app.state
    found: dict[int, set[HubConnection]] | None = getattr(app_state_, "hub_keys", None)
    if found is None:
        found = app_state_.hub_keys = {}
    return found


def _leave_key(connection: HubConnection) -> None:
    key_id = connection.state.pop(KEY_ID, None)
    if key_id is None:
        return
    keys = key_connections(connection)
    held = keys.get(key_id)
    if held is not None:
        held.discard(connection)
        if not held:
            del keys[key_id]


def is_authenticated(connection: HubConnection) -> bool:
    """Whether the connection has authenticated (it may stay open)."""
    return isinstance(connection.state.get(SESSION), HubSession)


def live_positions(connection: HubConnection) -> LivePositions:
    """This process's live unit positions."""
    positions: LivePositions = connection.websocket.app.state.positions
    return positions


async def authenticate(connection: HubConnection, arguments: list[Any]) -> dict[str, Any]:
    """``authenticatev2(communityId, apiKey, serverId?)``: the v2 key check; a server id asks for pushes."""
    community_id, api_key, server = [*arguments, None, None, None][:3]
    if not isinstance(community_id, str) or not isinstance(api_key, str) or not api_key:
        return answer(False, "Send communityId and apiKey as strings.")
    server_id = _server_id(server)
    if server is not None and server_id is None:
        return answer(False, "serverId must be a whole number.")
    state = app_state(connection.websocket)
    principal = await lookup_key(state, api_key)
    # The same answer for an unknown key and a key of another community: neither says which it was.
    if principal is None or principal.community_id != community_id:
        return answer(False, BAD_CREDENTIALS)
    if not principal.api_enabled:
        return answer(False, API_NOT_ENABLED)
    if server_id is not None:
        try:
            await key_caller(state, principal).read(require_server, server_id=server_id)
        except NotFound:
            return answer(False, f"Server {server_id} does not exist in this community.")
    held = key_connections(connection).setdefault(principal.key_id, set())
    if connection not in held and len(held) >= MAX_CONNECTIONS_PER_KEY:
        return answer(
            False,
            f"This API key has {len(held)} hub connections open, the most it may (hub connections per API "
            f"key: {MAX_CONNECTIONS_PER_KEY}); close one first.",
        )
    _leave_key(connection)
    key_connections(connection).setdefault(principal.key_id, set()).add(connection)
    connection.state[KEY_ID] = principal.key_id
    sockets = push_sockets(connection)
    sockets.remove(connection)  # authenticating again replaces what the connection was before
    connection.state[SESSION] = HubSession(community_id, api_key, server_id)
    if server_id is not None:
        sockets.add(community_id, server_id, connection)
        # Leased before the answer: the server's next event, even one just after, is already pending for
        # this socket rather than skipped for want of a push target.
        await sockets.lease(state.db, state.clock, arrived=(community_id, server_id))
    return answer(True)


def _server_id(value: Any) -> int | None:
    # The resource sends a number; a numeric string is taken too, as the HTTP doors take them.
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and 0 < value < 2**31:
        return value
    if isinstance(value, float) and value.is_integer() and 0 < value < 2**31:
        return int(value)
    if (
        isinstance(value, str)
        and value.isascii()
        and value.isdigit()
        and len(value) <= 10
        and 0 < int(value) < 2**31
    ):
        return int(value)
    return None


async def unit_location(connection: HubConnection, arguments: list[Any]) -> dict[str, Any]:
    """``unitLocation(updates)``: up to 25 positions of units on the authenticated server, all or none."""
    session = connection.state.get(SESSION)
    if not isinstance(session, HubSession):
        return answer(False, UNAUTHENTICATED)
    state = app_state(connection.websocket)
    principal = await lookup_key(state, session.api_key)
    if principal is None or principal.community_id != session.community_id:
        connection.state.pop(SESSION, None)  # the key was revoked since: authenticate again
        push_sockets(connection).remove(connection)
        _leave_key(connection)
        return answer(False, UNAUTHENTICATED)
    updates = arguments[0] if arguments else None
    if not isinstance(updates, list) or not updates:
        return answer(False, NO_UPDATES)
    if len(updates) > MAX_UPDATES:
        return answer(False, TOO_MANY)
    now = state.clock.monotonic()
    due = connection.state.get(NEXT_LOCATION_AT, now)
    if now < due - JITTER_SECONDS:
        return answer(False, TOO_FAST)
    connection.state[NEXT_LOCATION_AT] = max(due, now) + MIN_INTERVAL_SECONDS
    try:
        reports = [LocationUpdate.model_validate(update) for update in updates]
    except ValidationError:
        return answer(False, BAD_UPDATE)
    if not all(report.named() and report.location for report in reports):
        return answer(False, BAD_UPDATE)
    server_id = session.server_id or DEFAULT_SERVER_ID
    cache = connection.state.setdefault(TARGETS, TargetCache())
    learnt_at = state.clock.monotonic()
    keys = [report.key() for report in reports]
    unknown = {
        key: report for key, report in zip(keys, reports, strict=True) if cache.get(key, learnt_at) is None
    }
    if unknown:
        try:
            resolved = await key_caller(state, principal).read(
                units_on_server, server_id=server_id, batch=list(unknown.values())
            )
        except NotFound:
            return answer(False, f"Server {server_id} does not exist in this community.")
        except StorageUnavailable:
            return answer(False, "The server cannot store positions right now; send them again.")
        for key, idents in zip(unknown, resolved, strict=True):
            cache.put(key, idents, learnt_at)
    named = [cache.get(key, learnt_at) or [] for key in keys]
    # Only resolved here: the positions are saved in batches and streamed by units.positions.
    placed = positions_of(reports, named, state.clock.now_ms())
    live_positions(connection).placed(session.community_id, server_id, placed, saved=False)
    return answer(True, count=len(placed))


METHODS = {
    "authenticatev2": authenticate,
    "authenticate": authenticate,
    "unitLocation": unit_location,
}


def forget(connection: HubConnection) -> None:
    """A closed connection receives no more push events and counts no more against its key."""
    push_sockets(connection).remove(connection)
    _leave_key(connection)


def routes() -> list[BaseRoute]:
    """The hub's negotiation and WebSocket routes, bounded in connections and in time to authenticate."""
    return hub_routes(
        HUB_PATH,
        METHODS,
        on_close=forget,
        max_connections=MAX_CONNECTIONS,
        admitted=is_authenticated,
        admit_within=AUTHENTICATE_WITHIN_SECONDS,
    )
