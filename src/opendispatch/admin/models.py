"""The audit log: every change an admin makes, with who made it and when."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from opendispatch.storage.metadata import metadata

audit_log = Table(
    "audit_log",
    metadata,
    Column("entry_id", Integer, primary_key=True),
    Column("community_id", String(64), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("actor_account_uuid", String(36), nullable=False),
    Column("actor_name", String(255), nullable=False),
    # What was done, as a dotted name ("member.invite", "key.revoke"), and to what ("key od_ab12…").
    Column("action", String(64), nullable=False),
    Column("target", String(255), nullable=False, default=""),
    # A small JSON object of the details that matter (never a secret), at most MAX_DETAIL_BYTES.
    Column("detail", Text, nullable=False, default="{}"),
    Index("ix_audit_log_community", "community_id", "entry_id"),
)
