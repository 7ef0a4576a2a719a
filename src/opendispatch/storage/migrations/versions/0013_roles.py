"""Roles and switches of the operator's command line: account roles, disabled accounts and communities,
API key labels and when a key was last used

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 18:30:00

Accounts made before roles existed keep what they could do: one with a console password was a dispatcher
and stays one; one without was a player's account (units, links) and becomes a member.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("is_admin", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(
            sa.Column("is_dispatcher", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("is_member", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("disabled_at", sa.BigInteger(), nullable=True))
    accounts = sa.table(
        "accounts",
        sa.column("password_hash", sa.String()),
        sa.column("is_dispatcher", sa.Boolean()),
        sa.column("is_member", sa.Boolean()),
    )
    op.execute(accounts.update().where(accounts.c.password_hash.is_not(None)).values(is_dispatcher=True))
    op.execute(accounts.update().where(accounts.c.password_hash.is_(None)).values(is_member=True))
    with op.batch_alter_table("communities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("disabled_at", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("label", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("last_used_at", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("last_used_at")
        batch_op.drop_column("label")
    with op.batch_alter_table("communities", schema=None) as batch_op:
        batch_op.drop_column("disabled_at")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("disabled_at")
        batch_op.drop_column("is_member")
        batch_op.drop_column("is_dispatcher")
        batch_op.drop_column("is_admin")
