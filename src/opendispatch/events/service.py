"""Rules of push events: emitting with a change, push targets, the delivery log and redelivery."""

from __future__ import annotations

import base64
import random
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import orjson
from sqlalchemy import Connection, Row, and_, bindparam, case, delete, func, insert, null, or_, select, update

from opendispatch.clock import iso_utc
from opendispatch.communities.models import servers
from opendispatch.communities.service import add_server, hash_secret, require_server
from opendispatch.errors import InvalidInput, NotFound
from opendispatch.events.models import delivery_attempts, events, hub_receivers, push_targets
from opendispatch.events.schemas import (
    SERVER_COLUMNS,
    DeliveryAttempt,
    EventType,
    PushTarget,
    ServerChanges,
    ServerSettings,
    ServerSettingsList,
    Shape,
)
from opendispatch.storage import counters
from opendispatch.storage.counters import Taken
from opendispatch.storage.database import announce, notify
from opendispatch.storage.statements import Prepared, insert_row

_EMIT = Prepared(insert_row(events))
# Numbering and the push target's state in one statement: a create is one round trip shorter.
_NEXT_SEQ = Prepared(
    update(servers)
    .where(servers.c.community_id == bindparam("community_id"), servers.c.server_id == bindparam("server_id"))
    .values(last_event_seq=servers.c.last_event_seq + 1)
    .returning(
        servers.c.last_event_seq,
        select(push_targets.c.enabled)
        .where(
            push_targets.c.community_id == bindparam("community_id"),
            push_targets.c.server_id == bindparam("server_id"),
        )
        .scalar_subquery(),
        # A hub socket takes the server's events too (a lapsed lease is skipped by the worker).
        select(hub_receivers.c.holder)
        .where(
            hub_receivers.c.community_id == bindparam("community_id"),
            hub_receivers.c.server_id == bindparam("server_id"),
        )
        .limit(1)
        .scalar_subquery(),
    )
)
_STORE_SEQ = Prepared(
    update(servers)
    .where(servers.c.community_id == bindparam("community_id"), servers.c.server_id == bindparam("server_id"))
    .values(last_event_seq=bindparam("value"))
)

# The counters (storage.counters) of event numbers: (_NUMBERS, community id, server id).
_NUMBERS = "event_number"

# Commit topics (storage.database.announce): the streams read the servers announced, the worker its
# deliveries. On PostgreSQL the same news goes to the other server processes as NOTIFY on these channels.
NEW_EVENTS = "events"
NEW_DELIVERIES = "deliveries"
EVENTS_CHANNEL = "opendispatch_events"
DELIVERIES_CHANNEL = "opendispatch_deliveries"
# Live unit positions (units.positions): frames of one process for the others' streams.
POSITIONS_CHANNEL = "opendispatch_positions"


def ask_number(conn: Connection, *, community_id: str, server_id: int) -> Taken:
    """Number the server's next event (and see whether it is to be pushed); ``emit`` reads it.

    Numbering locks the server's row until the commit: its events commit in the order of their numbers.
    The row is None if the community has no such server.
    """
    params = {"community_id": community_id, "server_id": server_id}
    return counters.take(conn, (_NUMBERS, community_id, server_id), _NEXT_SEQ, params, _STORE_SEQ)


def _renumber(conn: Connection, *servers_: str | int) -> None:
    """Have the next ``ask_number`` read the push state again (it changes): of one server, or of all."""
    counters.release(conn, (_NUMBERS, *servers_))


# Event ids only need to be unique (receivers deduplicate by them), not secret: drawn from a generator
# seeded by the OS, not by a system call per event as secrets would.
_uids = random.Random(secrets.token_bytes(32))


def emit(
    conn: Connection,
    *,
    community_id: str,
    server_id: int,
    type: EventType,
    data: Mapping[str, Any],
    now: int,
    push: bool = True,
    number: Taken | None = None,
) -> None:
    """Write an event in the same transaction as the change it reports (the outbox).

    ``number`` is the server's ``ask_number`` if the caller asked already. Whether the event is to be
    pushed is decided now, by the server's push target: a target set later receives events from then on.
    ``push=False`` keeps it to the live streams.
    """
    if number is None:
        number = ask_number(conn, community_id=community_id, server_id=server_id)
    seq, enabled, socket = number.row()
    # enabled is None: the server has no push target; socket is None: no hub connection takes its events.
    deliver = push and (bool(enabled) or socket is not None)
    _EMIT.defer(
        conn,
        {
            "seq": seq,
            "lease_until": None,
            "uid": f"msg_{_uids.getrandbits(96):024x}",
            "community_id": community_id,
            "server_id": server_id,
            "type": type.value,
            "data": orjson.dumps(data).decode(),
            "created_at": now,
            "state": "pending" if deliver else "skipped",
            "attempts": 0,
            "next_attempt_at": now,
            "deadline_at": None,
            "finished_at": None if deliver else now,
        },
    )
    announce(conn, NEW_EVENTS, (community_id, server_id))
    if deliver:
        announce(conn, NEW_DELIVERIES)
    # On PostgreSQL, sent at the commit to every process listening (this one included).
    notify(conn, EVENTS_CHANNEL, f"{community_id}\t{server_id}")
    if deliver:
        notify(conn, DELIVERIES_CHANNEL, "")


# -- push targets ------------------------------------------------------------------------------------


def new_signing_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _check_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        valid = parts.scheme in {"http", "https"} and bool(parts.hostname)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        valid = False
    if not valid:
        raise InvalidInput(
            f"{url!r} is not an http(s) URL.", {"pushUrl": "an http:// or https:// URL with a host"}
        )
    return url


def set_push_target(
    conn: Connection,
    *,
    community_id: str,
    server_id: int,
    now: int,
    url: str | None = None,
    shape: Shape | None = None,
    enabled: bool | None = None,
    body_key: str | None = None,
) -> tuple[PushTarget, str]:
    """Create or change a server's push target; returns it with its signing secret."""
    require_server(conn, community_id, server_id)
    _renumber(conn, community_id, server_id)
    where = and_(push_targets.c.community_id == community_id, push_targets.c.server_id == server_id)
    current = conn.execute(select(push_targets).where(where)).first()
    values: dict[str, Any] = {"updated_at": now}
    if url is not None:
        values["url"] = _check_url(url)
    if shape is not None:
        values["shape"] = shape
    if enabled is not None:
        values["enabled"] = enabled
    if body_key is not None:
        values["body_key"] = body_key
    if current is None:
        if url is None:
            raise InvalidInput("A push target needs a URL.", {"pushUrl": "required for a new push target"})
        values.setdefault("shape", "array")
        values.setdefault("enabled", True)
        conn.execute(
            insert(push_targets).values(
                community_id=community_id,
                server_id=server_id,
                signing_secret=new_signing_secret(),
                **values,
            )
        )
    else:
        conn.execute(update(push_targets).where(where).values(**values))
    row = conn.execute(select(push_targets).where(where)).one()
    return _target(row), row.signing_secret


def rotate_signing_secret(
    conn: Connection, *, community_id: str, server_id: int, now: int
) -> tuple[PushTarget, str]:
    """Give a server's push target a new signing secret (the old one stops verifying); 404 without one."""
    require_server(conn, community_id, server_id)
    where = and_(push_targets.c.community_id == community_id, push_targets.c.server_id == server_id)
    secret = new_signing_secret()
    changed = conn.execute(update(push_targets).where(where).values(signing_secret=secret, updated_at=now))
    if changed.rowcount == 0:
        raise NotFound(f"Server {server_id} has no push target.")
    return _target(conn.execute(select(push_targets).where(where)).one()), secret


def _has_push_target(conn: Connection, community_id: str, server_id: int) -> bool:
    found = conn.execute(
        select(push_targets.c.server_id).where(
            push_targets.c.community_id == community_id, push_targets.c.server_id == server_id
        )
    ).first()
    return found is not None


def _target(row: Row[Any]) -> PushTarget:
    return PushTarget(serverId=row.server_id, url=row.url, shape=row.shape, enabled=row.enabled)


def push_targets_with_keys(conn: Connection, community_id: str) -> list[tuple[PushTarget, str, bool]]:
    """Every push target of a community with its signing secret and whether it has a body key."""
    rows = conn.execute(
        select(push_targets)
        .where(push_targets.c.community_id == community_id)
        .order_by(push_targets.c.server_id)
    )
    return [(_target(row), row.signing_secret, row.body_key is not None) for row in rows]


def forget_revoked_key(conn: Connection, *, community_id: str, key_hash: str) -> None:
    """Drop the readable copy of the key with this hash (being revoked) from every push target."""
    for row in conn.execute(
        select(push_targets.c.server_id, push_targets.c.body_key).where(
            push_targets.c.community_id == community_id, push_targets.c.body_key.is_not(None)
        )
    ).all():
        if hash_secret(row.body_key) == key_hash:
            conn.execute(
                update(push_targets)
                .where(push_targets.c.community_id == community_id, push_targets.c.server_id == row.server_id)
                .values(body_key=None)
            )


def server_settings(conn: Connection, community_id: str) -> ServerSettingsList:
    """The community's servers with the docs' fields and their push settings."""
    rows = conn.execute(
        select(
            servers,
            push_targets.c.url,
            push_targets.c.shape,
            push_targets.c.enabled,
        )
        .select_from(
            servers.outerjoin(
                push_targets,
                (push_targets.c.community_id == servers.c.community_id)
                & (push_targets.c.server_id == servers.c.server_id),
            )
        )
        .where(servers.c.community_id == community_id)
        .order_by(servers.c.server_id)
    )
    return ServerSettingsList(
        servers=[
            ServerSettings(
                id=row.server_id,
                **{field: getattr(row, column) for field, column in SERVER_COLUMNS.items()},
                pushUrl=row.url,
                pushShape=row.shape or "array",
                pushEnabled=bool(row.enabled),
            )
            for row in rows
        ]
    )


def change_server_settings(
    conn: Connection, *, community_id: str, changes: ServerChanges, now: int
) -> ServerSettingsList:
    """Change the servers named (adding any the community lacks) and their push targets; all or none."""
    # Servers left out of the list stay as they are: the in-game resource sends only its own server when
    # that one is missing, and replacing the list would delete the others.
    for change in changes.servers:
        exists = conn.execute(
            select(servers.c.server_id).where(
                servers.c.community_id == community_id, servers.c.server_id == change.id
            )
        ).first()
        if exists is None:
            add_server(conn, community_id=community_id, now=now, server_id=change.id)
        values = change.docs_fields()
        if values:
            conn.execute(
                update(servers)
                .where(servers.c.community_id == community_id, servers.c.server_id == change.id)
                .values(**values)
            )
        if change.pushUrl is not None or _has_push_target(conn, community_id, change.id):
            # Without a target and a URL, pushShape/pushEnabled are GET's own "none" sent back: no change.
            set_push_target(
                conn,
                community_id=community_id,
                server_id=change.id,
                now=now,
                url=change.pushUrl,
                shape=change.pushShape,
                enabled=change.pushEnabled,
            )
    return server_settings(conn, community_id)


# -- delivery ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delivery:
    """An event due for delivery, with where and how to send it."""

    event_id: int
    uid: str
    community_id: str
    server_id: int
    type: str
    data: str
    created_at: int
    attempts: int
    deadline_at: int | None
    url: str | None
    shape: str
    signing_secret: str | None
    body_key: str | None
    socket: bool = False  # a process holds a live hub socket of the server: it goes there first


# The worker runs these on every round: built once, like the statements of the create path.
_OLDEST_PENDING = (
    select(func.min(events.c.event_id))
    .where(events.c.state == "pending")
    .group_by(events.c.community_id, events.c.server_id)
    .scalar_subquery()
)
_DUE = (
    select(
        events,
        push_targets.c.url,
        push_targets.c.shape,
        push_targets.c.enabled,
        push_targets.c.signing_secret,
        push_targets.c.body_key,
    )
    .select_from(
        events.outerjoin(
            push_targets,
            (push_targets.c.community_id == events.c.community_id)
            & (push_targets.c.server_id == events.c.server_id),
        )
    )
    .where(
        events.c.event_id.in_(_OLDEST_PENDING),
        events.c.next_attempt_at <= bindparam("now"),
        events.c.lease_until.is_(None) | (events.c.lease_until <= bindparam("now")),
    )
    .order_by(events.c.event_id)
)
# An event being delivered (leased) is due again only when its lease ends.
_DUE_AT = case(
    (events.c.lease_until > events.c.next_attempt_at, events.c.lease_until), else_=events.c.next_attempt_at
)
_NEXT_DUE = select(func.min(_DUE_AT)).where(events.c.state == "pending")
_CLAIM = (
    update(events)
    .where(
        events.c.event_id == bindparam("b_event_id"),
        events.c.state == "pending",
        events.c.lease_until.is_(None) | (events.c.lease_until <= bindparam("b_now")),
    )
    .values(lease_until=bindparam("b_until"))
)
_LOG_ATTEMPT = Prepared(insert_row(delivery_attempts))
_MOVE_ON = Prepared(
    update(events)
    .where(events.c.event_id == bindparam("b_event_id"))
    .values(
        state=bindparam("b_state"),
        attempts=events.c.attempts + 1,
        next_attempt_at=bindparam("b_next_attempt_at"),
        finished_at=bindparam("b_finished_at"),
        lease_until=null(),
    )
)


def due_deliveries(conn: Connection, *, now: int) -> list[Delivery]:
    """For each server with pending events, its oldest one if that one is due and not being delivered."""
    rows = conn.execute(_DUE, {"now": now}).all()
    return [
        Delivery(
            event_id=row.event_id,
            uid=row.uid,
            community_id=row.community_id,
            server_id=row.server_id,
            type=row.type,
            data=row.data,
            created_at=row.created_at,
            attempts=row.attempts,
            deadline_at=row.deadline_at,
            url=row.url if row.enabled else None,
            shape=row.shape or "array",
            signing_secret=row.signing_secret,
            body_key=row.body_key,
        )
        for row in rows
    ]


def claim_deliveries(conn: Connection, *, now: int, lease_ms: int, holder: str = "") -> list[Delivery]:
    """The due deliveries this worker takes: each leased to it alone until ``now + lease_ms``.

    With several workers (processes) each event is taken by one; one whose worker died mid-delivery
    is taken again when the lease ends (delivery is at least once). A server's next event waits for its
    oldest, so order within a server holds. A server whose hub socket another process holds is left to
    that process (this one is ``holder``); a server whose socket closed lately goes over HTTP, or without
    a target waits for its game server, the process whose socket closed recording the wait.
    """
    sockets = socket_holders(conn, now=now)
    claimed = []
    for delivery in due_deliveries(conn, now=now):
        holders = sockets.get((delivery.community_id, delivery.server_id), set())
        live = {name for name in holders if not name.endswith(WAITING)}
        if live and holder not in live:
            continue  # another process has the game server's socket: it delivers
        if not live and holders and delivery.url is None and holder + WAITING not in holders:
            continue  # the socket closed on another process, which waits for the game server
        if delivery.url is None and not holders:
            claimed.append(delivery)  # no target any more: the worker skips it, no lease needed
            continue
        delivery = replace(delivery, socket=bool(holders))
        taken = conn.execute(
            _CLAIM, {"b_event_id": delivery.event_id, "b_now": now, "b_until": now + lease_ms}
        )
        if taken.rowcount == 1:
            claimed.append(delivery)
    return claimed


def next_due_at(conn: Connection) -> int | None:
    """When the earliest pending event falls due, or None when nothing is pending."""
    due: int | None = conn.execute(_NEXT_DUE).scalar()
    return due


def _untargeted(now: int) -> Any:
    targeted = select(push_targets.c.community_id).where(
        push_targets.c.community_id == events.c.community_id,
        push_targets.c.server_id == events.c.server_id,
        push_targets.c.enabled.is_(True),
    )
    socket = select(hub_receivers.c.holder).where(
        hub_receivers.c.community_id == events.c.community_id,
        hub_receivers.c.server_id == events.c.server_id,
        hub_receivers.c.expires_at > now,
    )
    return (events.c.state == "pending") & ~targeted.exists() & ~socket.exists()


def skip_untargeted(conn: Connection, *, now: int) -> int:
    """Mark pending events of servers with no enabled push target nor hub socket as skipped, at once.

    They stay readable in the live stream; a target set later receives events from then on.
    """
    result = conn.execute(update(events).where(_untargeted(now)).values(state="skipped", finished_at=now))
    return int(result.rowcount)


# -- hub sockets that take push events -------------------------------------------------------------------

# Ends a holder's name in a row that says "my socket of this server closed, the game server may come back",
# rather than "my socket of this server is open".
WAITING = "~"


def socket_holders(conn: Connection, *, now: int) -> dict[tuple[str, int], set[str]]:
    """The processes holding a hub socket, or waiting for one (WAITING), by server (a small table)."""
    rows = conn.execute(
        select(hub_receivers.c.community_id, hub_receivers.c.server_id, hub_receivers.c.holder).where(
            hub_receivers.c.expires_at > now
        )
    )
    found: dict[tuple[str, int], set[str]] = {}
    for row in rows:
        found.setdefault((row.community_id, row.server_id), set()).add(row.holder)
    return found


def hold_sockets(
    conn: Connection,
    *,
    holder: str,
    servers: set[tuple[str, int]],
    now: int,
    until: int,
    closed: set[tuple[str, int]] | None = None,
    arrived: tuple[str, int] | None = None,
) -> None:
    """Lease ``holder``'s live sockets' servers until ``until``; rows that lapsed go, whoever held them.

    A server in ``closed`` (its socket here closed) gets a waiting row instead (``holder`` + WAITING)
    until ``until``: its events wait that long for the game server to connect again (to any process)
    before they are skipped, and a live row of any process, the game server's new socket, goes first.
    ``arrived``, the server whose socket just connected, has its waiting events due now rather than at
    the end of their backoff.
    """
    _renumber(conn)  # sockets come and go on any server
    conn.execute(hub_receivers.delete().where(hub_receivers.c.expires_at <= now))
    for community_id, server_id in sorted((closed or set()) - servers):
        server = (hub_receivers.c.community_id == community_id) & (hub_receivers.c.server_id == server_id)
        conn.execute(hub_receivers.delete().where(server, hub_receivers.c.holder == holder))
        _lease(
            conn, {"community_id": community_id, "server_id": server_id, "holder": holder + WAITING}, until
        )
    if arrived is not None:
        community_id, server_id = arrived
        conn.execute(
            update(events)
            .where(
                events.c.community_id == community_id,
                events.c.server_id == server_id,
                events.c.state == "pending",
                events.c.next_attempt_at > now,
            )
            .values(next_attempt_at=now)
        )
    for community_id, server_id in sorted(servers):
        _lease(conn, {"community_id": community_id, "server_id": server_id, "holder": holder}, until)
    announce(conn, NEW_DELIVERIES)  # events waiting for a socket may go now
    notify(conn, DELIVERIES_CHANNEL, "")


def _lease(conn: Connection, key: dict[str, Any], until: int) -> None:
    renewed = conn.execute(
        update(hub_receivers)
        .where(*(hub_receivers.c[name] == value for name, value in key.items()))
        .values(expires_at=until)
    )
    if renewed.rowcount == 0:
        conn.execute(insert(hub_receivers).values(**key, expires_at=until))


# What an attempt shows until its outcome is written: for good, if the process stopped mid-attempt.
UNFINISHED = "no outcome recorded: cut off when the delivering process stopped, or still under way"


def begin_attempt(conn: Connection, *, delivery: Delivery, now: int, url: str) -> int:
    """Log an attempt before it is made, so one cut off by a crash still shows; its id for the outcome."""
    attempt_id: int = conn.execute(
        insert(delivery_attempts)
        .values(
            event_id=delivery.event_id,
            community_id=delivery.community_id,
            server_id=delivery.server_id,
            time=now,
            url=url,
            status_code=None,
            latency_ms=0,
            error=UNFINISHED,
        )
        .returning(delivery_attempts.c.attempt_id)
    ).scalar_one()
    return attempt_id


def record_attempt(
    conn: Connection,
    *,
    delivery: Delivery,
    now: int,
    status_code: int | None,
    latency_ms: int,
    error: str | None,
    retry_at: int | None,
    attempt_id: int | None = None,
) -> str:
    """Log one attempt's outcome (on the row ``begin_attempt`` wrote, if any) and move the event on:
    delivered, retried at ``retry_at``, or dead."""
    outcome = {"status_code": status_code, "latency_ms": latency_ms, "error": error}
    if attempt_id is not None:
        conn.execute(
            update(delivery_attempts).where(delivery_attempts.c.attempt_id == attempt_id).values(**outcome)
        )
    else:
        _LOG_ATTEMPT.run(
            conn,
            {
                "event_id": delivery.event_id,
                "community_id": delivery.community_id,
                "server_id": delivery.server_id,
                "time": now,
                "url": delivery.url or "",
                **outcome,
            },
        )
    # A hub socket has no status code: its send either went out or raised.
    succeeded = error is None and (status_code is None or 200 <= status_code < 300)
    state = "delivered" if succeeded else ("pending" if retry_at is not None else "dead")
    _MOVE_ON.run(
        conn,
        {
            "b_event_id": delivery.event_id,
            "b_state": state,
            "b_next_attempt_at": retry_at if state == "pending" else now,
            "b_finished_at": None if state == "pending" else now,
        },
    )
    return state


@dataclass(frozen=True, slots=True)
class ServerBacklog:
    """A server's events waiting for delivery: how many, and when the oldest of them was written."""

    community_id: str
    server_id: int
    pending: int
    oldest_created_at: int


# Counted from the pending index alone; only each server's oldest event is read for its time.
_PENDING_BY_SERVER = (
    select(
        events.c.community_id,
        events.c.server_id,
        func.count().label("pending"),
        func.min(events.c.event_id).label("oldest_id"),
    )
    .where(events.c.state == "pending")
    .group_by(events.c.community_id, events.c.server_id)
    .subquery()
)
_BACKLOG = select(
    _PENDING_BY_SERVER.c.community_id,
    _PENDING_BY_SERVER.c.server_id,
    _PENDING_BY_SERVER.c.pending,
    events.c.created_at,
).join(events, events.c.event_id == _PENDING_BY_SERVER.c.oldest_id)


def outbox_backlog(conn: Connection) -> list[ServerBacklog]:
    """Every server, of every community, with events waiting for delivery (for the operator's metrics)."""
    return [ServerBacklog(*row) for row in conn.execute(_BACKLOG)]


def event_counts(conn: Connection, *, states: Sequence[str] = ("pending", "dead")) -> dict[str, int]:
    """How many events of every community are in each of ``states`` (the operator's first look)."""
    rows = conn.execute(
        select(events.c.state, func.count()).where(events.c.state.in_(states)).group_by(events.c.state)
    )
    return {**dict.fromkeys(states, 0), **{state: count for state, count in rows}}


def delivery_log(
    conn: Connection,
    *,
    community_id: str,
    server_id: int | None = None,
    event_id: int | None = None,
    limit: int = 50,
) -> list[DeliveryAttempt]:
    """The newest delivery attempts of a community, newest first."""
    query = (
        select(delivery_attempts, events.c.type, events.c.state)
        .join(events, events.c.event_id == delivery_attempts.c.event_id)
        .where(delivery_attempts.c.community_id == community_id)
        .order_by(delivery_attempts.c.attempt_id.desc())
        .limit(limit)
    )
    if server_id is not None:
        query = query.where(delivery_attempts.c.server_id == server_id)
    if event_id is not None:
        query = query.where(delivery_attempts.c.event_id == event_id)
    return [
        DeliveryAttempt(
            eventId=row.event_id,
            eventType=row.type,
            serverId=row.server_id,
            time=iso_utc(row.time),
            url=row.url,
            statusCode=row.status_code,
            latencyMs=row.latency_ms,
            error=row.error,
            state=row.state,
        )
        for row in conn.execute(query)
    ]


def redeliver(
    conn: Connection,
    *,
    community_id: str,
    now: int,
    max_age_ms: int,
    event_id: int | None = None,
    server_id: int | None = None,
) -> list[int]:
    """Queue one event again (of ``server_id`` when given too), or every dead event of a server; they get
    a fresh maximum age."""
    query = select(events.c.event_id).where(events.c.community_id == community_id)
    if event_id is not None:
        query = query.where(events.c.event_id == event_id)
        if server_id is not None:
            query = query.where(events.c.server_id == server_id)
    elif server_id is not None:
        require_server(conn, community_id, server_id)
        query = query.where(events.c.server_id == server_id, events.c.state == "dead")
    else:
        raise InvalidInput(
            "Name an event, or a server whose dead events to send again.", {"event": "required"}
        )
    ids = list(conn.execute(query.order_by(events.c.event_id)).scalars())
    if event_id is not None and not ids:
        raise NotFound(f"Event {event_id} does not exist in this community.")
    if ids:
        conn.execute(
            update(events)
            .where(events.c.event_id.in_(ids))
            .values(state="pending", next_attempt_at=now, deadline_at=now + max_age_ms, finished_at=None)
        )
        announce(conn, NEW_DELIVERIES)
    return ids


# -- the live stream -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as the stream sends it, with its Server-Sent Events frame encoded once for everybody."""

    seq: int
    community_id: str
    server_id: int
    type: str
    data: str
    frame: bytes


def _stored(row: Any) -> StoredEvent:
    seq, community_id, server_id, type_, data = row
    # The data is compact JSON (no newlines), so it fits one "data:" line. The id is the event's number on
    # its server, which a stream resumes after.
    frame = f"id: {seq}\nevent: {type_}\ndata: {data}\n\n".encode()
    return StoredEvent(seq, community_id, server_id, type_, data, frame)


_STREAM_COLUMNS = (events.c.seq, events.c.community_id, events.c.server_id, events.c.type, events.c.data)
STREAM_READ_LIMIT = 1000


def events_since(
    conn: Connection, *, cursors: Mapping[tuple[str, int], int], limit: int = STREAM_READ_LIMIT
) -> list[StoredEvent]:
    """The events of several servers after each one's cursor, in order per server (one read for all)."""
    if not cursors:
        return []
    after = [
        and_(events.c.community_id == community_id, events.c.server_id == server_id, events.c.seq > seq)
        for (community_id, server_id), seq in cursors.items()
    ]
    rows = conn.execute(
        select(*_STREAM_COLUMNS)
        .where(or_(*after))
        .order_by(events.c.community_id, events.c.server_id, events.c.seq)
        .limit(limit)
    )
    return [_stored(row) for row in rows]


def server_events_after(
    conn: Connection, *, community_id: str, server_id: int, after_seq: int, limit: int = STREAM_READ_LIMIT
) -> list[StoredEvent]:
    """One server's events after ``after_seq``: what a reconnecting stream missed."""
    require_server(conn, community_id, server_id)
    return events_since(conn, cursors={(community_id, server_id): after_seq}, limit=limit)


def last_event_seq(conn: Connection, *, community_id: str, server_id: int) -> int:
    """The number of the server's newest committed event (0 when it has none); 404 for no such server."""
    require_server(conn, community_id, server_id)
    found = conn.execute(
        select(servers.c.last_event_seq).where(
            servers.c.community_id == community_id, servers.c.server_id == server_id
        )
    ).scalar_one()
    return int(found)


def prune_events(conn: Connection, *, before: int, batch: int) -> int:
    """Delete up to ``batch`` finished events created before ``before`` (ms), with their delivery attempts.

    Pending events stay whatever their age: an event is never lost before its delivery ends. Their numbers
    are never reused; a stream resuming before the oldest kept one is told to reload (``oldest_kept_seq``).
    """
    # Oldest first by id (ids grow with time): the scan stops at the first ``batch`` found.
    doomed = list(
        conn.execute(
            select(events.c.event_id)
            .where(events.c.state != "pending", events.c.created_at < before)
            .order_by(events.c.event_id)
            .limit(batch)
        ).scalars()
    )
    if doomed:
        conn.execute(delete(delivery_attempts).where(delivery_attempts.c.event_id.in_(doomed)))
        conn.execute(delete(events).where(events.c.event_id.in_(doomed)))
    return len(doomed)


def prune_attempts(conn: Connection, *, before: int, batch: int) -> int:
    """Delete up to ``batch`` delivery attempts made before ``before`` (ms), those of pending events too."""
    doomed = list(
        conn.execute(
            select(delivery_attempts.c.attempt_id)
            .where(delivery_attempts.c.time < before)
            .order_by(delivery_attempts.c.attempt_id)
            .limit(batch)
        ).scalars()
    )
    if doomed:
        conn.execute(delete(delivery_attempts).where(delivery_attempts.c.attempt_id.in_(doomed)))
    return len(doomed)


def oldest_kept_seq(conn: Connection, *, community_id: str, server_id: int) -> int | None:
    """The number of the server's oldest event still kept (None when none is)."""
    found = conn.execute(
        select(func.min(events.c.seq)).where(
            events.c.community_id == community_id, events.c.server_id == server_id
        )
    ).scalar()
    return None if found is None else int(found)
