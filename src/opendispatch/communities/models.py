"""Tables of tenancy: communities, their servers, API keys and per-community rate limits."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from opendispatch.storage.metadata import metadata

communities = Table(
    "communities",
    metadata,
    Column("community_id", String(64), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("plan", Integer, nullable=False),
    Column("api_enabled", Boolean, nullable=False, default=True),
    # The last call id handed out; calls of both kinds share it so an id is never reused.
    Column("last_call_id", BigInteger, nullable=False, default=0),
    Column("created_at", BigInteger, nullable=False),
    # Set by the operator: the community's keys are refused as for a disabled API, its console closed.
    Column("disabled_at", BigInteger, nullable=True),
)

servers = Table(
    "servers",
    metadata,
    Column("community_id", ForeignKey("communities.community_id"), primary_key=True),
    Column("server_id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(255), nullable=False),
    # Kept here so closedCallCount never needs a count over every closed call.
    Column("closed_call_count", BigInteger, nullable=False, default=0),
    Column("created_at", BigInteger, nullable=False),
    # The last event's number on this server. Taking the next one locks this row until the commit, so a
    # server's events commit in the order of their numbers, whatever process writes them.
    Column("last_event_seq", BigInteger, nullable=False, default=0, server_default="0"),
    # The docs' server fields, which the in-game resource reads back at every start (it PUTs the list
    # again when listenerPort or mapIp differ from what it expects).
    Column("description", String(255), nullable=False, default="", server_default=""),
    Column("signal", String(64), nullable=False, default="", server_default=""),
    Column("map_url", String(2048), nullable=False, default="", server_default=""),
    Column("map_ip", String(255), nullable=False, default="", server_default=""),
    Column("listener_port", String(16), nullable=False, default="", server_default=""),
    Column("differing_outbound", Boolean, nullable=False, default=False, server_default=false()),
    Column("outbound_ip", String(255), nullable=False, default="", server_default=""),
    Column("enable_map", Boolean, nullable=False, default=False, server_default=false()),
    Column("map_type", String(32), nullable=False, default="NORMAL", server_default="NORMAL"),
    Column("is_static", Boolean, nullable=False, default=False, server_default=false()),
    Column("live_map_format", Integer, nullable=False, default=0, server_default="0"),
    # The last heartbeat: the player count the game server reported and when.
    Column("player_count", Integer, nullable=True),
    Column("heartbeat_at", BigInteger, nullable=True),
)

# What the in-game resource writes at start, per server: stations, callouts, street-sign config, pager
# config. Each is kept as the JSON the docs show (bounded by the request models), one row per kind.
server_configs = Table(
    "server_configs",
    metadata,
    Column("community_id", String(64), primary_key=True),
    Column("server_id", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(32), primary_key=True),
    Column("body", Text, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    ForeignKeyConstraint(
        ["community_id", "server_id"],
        ["servers.community_id", "servers.server_id"],
        name="fk_server_configs_server",
    ),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("community_id", ForeignKey("communities.community_id"), nullable=False, index=True),
    # SHA-256 of the key: keys are long random strings, so a fast hash is safe and lets v2 find the
    # community from the key alone with one indexed lookup.
    Column("key_hash", String(64), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
    # The operator's name for the key ("in-game", "discord bot"); never the key.
    Column("label", String(64), nullable=True),
    # Written at most once a minute per key: one write a minute, not one per request.
    Column("last_used_at", BigInteger, nullable=True),
    UniqueConstraint("key_hash"),
)

rate_limits = Table(
    "rate_limits",
    metadata,
    Column("community_id", ForeignKey("communities.community_id"), primary_key=True),
    Column("endpoint", String(64), primary_key=True),
    Column("per_minute", Integer, nullable=False),
)
