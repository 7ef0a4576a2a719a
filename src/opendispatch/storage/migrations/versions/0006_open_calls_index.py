"""Dispatch calls: the listing index covers only calls not removed, so PostgreSQL pages closed calls in order

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOT_REMOVED = sa.text("removed_at IS NULL")


def upgrade() -> None:
    # With removed_at a key column, PostgreSQL cannot tell that "removed_at IS NULL" fixes it, so it
    # sorted every closed call of a server for each page (a sequential scan, 66 ms at 100 000). As the
    # index's condition instead, the page is a backward range scan on SQLite and PostgreSQL alike.
    with op.batch_alter_table("dispatch_calls", schema=None) as batch_op:
        batch_op.drop_index("ix_dispatch_calls_listing")
        batch_op.create_index(
            "ix_dispatch_calls_listing",
            ["community_id", "server_id", "status", "closed_at", "call_id"],
            unique=False,
            sqlite_where=NOT_REMOVED,
            postgresql_where=NOT_REMOVED,
        )


def downgrade() -> None:
    with op.batch_alter_table("dispatch_calls", schema=None) as batch_op:
        batch_op.drop_index("ix_dispatch_calls_listing")
        batch_op.create_index(
            "ix_dispatch_calls_listing",
            ["community_id", "server_id", "removed_at", "status", "closed_at", "call_id"],
            unique=False,
        )
