"""Tables of the console: dispatcher sessions and each server's map image."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
)

from opendispatch.storage.metadata import metadata

console_sessions = Table(
    "console_sessions",
    metadata,
    # SHA-256 of the random token in the browser's cookie; the token itself is never stored.
    Column("token_hash", String(64), primary_key=True),
    Column("community_id", String(64), nullable=False),
    Column("account_uuid", ForeignKey("accounts.account_uuid"), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Index("ix_console_sessions_account", "account_uuid"),
)

server_maps = Table(
    "server_maps",
    metadata,
    Column("community_id", String(64), primary_key=True),
    Column("server_id", Integer, primary_key=True, autoincrement=False),
    # The image as the operator gave it (PNG, JPEG or WebP), served to the console as is.
    Column("image", LargeBinary, nullable=False),
    Column("content_type", String(32), nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    # Game coordinates of the image's top-left (x1, y1) and bottom-right (x2, y2) corners.
    Column("x1", Float, nullable=False),
    Column("y1", Float, nullable=False),
    Column("x2", Float, nullable=False),
    Column("y2", Float, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    ForeignKeyConstraint(
        ["community_id", "server_id"],
        ["servers.community_id", "servers.server_id"],
        name="fk_server_maps_server",
    ),
)
