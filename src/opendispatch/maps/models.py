"""Tables of the map: the community's postals, each server's blips, and the blip id counter."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from opendispatch.storage.metadata import metadata

postals = Table(
    "postals",
    metadata,
    Column("community_id", ForeignKey("communities.community_id"), primary_key=True),
    Column("code", String(32), primary_key=True),
    Column("x", Float, nullable=False),
    Column("y", Float, nullable=False),
    # The nearest postal to a point is searched in a band of x first (see service.nearest_postal).
    Index("ix_postals_x", "community_id", "x"),
)

blips = Table(
    "blips",
    metadata,
    Column("community_id", String(64), primary_key=True),
    # Unique in the community, not only the server: v1 MODIFY_BLIP and REMOVE_BLIP name no server.
    Column("blip_id", BigInteger, primary_key=True, autoincrement=False),
    Column("server_id", Integer, nullable=False),
    Column("x", Float, nullable=False),
    Column("y", Float, nullable=False),
    Column("z", Float, nullable=False),
    Column("w", Float, nullable=False),
    Column("sub_type", String(64), nullable=False),
    Column("icon", String(1024), nullable=False),
    Column("color", String(64), nullable=False),
    Column("tooltip", String(255), nullable=False),
    Column("radius", Float, nullable=False),
    # The ``data`` rows ({title, text}) as JSON text.
    Column("data", Text, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    ForeignKeyConstraint(
        ["community_id", "server_id"],
        ["servers.community_id", "servers.server_id"],
        name="fk_blips_server",
    ),
    Index("ix_blips_server", "community_id", "server_id"),
)

blip_counters = Table(
    "blip_counters",
    metadata,
    Column("community_id", ForeignKey("communities.community_id"), primary_key=True),
    Column("last_blip_id", BigInteger, nullable=False),
)
