"""Tables of people and units: accounts, identifiers and the selected identifier per server."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    false,
)

from opendispatch.storage.metadata import metadata

accounts = Table(
    "accounts",
    metadata,
    Column("account_uuid", String(36), primary_key=True),
    Column("community_id", ForeignKey("communities.community_id"), nullable=False),
    Column("username", String(255), nullable=False),
    # The in-game identifier (e.g. ``license:abc123``) that push events and targets use.
    Column("community_user_id", String(255), nullable=True),
    # SHA-256 of the account's secret uuid, which proves ownership when linking.
    Column("secret_hash", String(64), nullable=False),
    Column("password_hash", String(255), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    # Discord and Roblox user ids: targets in the docs name units by either.
    Column("discord", String(64), nullable=True),
    Column("roblox", String(64), nullable=True),
    # Roles (an account may hold several): an admin runs the community, a dispatcher works the console, a
    # member keeps their own units. Console login takes a password and the admin or dispatcher role.
    Column("is_admin", Boolean, nullable=False, default=False, server_default=false()),
    Column("is_dispatcher", Boolean, nullable=False, default=False, server_default=false()),
    Column("is_member", Boolean, nullable=False, default=False, server_default=false()),
    # Set by the operator: a disabled account cannot log in to the console; its data stays.
    Column("disabled_at", BigInteger, nullable=True),
    UniqueConstraint("community_id", "community_user_id", name="uq_accounts_community_user"),
    UniqueConstraint("community_id", "discord", name="uq_accounts_discord"),
    UniqueConstraint("community_id", "roblox", name="uq_accounts_roblox"),
    UniqueConstraint("community_id", "username", name="uq_accounts_username"),
)

# The older in-game identifiers of an account (``steam:...``, ``license:...``): v1 ``apiIds`` targets.
account_api_ids = Table(
    "account_api_ids",
    metadata,
    Column("community_id", ForeignKey("communities.community_id"), primary_key=True),
    Column("api_id", String(255), primary_key=True),
    Column("account_uuid", ForeignKey("accounts.account_uuid"), nullable=False, index=True),
)

identifiers = Table(
    "identifiers",
    metadata,
    Column("ident_id", Integer, primary_key=True),
    Column("community_id", ForeignKey("communities.community_id"), nullable=False),
    Column("account_uuid", ForeignKey("accounts.account_uuid"), nullable=False, index=True),
    Column("unit_num", String(32), nullable=False, default=""),
    Column("name", String(255), nullable=False, default=""),
    Column("department", String(255), nullable=False, default=""),
    Column("district", String(255), nullable=False, default="", server_default=""),
    Column("subdivision", String(255), nullable=False, default="", server_default=""),
    Column("rank", String(255), nullable=False, default="", server_default=""),
    # The persistent group (e.g. ``CAR-51``) that Set Identifier Group assigns; "" is none.
    Column("group_name", String(64), nullable=False, default="", server_default=""),
    # UNIT_PAGE: POLICE 0, FIRE 1, EMS 2, DISPATCH 3, UNKNOWN -1
    Column("page", Integer, nullable=False, default=-1, server_default="-1"),
    Column("aop", String(255), nullable=False, default="", server_default=""),
    Column("is_dispatch", Boolean, nullable=False, default=False, server_default=false()),
    # UNAVAILABLE 0, BUSY 1, AVAILABLE 2, ENROUTE 3, ON_SCENE 4, OFFLINE 100
    Column("status", Integer, nullable=False, default=0),
    Column("is_panic", Boolean, nullable=False, default=False),
    Column("location", String(255), nullable=False, default=""),
    Column("x", Float, nullable=True),
    Column("y", Float, nullable=True),
    Column("z", Float, nullable=True),
    Column("heading", Float, nullable=True),  # the docs' coordinates.w
    # When the unit last reported where it is (ms): the console draws an old position as stale.
    Column("located_at", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

selected_identifiers = Table(
    "selected_identifiers",
    metadata,
    Column("account_uuid", ForeignKey("accounts.account_uuid"), primary_key=True),
    Column("server_id", Integer, primary_key=True, autoincrement=False),
    Column("community_id", String(64), nullable=False),
    Column("ident_id", ForeignKey("identifiers.ident_id"), nullable=False),
    ForeignKeyConstraint(
        ["community_id", "server_id"],
        ["servers.community_id", "servers.server_id"],
        name="fk_selected_identifiers_server",
    ),
    # Counting a server's units (units.schemas.MAX_UNITS_PER_SERVER) is a range of this index.
    Index("ix_selected_identifiers_server", "community_id", "server_id"),
)
