"""Dispatch templates, and custom dispatch calls made from them

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 15:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dispatch_templates",
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("template_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("layout", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.community_id"], name="fk_dispatch_templates_community"
        ),
        sa.PrimaryKeyConstraint("community_id", "template_id"),
    )
    with op.batch_alter_table("dispatch_calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("template", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("template_values", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("status_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dispatch_calls", schema=None) as batch_op:
        batch_op.drop_column("status_id")
        batch_op.drop_column("template_values")
        batch_op.drop_column("template")
    op.drop_table("dispatch_templates")
