"""Accounts: Discord and Roblox ids, and the older in-game API ids, all usable as targets

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 15:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("discord", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("roblox", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint("uq_accounts_discord", ["community_id", "discord"])
        batch_op.create_unique_constraint("uq_accounts_roblox", ["community_id", "roblox"])
    op.create_table(
        "account_api_ids",
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("api_id", sa.String(length=255), nullable=False),
        sa.Column("account_uuid", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(["account_uuid"], ["accounts.account_uuid"]),
        sa.ForeignKeyConstraint(["community_id"], ["communities.community_id"]),
        sa.PrimaryKeyConstraint("community_id", "api_id"),
    )
    op.create_index("ix_account_api_ids_account_uuid", "account_api_ids", ["account_uuid"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_account_api_ids_account_uuid", table_name="account_api_ids")
    op.drop_table("account_api_ids")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_constraint("uq_accounts_roblox", type_="unique")
        batch_op.drop_constraint("uq_accounts_discord", type_="unique")
        batch_op.drop_column("roblox")
        batch_op.drop_column("discord")
