"""Tables of accounts' general operations: the short-lived codes that link an in-game id to an account."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table, UniqueConstraint

from opendispatch.storage.metadata import metadata

# A code the game server asked for on behalf of a player (``communityUserId``); a logged-in console user
# redeems it, which links that player to their account. Codes expire and are few per community. Only the
# code's SHA-256 is kept (``code_hash``), as for keys and secrets: a copy of the database redeems nothing.
link_codes = Table(
    "link_codes",
    metadata,
    Column("community_id", ForeignKey("communities.community_id"), primary_key=True),
    Column("code_hash", String(64), primary_key=True),
    Column("community_user_id", String(255), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Index("ix_link_codes_user", "community_id", "community_user_id"),
)

# A one-time link an admin hands out: without ``account_uuid`` it lets a new person join with the
# ``roles`` (comma-separated) and pick a username and password; with it, it sets that account's new
# password (a reset). Only the token's SHA-256 is kept; a used link is deleted, an expired one is dead.
account_invites = Table(
    "account_invites",
    metadata,
    Column("invite_id", Integer, primary_key=True),
    Column("community_id", ForeignKey("communities.community_id"), nullable=False),
    Column("token_hash", String(64), nullable=False),
    Column("account_uuid", ForeignKey("accounts.account_uuid"), nullable=True),
    Column("roles", String(64), nullable=False, default=""),
    Column("created_by", String(36), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    UniqueConstraint("token_hash", name="uq_account_invites_token"),
    Index("ix_account_invites_community", "community_id", "expires_at"),
)
