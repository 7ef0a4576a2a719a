"""Hub receivers: which process's hub socket takes a game server's push events

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 16:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hub_receivers",
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("server_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("holder", sa.String(length=32), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("community_id", "server_id", "holder"),
    )


def downgrade() -> None:
    op.drop_table("hub_receivers")
