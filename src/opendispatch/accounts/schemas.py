"""Wire format of the general account operations: accounts, API ids, secrets and link codes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator

# The permission names of the docs' Account Object, every one answered (true or false).
PERMISSIONS = (
    "admin",
    "adminAccounts",
    "adminCustomization",
    "adminDepartments",
    "adminDiscordIntegration",
    "adminInGameIntegration",
    "adminLimits",
    "adminLogs",
    "adminPenalCodes",
    "adminPermissionKeys",
    "adminTenCodes",
    "civilian",
    "dispatch",
    "dmv",
    "dmvRecAdd",
    "dmvRecEdit",
    "dmvRecRemove",
    "dmvSuper",
    "ems",
    "fire",
    "fireRecAdd",
    "fireRecEdit",
    "fireRecRemove",
    "fireSuper",
    "lawRecAdd",
    "lawRecEdit",
    "lawRecRemove",
    "lawSuper",
    "lawyer",
    "liveMap",
    "medRecAdd",
    "medRecEdit",
    "medRecRemove",
    "medSuper",
    "modifyStreetSigns",
    "police",
    "polEditOtherUnit",
    "polEditUnit",
    "polRecAdd",
    "polRecEdit",
    "polRecRemove",
    "polSuper",
    "selfDispatch",
)
# Roles an account may hold, any number of them: an admin runs the community, a dispatcher works the
# console, a member keeps their own units. Each is a boolean column ``is_<role>`` of ``accounts``.
ROLES = ("admin", "dispatcher", "member")
# The operator's `account create` asks a password for these; with a password any role may log in (a
# member to its own page only).
CONSOLE_ROLES = frozenset({"admin", "dispatcher"})
MAX_API_IDS = 20  # per account: a player's identifiers (license, steam, discord, fivem, xbl, live, ...)
LinkId = Annotated[str, Field(min_length=1, max_length=255)]


class AccountStatus(IntEnum):
    """ACCOUNT_STATUS of the docs; every account made here is VALIDATED."""

    PENDING = 0
    VALIDATED = 1
    EXPIRED = 2
    REMOVED = 3
    BANNED = 4


class _Request(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


def _number_as_text(value: Any) -> Any:
    # Roblox ids are integers in the docs and strings in some clients; either names the same account.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _empty_table_as_list(value: Any) -> Any:
    # Lua writes an empty table as {} or [], whichever it guesses.
    return [] if value == {} else value


class Account(BaseModel):
    """The docs' Account Object, with the account's Discord and Roblox ids when it has them."""

    uuid: str
    username: str
    communityUserId: str | None
    status: int
    joined: str
    lastLogin: str | None
    permissions: dict[str, bool]
    discord: str | None = None
    roblox: str | None = None


class AccountSummary(BaseModel):
    """An account as the operator's command line shows it: who, their ids, roles and switches."""

    accountUuid: str
    username: str
    communityUserId: str | None
    discord: str | None
    roblox: str | None
    roles: list[str]
    hasPassword: bool
    disabled: bool
    disabledAt: str | None
    created: str
    lastLogin: str | None
    apiIds: list[str]
    identifiers: int


class Pagination(BaseModel):
    """Where a page of accounts sits in the whole list."""

    limit: int
    offset: int
    total: int


class AccountList(BaseModel):
    """Answer of ``GET /v2/general/accounts``."""

    pagination: Pagination
    accounts: list[Account]


@dataclass(frozen=True, slots=True)
class AccountLookup:
    """The one identifier ``GET /v2/general/accounts/account`` (and v1 GET_ACCOUNT) names an account by."""

    communityUserId: str | None = None
    roblox: str | None = None
    discord: str | None = None
    accountUuid: str | None = None
    username: str | None = None

    def given(self) -> dict[str, str]:
        """The identifiers that were sent."""
        return {name: value for name in self.__slots__ if (value := getattr(self, name)) is not None}


class ApiIdHolder(BaseModel):
    """Answer of ``GET /v2/general/api-ids/{apiId}``: the account that holds the API id."""

    apiId: str
    accountUuid: str
    username: str
    communityUserId: str | None


class ApiIdsChange(_Request):
    """Body of ``PUT /v2/general/api-ids``: one account (by any one identifier) and its API ids."""

    username: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    accountUuid: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    communityUserId: LinkId | None = None
    discord: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    roblox: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    apiIds: list[LinkId] = Field(max_length=MAX_API_IDS)
    # True: add these to the account's API ids; false (the default): they replace them.
    pushNew: bool = False
    sessionId: Annotated[str, Field(max_length=255)] | None = None  # the hosted product's; unused here

    # resolve_account's rule in the OpenAPI document: exactly one identifier names the account.
    model_config = ConfigDict(
        strict=True,
        extra="ignore",
        json_schema_extra={
            "oneOf": [
                {"required": [name], "properties": {name: {"type": "string"}}}
                for name in ("username", "accountUuid", "communityUserId", "discord", "roblox")
            ]
        },
    )

    _roblox = field_validator("roblox", mode="before")(_number_as_text)
    _no_empty_table = field_validator("apiIds", mode="before")(_empty_table_as_list)

    def lookup(self) -> AccountLookup:
        """The account this change names."""
        return AccountLookup(
            communityUserId=self.communityUserId,
            roblox=self.roblox,
            discord=self.discord,
            accountUuid=self.accountUuid,
            username=self.username,
        )


class ApiIds(BaseModel):
    """Answer of ``PUT /v2/general/api-ids``: the account's API ids after the change."""

    accountUuid: str
    apiIds: list[str]


class SecretCheck(_Request):
    """Body of ``POST /v2/general/secrets/verify``."""

    secret: Annotated[str, Field(min_length=1, max_length=64)]


class VerifiedSecret(RootModel[dict[str, str]]):
    """Answer of ``POST /v2/general/secrets/verify``: ``{<secret>: <account uuid>}``."""


class LinkCodeRequest(_Request):
    """Body of ``POST /v2/general/links``."""

    communityUserId: LinkId


class LinkCode(BaseModel):
    """Answer of ``POST /v2/general/links``: the code, and the page where an account redeems it."""

    code: str
    communityUserId: str
    communityUuid: str
    expiresAt: str
    expiresInSeconds: int
    url: str = ""


class LinkRedeem(_Request):
    """Body of the console's ``POST /console/api/links/redeem``."""

    code: Annotated[str, Field(min_length=1, max_length=16)]


# -- invites and password resets: one-time links an admin hands out ------------------------------------


MAX_INVITE_HOURS = 7 * 24  # how long an admin may let an invite or reset link live


class InviteKind:
    """What an invite link does: let a new person join, or set an existing account's new password."""

    JOIN = "join"
    RESET = "reset"


class Invite(BaseModel):
    """An outstanding invite or password-reset link as the admin pages list it (never its token)."""

    inviteId: int
    kind: str  # join | reset
    roles: list[str]
    accountUuid: str | None  # the account a reset is for
    username: str | None
    createdBy: str | None  # the admin's username, while that account exists
    created: str
    expires: str


class InviteLink(Invite):
    """An invite just made: its token, shown this once (the link is ``/console/invite?token=...``)."""

    token: str
    url: str = ""


class InviteCheck(_Request):
    """Body of the invite page's ``POST /console/api/invite/check``."""

    token: Annotated[str, Field(min_length=1, max_length=128)]


class InviteInfo(BaseModel):
    """What the invite page shows before the invited person answers it."""

    kind: str
    communityId: str
    communityName: str
    username: str | None  # a reset's account; a join picks its own
    roles: list[str]
    expires: str


class InviteAnswer(InviteCheck):
    """Body of ``POST /console/api/invite/accept``: the username (for a join) and the password."""

    username: Annotated[str, Field(max_length=255)] = ""
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class InviteAccepted(BaseModel):
    """An invite answered: the account it made (or whose password it set)."""

    kind: str
    accountUuid: str
    username: str
    communityId: str
    roles: list[str]
    loggedIn: bool = False  # a session was opened too (not for a disabled account)
