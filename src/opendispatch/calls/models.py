"""Tables of calls: 911 calls, dispatch calls, their notes and attached units.

Times are epoch milliseconds (BigInteger): portable between SQLite and PostgreSQL, cheap to sort, and
rendered as ISO-8601 only on the wire. Removed calls keep their row (``removed_at``) so history stays whole.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
    Text,
    text,
)

from opendispatch.storage.metadata import metadata

emergency_calls = Table(
    "emergency_calls",
    metadata,
    Column("community_id", String(64), primary_key=True),
    Column("call_id", BigInteger, primary_key=True, autoincrement=False),
    Column("server_id", Integer, nullable=False),
    Column("is_emergency", Boolean, nullable=False),
    Column("caller", String(255), nullable=False),
    Column("location", String(1024), nullable=False),
    Column("description", Text, nullable=False),
    Column("meta_data", Text, nullable=False, default="{}"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("delete_at", BigInteger, nullable=True),
    Column("removed_at", BigInteger, nullable=True),
    ForeignKeyConstraint(
        ["community_id", "server_id"],
        ["servers.community_id", "servers.server_id"],
        name="fk_emergency_calls_server",
    ),
    Index("ix_emergency_calls_listing", "community_id", "server_id", "removed_at"),
    Index("ix_emergency_calls_due", "delete_at"),
)

dispatch_calls = Table(
    "dispatch_calls",
    metadata,
    Column("community_id", String(64), primary_key=True),
    Column("call_id", BigInteger, primary_key=True, autoincrement=False),
    Column("server_id", Integer, nullable=False),
    Column("origin", Integer, nullable=False),
    # PENDING 0, ACTIVE 1, CLOSED 2
    Column("status", Integer, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("block", String(255), nullable=False),
    Column("address", String(1024), nullable=False),
    Column("postal", String(64), nullable=False),
    Column("title", String(255), nullable=False),
    Column("code", String(64), nullable=False),
    Column("description", Text, nullable=False),
    Column("primary_ident", Integer, nullable=False, default=-1),
    Column("track_primary", Boolean, nullable=False, default=False),
    Column("meta_data", Text, nullable=False, default="{}"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("closed_at", BigInteger, nullable=True),
    Column("delete_at", BigInteger, nullable=True),
    Column("removed_at", BigInteger, nullable=True),
    # The 911 call a dispatcher turned into this call from the console (same community), if any.
    Column("source_call_id", BigInteger, nullable=True),
    # A custom (template) dispatch call: the template as it was when the call was made, the values
    # keyed by field uid (both JSON) and the chosen status option; NULL for every other call.
    Column("template", Text, nullable=True),
    Column("template_values", Text, nullable=True),
    Column("status_id", String(64), nullable=True),
    ForeignKeyConstraint(
        ["community_id", "server_id"],
        ["servers.community_id", "servers.server_id"],
        name="fk_dispatch_calls_server",
    ),
    # Active calls of a server, and its closed calls newest first: both are index range scans. Calls
    # not removed only, as the index's condition: PostgreSQL can order by closed_at only when removed_at
    # is not a key column before it.
    Index(
        "ix_dispatch_calls_listing",
        "community_id",
        "server_id",
        "status",
        "closed_at",
        "call_id",
        sqlite_where=text("removed_at IS NULL"),
        postgresql_where=text("removed_at IS NULL"),
    ),
    Index("ix_dispatch_calls_due", "delete_at"),
)

call_notes = Table(
    "call_notes",
    metadata,
    Column("note_id", Integer, primary_key=True),
    Column("community_id", String(64), nullable=False),
    Column("call_id", BigInteger, nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("label", String(255), nullable=False),
    Column("type", String(32), nullable=False),
    Column("content", Text, nullable=False),
    ForeignKeyConstraint(
        ["community_id", "call_id"],
        ["dispatch_calls.community_id", "dispatch_calls.call_id"],
        name="fk_call_notes_call",
    ),
    Index("ix_call_notes_call", "community_id", "call_id"),
)

call_units = Table(
    "call_units",
    metadata,
    Column("community_id", String(64), primary_key=True),
    Column("call_id", BigInteger, primary_key=True, autoincrement=False),
    Column("ident_id", Integer, primary_key=True, autoincrement=False),
    # Attachment order: ``idents`` lists units in it and ``primary`` defaults to the first.
    Column("position", Integer, nullable=False),
    Column("attached_at", BigInteger, nullable=False),
    ForeignKeyConstraint(
        ["community_id", "call_id"],
        ["dispatch_calls.community_id", "dispatch_calls.call_id"],
        name="fk_call_units_call",
    ),
    Index("ix_call_units_ident", "community_id", "ident_id"),
)

# Custom dispatch call layouts of a community (``opendispatch template create``); ids per community.
dispatch_templates = Table(
    "dispatch_templates",
    metadata,
    Column("community_id", String(64), primary_key=True),
    Column("template_id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(255), nullable=False),
    Column("version", Integer, nullable=False),
    Column("is_default", Boolean, nullable=False),
    # statusOptions and sections as JSON, checked and bounded by calls.schemas.TemplateLayout.
    Column("layout", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    ForeignKeyConstraint(
        ["community_id"], ["communities.community_id"], name="fk_dispatch_templates_community"
    ),
)
