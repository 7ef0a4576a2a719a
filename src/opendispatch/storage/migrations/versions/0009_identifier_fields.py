"""Identifiers: the docs' unit fields (district, subdivision, rank, group, page, aop, dispatcher, heading)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("identifiers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("district", sa.String(length=255), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column("subdivision", sa.String(length=255), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("rank", sa.String(length=255), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("group_name", sa.String(length=64), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("page", sa.Integer(), nullable=False, server_default="-1"))
        batch_op.add_column(sa.Column("aop", sa.String(length=255), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("is_dispatch", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("heading", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("identifiers", schema=None) as batch_op:
        for column in (
            "heading",
            "is_dispatch",
            "aop",
            "page",
            "group_name",
            "rank",
            "subdivision",
            "district",
        ):
            batch_op.drop_column(column)
