"""General API: the docs' server fields and heartbeat, per-server configuration, link codes

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT_COLUMNS = (
    ("description", 255, ""),
    ("signal", 64, ""),
    ("map_url", 2048, ""),
    ("map_ip", 255, ""),
    ("listener_port", 16, ""),
    ("outbound_ip", 255, ""),
    ("map_type", 32, "NORMAL"),
)
_FLAG_COLUMNS = ("differing_outbound", "enable_map", "is_static")


def upgrade() -> None:
    with op.batch_alter_table("servers", schema=None) as batch_op:
        for name, length, default in _TEXT_COLUMNS:
            batch_op.add_column(
                sa.Column(name, sa.String(length=length), nullable=False, server_default=default)
            )
        for name in _FLAG_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("live_map_format", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("player_count", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("heartbeat_at", sa.BigInteger(), nullable=True))
    op.create_table(
        "server_configs",
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("server_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id", "server_id"],
            ["servers.community_id", "servers.server_id"],
            name="fk_server_configs_server",
        ),
        sa.PrimaryKeyConstraint("community_id", "server_id", "kind"),
    )
    op.create_table(
        "link_codes",
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("community_user_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["community_id"], ["communities.community_id"]),
        sa.PrimaryKeyConstraint("community_id", "code_hash"),
    )
    op.create_index("ix_link_codes_user", "link_codes", ["community_id", "community_user_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_link_codes_user", table_name="link_codes")
    op.drop_table("link_codes")
    op.drop_table("server_configs")
    with op.batch_alter_table("servers", schema=None) as batch_op:
        for name in ("heartbeat_at", "player_count", "live_map_format", *_FLAG_COLUMNS):
            batch_op.drop_column(name)
        for name, _length, _default in reversed(_TEXT_COLUMNS):
            batch_op.drop_column(name)
