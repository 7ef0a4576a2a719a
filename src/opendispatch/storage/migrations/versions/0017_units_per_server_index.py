"""Units per server: an index to count the units selected on a server

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The bound on units per server counts a server's selected units whenever one more account selects
    # one there: a range of this index, not a walk through every server's.
    op.create_index("ix_selected_identifiers_server", "selected_identifiers", ["community_id", "server_id"])


def downgrade() -> None:
    op.drop_index("ix_selected_identifiers_server", table_name="selected_identifiers")
