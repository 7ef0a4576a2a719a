"""Wire format of accounts and units."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from opendispatch.schemas import Id


class UnitStatus(IntEnum):
    """A unit's duty status."""

    UNAVAILABLE = 0
    BUSY = 1
    AVAILABLE = 2
    ENROUTE = 3
    ON_SCENE = 4


@dataclass(frozen=True, slots=True)
class NewAccount:
    """What `account create` hands back, the secret uuid in clear for the only time."""

    account_uuid: str
    secret_uuid: str


def _as_list(value: Any) -> Any:
    # Clients send a single target as a bare string; the reference's own example does.
    return [value] if isinstance(value, str | int) and not isinstance(value, bool) else value


class _Request(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class Targets(_Request):
    """Units named by linked community user ids, account uuids or identifier ids."""

    communityUserIds: list[Annotated[str, Field(max_length=255)]] | None = Field(None, max_length=100)
    accounts: list[Annotated[str, Field(max_length=64)]] | None = Field(None, max_length=100)
    identIds: list[Id] | None = Field(None, max_length=100)

    _lists = field_validator("communityUserIds", "accounts", "identIds", mode="before")(_as_list)

    def named(self) -> bool:
        """Whether any target was given at all."""
        return bool(self.communityUserIds or self.accounts or self.identIds)


class UnitStatusChange(Targets):
    """Body of ``PATCH .../units/status``."""

    status: Annotated[int, Field(ge=0, le=4)]


class UnitPanicChange(Targets):
    """Body of ``PATCH .../units/panic``."""

    isPanic: bool


class Coordinates(BaseModel):
    """Game coordinates of a unit."""

    # NaN would be stored as NULL and break every later listing; beyond 1e7 is no game map.
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)

    x: Annotated[float, Field(ge=-1e7, le=1e7)]
    y: Annotated[float, Field(ge=-1e7, le=1e7)]
    z: Annotated[float, Field(ge=-1e7, le=1e7)] = 0.0


class LocationUpdate(_Request):
    """One unit's reported location, named by its linked community user id (or account or identId)."""

    communityUserId: Annotated[str, Field(max_length=255)] | None = None
    accountUuid: Annotated[str, Field(max_length=64)] | None = None
    identId: Id | None = None
    location: Annotated[str, Field(max_length=255)] = ""
    coordinates: Coordinates | None = None


class UnitLocations(_Request):
    """Body of ``PATCH .../unit-locations``."""

    updates: list[LocationUpdate] = Field(min_length=1, max_length=500)


class Unit(BaseModel):
    """A unit on a server as ``GET .../units`` lists it."""

    identId: int
    accountUuid: str
    communityUserId: str | None
    unitNum: str
    name: str
    department: str
    status: int
    isPanic: bool
    location: str
    coordinates: Coordinates | None
    callId: int | None


class UnitList(BaseModel):
    """Answer of ``GET .../units``."""

    units: list[Unit]
    total: int


class AffectedUnits(BaseModel):
    """Which units a change reached."""

    identIds: list[int]


class UnitStatusChanged(AffectedUnits):
    """Answer of ``PATCH .../units/status``."""

    status: int


class UnitPanicChanged(AffectedUnits):
    """Answer of ``PATCH .../units/panic``."""

    isPanic: bool


class Identifier(BaseModel):
    """An account's identifier (unit)."""

    identId: int
    unitNum: str
    name: str
    department: str
    status: int
    isPanic: bool


class IdentifierList(BaseModel):
    """Answer of ``GET /v2/emergency/accounts/{uuid}/identifiers``."""

    identifiers: list[Identifier]
    selected: dict[str, int]


class NewIdentifier(_Request):
    """Body of ``POST /v2/emergency/accounts/{uuid}/identifiers``."""

    unitNum: Annotated[str, Field(max_length=32)] = ""
    name: Annotated[str, Field(max_length=255)] = ""
    department: Annotated[str, Field(max_length=255)] = ""


class IdentifierChanges(NewIdentifier):
    """Body of ``PATCH .../identifiers/{identId}``: only the fields sent change."""


class SelectIdentifier(_Request):
    """Body of ``PUT .../selected-identifier``: on one server, or every server when none is named."""

    identId: Id
    serverId: Id | None = None


class LinkSet(_Request):
    """Body of ``POST /v2/general/links/set``."""

    accountUuid: Annotated[str, Field(max_length=64)]
    secretUuid: Annotated[str, Field(max_length=64)]
    communityUserId: Annotated[str, Field(min_length=1, max_length=255)]


class LinkCheck(_Request):
    """Body of ``POST /v2/general/links/check``."""

    communityUserId: Annotated[str, Field(min_length=1, max_length=255)]


class Link(BaseModel):
    """Whether a community user id is linked, and to which account."""

    linked: bool
    accountUuid: str | None
    communityUserId: str
