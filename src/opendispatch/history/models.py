"""The append-only call history table."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from opendispatch.storage.metadata import metadata

call_history = Table(
    "call_history",
    metadata,
    Column("entry_id", Integer, primary_key=True),
    Column("community_id", String(64), nullable=False),
    Column("call_id", BigInteger, nullable=False),
    # "emergency" or "dispatch": both kinds share the community's call ids.
    Column("call_kind", String(16), nullable=False),
    Column("time", BigInteger, nullable=False),
    # Who made the change: ("apiKey", "key#3"), ("user", "alice"), ("system", "expiry").
    Column("actor_type", String(16), nullable=False),
    Column("actor_name", String(255), nullable=False),
    Column("action", String(32), nullable=False),
    Column("details", Text, nullable=False, default="{}"),
    Index("ix_call_history_call", "community_id", "call_id", "entry_id"),
)
