"""Tables of push events: per-server targets, the outbox of events, and every delivery attempt."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKeyConstraint, Index, Integer, String, Table, Text

from opendispatch.storage.metadata import metadata

push_targets = Table(
    "push_targets",
    metadata,
    Column("community_id", String(64), primary_key=True),
    Column("server_id", Integer, primary_key=True, autoincrement=False),
    Column("url", String(2048), nullable=False),
    # "array": data is a list of one object, as documented; "object": the bare object the in-game
    # receiver reads.
    Column("shape", String(8), nullable=False, default="array"),
    Column("enabled", Boolean, nullable=False, default=True),
    # Standard Webhooks secret ("whsec_..."): it signs, so it must be kept readable.
    Column("signing_secret", String(128), nullable=False),
    # The API key the receiver compares with the body's "key". The body must carry it in clear, so this
    # one copy is kept readable; key revocation clears it.
    Column("body_key", String(128), nullable=True),
    Column("updated_at", BigInteger, nullable=False),
    ForeignKeyConstraint(
        ["community_id", "server_id"],
        ["servers.community_id", "servers.server_id"],
        name="fk_push_targets_server",
    ),
)

events = Table(
    "events",
    metadata,
    # Increasing, never reused: the SSE message id and the order of delivery.
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("uid", String(40), nullable=False),
    Column("community_id", String(64), nullable=False),
    Column("server_id", Integer, nullable=False),
    Column("type", String(40), nullable=False),
    Column("data", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # pending → delivered | dead | skipped (no enabled target when its turn came)
    Column("state", String(12), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", BigInteger, nullable=False),
    # When to give up (null: created_at plus the worker's maximum age); redelivery sets it anew.
    Column("deadline_at", BigInteger, nullable=True),
    Column("finished_at", BigInteger, nullable=True),
    # The event's number on its server (1, 2, ...): gap-free and in commit order; the live stream's id.
    Column("seq", BigInteger, nullable=False),
    # A delivery worker that took the event owns it until then; after that another may (it died).
    Column("lease_until", BigInteger, nullable=True),
    Index("ix_events_pending", "state", "community_id", "server_id", "event_id"),
    Index("ix_events_stream", "community_id", "server_id", "seq", unique=True),
    sqlite_autoincrement=True,
)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("attempt_id", Integer, primary_key=True),
    Column("event_id", Integer, nullable=False),
    Column("community_id", String(64), nullable=False),
    Column("server_id", Integer, nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("url", String(2048), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("latency_ms", Integer, nullable=False),
    Column("error", Text, nullable=True),
    Index("ix_delivery_attempts_event", "event_id"),
    Index("ix_delivery_attempts_server", "community_id", "server_id", "attempt_id"),
)

# The game servers' hub connections that take push events, by the process holding each (a random id per
# process). A row says "send this server's events to my socket": events are then pending even without an
# HTTP target, and other processes leave them to the holder. Leased: a holder that died stops counting
# when ``expires_at`` passes, and its live rows are renewed long before that. A holder ending in "~"
# (service.WAITING) says its socket closed lately: the events wait for the game server, not skipped.
hub_receivers = Table(
    "hub_receivers",
    metadata,
    Column("community_id", String(64), primary_key=True),
    Column("server_id", Integer, primary_key=True, autoincrement=False),
    Column("holder", String(32), primary_key=True),
    Column("expires_at", BigInteger, nullable=False),
)
