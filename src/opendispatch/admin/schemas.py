"""Shapes of the admin pages' answers."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from opendispatch.accounts.schemas import MAX_INVITE_HOURS, AccountSummary, Invite
from opendispatch.calls.schemas import DispatchCall
from opendispatch.communities.schemas import Server
from opendispatch.schemas import Id
from opendispatch.units.schemas import Identifier, IdentifierChanges, NewIdentifier, UnitRecord


class AuditEntry(BaseModel):
    """One admin action: who, when, what, to what."""

    entryId: int
    at: str  # ISO 8601, UTC
    actor: str
    actorAccountUuid: str
    action: str
    target: str
    detail: dict[str, Any]


class AuditPage(BaseModel):
    """A page of the audit log, newest first; ``before`` asks for the next page."""

    entries: list[AuditEntry]
    before: int | None


# -- members and their units (admin/members.py) ---------------------------------------------------------


class _Request(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


RoleName = Annotated[str, Field(min_length=1, max_length=16)]


class MemberList(BaseModel):
    """The community's accounts by username, and its invite and reset links still open."""

    members: list[AccountSummary]
    invites: list[Invite]


class NewInvite(_Request):
    """Body of ``POST /console/api/admin/members/invites``: the roles the new member gets."""

    roles: list[RoleName] = Field(min_length=1, max_length=3)
    hours: Annotated[int, Field(ge=1, le=MAX_INVITE_HOURS)] = 72


class PasswordReset(_Request):
    """Body of ``POST /console/api/admin/members/{accountUuid}/password-reset``."""

    hours: Annotated[int, Field(ge=1, le=MAX_INVITE_HOURS)] = 72


class MemberChange(_Request):
    """Body of ``PATCH /console/api/admin/members/{accountUuid}``: what is sent changes ("" clears an id)."""

    roles: list[RoleName] | None = Field(None, max_length=3)  # the whole set the account holds after
    communityUserId: Annotated[str, Field(max_length=255)] | None = None
    discord: Annotated[str, Field(max_length=64)] | None = None
    roblox: Annotated[str, Field(max_length=64)] | None = None

    @field_validator("discord", "roblox", mode="before")
    @classmethod
    def _number_as_text(cls, value: Any) -> Any:
        # Discord and Roblox ids are digits; a form or a script may send them as numbers.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class MemberSwitch(_Request):
    """Body of ``PUT /console/api/admin/members/{accountUuid}/disabled``."""

    disabled: bool


Text255 = Annotated[str, Field(max_length=255)]


class UnitFields(_Request):
    """A unit's descriptive fields, as a member or an admin edits them; what is not sent stays."""

    unitNum: Annotated[str, Field(max_length=32)] | None = None
    name: Text255 | None = None
    department: Text255 | None = None
    district: Text255 | None = None
    subdivision: Text255 | None = None
    rank: Text255 | None = None
    group: Annotated[str, Field(max_length=64)] | None = None

    def changes(self) -> IdentifierChanges:
        """The fields sent (null ones left out), as the units service takes them."""
        return IdentifierChanges(**{name: getattr(self, name) for name in self.sent()})

    def new(self) -> NewIdentifier:
        """A new identifier with the fields sent, the docs' defaults for the rest."""
        return NewIdentifier(**{name: getattr(self, name) for name in self.sent()})

    def sent(self) -> list[str]:
        """The names of the fields sent with a value."""
        return [name for name in self.model_fields_set if getattr(self, name) is not None]


class UnitChoice(_Request):
    """Body of ``PUT /console/api/admin/units/{identId}/selected``: the server to select it on."""

    serverId: Id


class MyUnitChoice(UnitChoice):
    """Body of ``PUT /console/api/me/selected-identifier``: one of the member's units, and the server."""

    identId: Id


class UnitRecords(BaseModel):
    """Every unit of the community by identId, whose it is and where it is selected."""

    units: list[UnitRecord]


# -- a member's own page (admin/me.py) ------------------------------------------------------------------


class MyCall(BaseModel):
    """The open dispatch call the member's unit is on."""

    serverId: int
    identId: int
    call: DispatchCall


class MyPage(BaseModel):
    """What a member's page shows: who, their units, which is selected per server, their current call."""

    accountUuid: str
    username: str
    roles: list[str]
    communityUserId: str | None
    servers: list[Server]
    identifiers: list[Identifier]
    selected: dict[str, int]  # server id → the unit selected there
    currentCall: MyCall | None
