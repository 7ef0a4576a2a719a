"""Unit positions: when each unit last reported where it is

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 18:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("identifiers") as batch:
        batch.add_column(sa.Column("located_at", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("identifiers") as batch:
        batch.drop_column("located_at")
