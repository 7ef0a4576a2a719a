"""Events: a per-server sequence in commit order, and delivery leases, for several server processes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 13:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("servers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_event_seq", sa.BigInteger(), nullable=False, server_default="0"))
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("lease_until", sa.BigInteger(), nullable=True))
    # Existing events are numbered per server in their id order, which was their commit order (SQLite).
    op.execute(
        """
        UPDATE events SET seq = (
            SELECT numbered.n FROM (
                SELECT event_id, ROW_NUMBER() OVER (
                    PARTITION BY community_id, server_id ORDER BY event_id
                ) AS n FROM events
            ) AS numbered WHERE numbered.event_id = events.event_id
        )
        """
    )
    op.execute(
        """
        UPDATE servers SET last_event_seq = COALESCE((
            SELECT MAX(events.seq) FROM events
            WHERE events.community_id = servers.community_id AND events.server_id = servers.server_id
        ), 0)
        """
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)
        batch_op.drop_index("ix_events_stream")
        batch_op.create_index("ix_events_stream", ["community_id", "server_id", "seq"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_stream")
        batch_op.create_index("ix_events_stream", ["community_id", "server_id", "event_id"], unique=False)
        batch_op.drop_column("lease_until")
        batch_op.drop_column("seq")
    with op.batch_alter_table("servers", schema=None) as batch_op:
        batch_op.drop_column("last_event_seq")
