"""Map: the community's postal list, each server's blips and the blip id counter

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 15:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "postals",
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("x", sa.Float(), nullable=False),
        sa.Column("y", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["community_id"], ["communities.community_id"]),
        sa.PrimaryKeyConstraint("community_id", "code"),
    )
    op.create_index("ix_postals_x", "postals", ["community_id", "x"], unique=False)
    op.create_table(
        "blips",
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("blip_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("server_id", sa.Integer(), nullable=False),
        sa.Column("x", sa.Float(), nullable=False),
        sa.Column("y", sa.Float(), nullable=False),
        sa.Column("z", sa.Float(), nullable=False),
        sa.Column("w", sa.Float(), nullable=False),
        sa.Column("sub_type", sa.String(length=64), nullable=False),
        sa.Column("icon", sa.String(length=1024), nullable=False),
        sa.Column("color", sa.String(length=64), nullable=False),
        sa.Column("tooltip", sa.String(length=255), nullable=False),
        sa.Column("radius", sa.Float(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id", "server_id"],
            ["servers.community_id", "servers.server_id"],
            name="fk_blips_server",
        ),
        sa.PrimaryKeyConstraint("community_id", "blip_id"),
    )
    op.create_index("ix_blips_server", "blips", ["community_id", "server_id"], unique=False)
    op.create_table(
        "blip_counters",
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("last_blip_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["community_id"], ["communities.community_id"]),
        sa.PrimaryKeyConstraint("community_id"),
    )


def downgrade() -> None:
    op.drop_table("blip_counters")
    op.drop_index("ix_blips_server", table_name="blips")
    op.drop_table("blips")
    op.drop_index("ix_postals_x", table_name="postals")
    op.drop_table("postals")
