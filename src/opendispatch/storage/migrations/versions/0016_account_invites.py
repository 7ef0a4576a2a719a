"""Account invites: one-time, expiring links to join a community or to set a new password

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_invites",
        sa.Column("invite_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("account_uuid", sa.String(length=36), nullable=True),
        sa.Column("roles", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["community_id"], ["communities.community_id"]),
        sa.ForeignKeyConstraint(["account_uuid"], ["accounts.account_uuid"]),
        sa.PrimaryKeyConstraint("invite_id"),
        sa.UniqueConstraint("token_hash", name="uq_account_invites_token"),
    )
    op.create_index("ix_account_invites_community", "account_invites", ["community_id", "expires_at"])


def downgrade() -> None:
    op.drop_index("ix_account_invites_community", table_name="account_invites")
    op.drop_table("account_invites")
