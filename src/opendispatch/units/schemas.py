"""Wire format of accounts and units."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, RootModel, field_validator, model_validator

from opendispatch.schemas import Id


class UnitStatus(IntEnum):
    """A unit's duty status (UNIT_STATUS)."""

    UNAVAILABLE = 0
    BUSY = 1
    AVAILABLE = 2
    ENROUTE = 3
    ON_SCENE = 4
    OFFLINE = 100


class UnitPage(IntEnum):
    """The CAD page an identifier works on (UNIT_PAGE)."""

    UNKNOWN = -1
    POLICE = 0
    FIRE = 1
    EMS = 2
    DISPATCH = 3


@dataclass(frozen=True, slots=True)
class NewAccount:
    """What `account create` hands back, the secret uuid in clear for the only time."""

    account_uuid: str
    secret_uuid: str


MAX_TARGETS = 100
# Bounds of what units store; docs/api.md ("Limits") lists them with the answer over each.
MAX_IDENTIFIERS_PER_ACCOUNT = 25  # a member's units across departments and ranks, with room to spare
# Accounts with a unit selected on one server: what OneSync's largest server holds in players at once.
MAX_UNITS_PER_SERVER = 2048
MAX_UNITS_PAGE = 500  # units in one answer of Get Active Units or Get Account Units (limit)
# A unit as answered at its longest: every text field full, each character escaped in JSON (6 bytes).
MAX_UNIT_BYTES = 16 * 1024
# An empty id names nothing (an unlinked player's): it is left out, not refused.
UserId = Annotated[str, Field(max_length=255)]
AccountRef = Annotated[str, Field(max_length=64)]
ExternalId = Annotated[str, Field(max_length=64)]
GroupName = Annotated[str, Field(max_length=64)]


def _empty(value: Any) -> bool:
    return isinstance(value, list | dict) and not value


def as_target_list(value: Any) -> Any:
    # A single target arrives as a bare value (the reference's own example); Lua's empty table as [] or {}.
    if value is None:
        return None
    if _empty(value):
        return []
    return value if isinstance(value, list) else [value]


def as_target(value: Any) -> Any:
    # Lua's empty table means absent.
    return None if _empty(value) else value


def as_external_id(value: Any) -> Any:
    # Discord and Roblox ids arrive as numbers from some clients (the docs type roblox as an integer).
    if _empty(value):
        return None
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class _Request(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


# The fields of Targets, in the order their units are listed.
TARGET_FIELDS = (
    "communityUserId",
    "communityUserIds",
    "units",
    "apiId",
    "apiIds",
    "accountUuid",
    "accounts",
    "discord",
    "roblox",
    "groupName",
    "identIds",
)


_NAMED_ONE: dict[str, Any] = {"type": "string", "minLength": 1}
_NAMED_SOME: dict[str, Any] = {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}}
# ``Targets.named()`` (which ``resolve_target_units`` requires) in the OpenAPI document: some target names
# something. (An empty id names nothing and is left out, so a list of empty ids names nothing either.)
ONE_TARGET_NAMED: dict[str, Any] = {
    "anyOf": [
        {"required": [name], "properties": {name: _NAMED_ONE}}
        for name in ("communityUserId", "apiId", "accountUuid", "discord", "roblox", "groupName")
    ]
    + [
        {"required": [name], "properties": {name: _NAMED_SOME}}
        for name in ("communityUserIds", "units", "apiIds", "accounts")
    ]
    + [{"required": ["identIds"], "properties": {"identIds": {"type": "array", "minItems": 1}}}]
}


class Targets(_Request):
    """Units named by in-game ids, accounts, Discord or Roblox ids, a group, or identifier ids.

    ``communityUserId(s)``, ``units`` (what the in-game resource sends) and ``apiId(s)`` are in-game ids:
    each names the account linked to it or holding it as an API id. Every target names that account's
    selected identifier on the server; ``groupName`` the units of that group on it; ``identIds`` units
    directly.
    """

    model_config = ConfigDict(strict=True, extra="ignore", json_schema_extra=ONE_TARGET_NAMED)

    communityUserId: UserId | None = None
    communityUserIds: list[UserId] | None = Field(None, max_length=MAX_TARGETS)
    units: list[UserId] | None = Field(None, max_length=MAX_TARGETS)
    apiId: UserId | None = None
    apiIds: list[UserId] | None = Field(None, max_length=MAX_TARGETS)
    accountUuid: AccountRef | None = None
    accounts: list[AccountRef] | None = Field(None, max_length=MAX_TARGETS)
    discord: ExternalId | None = None
    roblox: ExternalId | None = None
    groupName: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    identIds: list[Id] | None = Field(None, max_length=MAX_TARGETS)

    _lists = field_validator("communityUserIds", "units", "apiIds", "accounts", "identIds", mode="before")(
        as_target_list
    )
    _ones = field_validator("communityUserId", "apiId", "accountUuid", "groupName", mode="before")(as_target)
    _external = field_validator("discord", "roblox", mode="before")(as_external_id)

    def in_game_ids(self) -> list[str]:
        """The in-game ids named, in order: communityUserId(s), units, apiId(s)."""
        return _joined(self.communityUserId, self.communityUserIds, self.units, self.apiId, self.apiIds)

    def account_uuids(self) -> list[str]:
        """The account uuids named."""
        return _joined(self.accountUuid, self.accounts)

    def key(self) -> tuple[Any, ...]:
        """The targets alone, hashable: two reports with equal keys name the same units."""
        idents = tuple(self.identIds or ())
        return (
            *self.in_game_ids(),
            "|",
            *self.account_uuids(),
            "|",
            self.discord,
            self.roblox,
            self.groupName,
            idents,
        )

    def named(self) -> bool:
        """Whether any target was given at all."""
        return bool(
            self.in_game_ids()
            or self.account_uuids()
            or self.discord
            or self.roblox
            or self.groupName
            or self.identIds
        )


def _joined(*parts: str | list[str] | None) -> list[str]:
    joined: list[str] = []
    for part in parts:
        if isinstance(part, str):
            joined += [part] if part else []
        elif part:
            joined += [each for each in part if each]
    return joined


def _unit_status(value: int) -> int:
    if value not in set(UnitStatus):
        raise ValueError("must be a UNIT_STATUS: 0, 1, 2, 3, 4 or 100")
    return value


def _unit_page(value: int) -> int:
    if value not in set(UnitPage):
        raise ValueError("must be a UNIT_PAGE: -1, 0, 1, 2 or 3")
    return value


Status = Annotated[int, AfterValidator(_unit_status)]
Page = Annotated[int, AfterValidator(_unit_page)]


class UnitStatusChange(Targets):
    """Body of ``PATCH .../units/status``."""

    status: Status


class UnitPanicChange(Targets):
    """Body of ``PATCH .../units/panic``."""

    isPanic: bool


class Coordinates(BaseModel):
    """Game coordinates of a unit; ``w`` is its heading."""

    # NaN would be stored as NULL and break every later listing; beyond 1e7 is no game map.
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)

    x: Annotated[float, Field(ge=-1e7, le=1e7)]
    y: Annotated[float, Field(ge=-1e7, le=1e7)]
    z: Annotated[float, Field(ge=-1e7, le=1e7)] = 0.0
    w: Annotated[float, Field(ge=-1e7, le=1e7)] | None = None


Ordinate = Annotated[float, Field(ge=-1e7, le=1e7)]


class LocationUpdate(Targets):
    """One unit's reported location: any target, and ``coordinates`` or the flat ``x, y, z, heading``."""

    # A report that names no unit is skipped, not refused: no target rule here.
    model_config = ConfigDict(strict=True, extra="ignore", allow_inf_nan=False, json_schema_extra=None)

    identId: Id | None = None
    location: Annotated[str, Field(max_length=255)] = ""
    coordinates: Coordinates | None = None
    x: Ordinate | None = None
    y: Ordinate | None = None
    z: Ordinate | None = None
    heading: Ordinate | None = None

    _no_coordinates = field_validator("coordinates", mode="before")(as_target)

    @model_validator(mode="after")
    def _flat_form(self) -> LocationUpdate:
        if self.identId is not None:
            self.identIds = [*(self.identIds or []), self.identId]
        if self.coordinates is None and (self.x is not None or self.y is not None):
            if self.x is None or self.y is None:
                raise ValueError("x and y are sent together")
            self.coordinates = Coordinates(x=self.x, y=self.y, z=self.z or 0.0, w=self.heading)
        elif self.coordinates is not None and self.coordinates.w is None and self.heading is not None:
            self.coordinates.w = self.heading
        return self


@dataclass(frozen=True, slots=True)
class UnitPosition:
    """Where a unit was at a moment: location text, and coordinates unless the report had none."""

    ident_id: int
    location: str
    x: float | None
    y: float | None
    z: float | None
    heading: float | None
    at: int  # ms since the epoch

    @classmethod
    def of(cls, ident_id: int, report: LocationUpdate, at: int) -> UnitPosition:
        """The position a report gives one of the units it names."""
        point = report.coordinates
        if point is None:
            return cls(ident_id, report.location, None, None, None, None, at)
        return cls(ident_id, report.location, point.x, point.y, point.z, point.w, at)

    def as_json(self) -> dict[str, Any]:
        """The position as live streams send it: the docs' ``location`` and ``coordinates``."""
        coordinates = None
        if self.x is not None:
            coordinates = {"x": self.x, "y": self.y, "z": self.z, "w": self.heading}
        return {
            "identId": self.ident_id,
            "location": self.location,
            "coordinates": coordinates,
            "at": self.at,
        }


class UnitLocations(_Request):
    """Body of ``PATCH .../unit-locations``."""

    updates: list[LocationUpdate] = Field(min_length=1, max_length=500)


class Unit(BaseModel):
    """A unit on a server with everything the console and the listings show of it."""

    identId: int
    accountUuid: str
    communityUserId: str | None
    unitNum: str
    name: str
    department: str
    district: str = ""
    subdivision: str = ""
    rank: str = ""
    group: str = ""
    page: int = -1
    aop: str = ""
    isDispatch: bool = False
    status: int
    isPanic: bool
    location: str
    coordinates: Coordinates | None
    locatedAt: int | None = None  # when the unit last reported its position (ms); the console's staleness
    callId: int | None


class UnitRecord(Unit):
    """A unit as the operator's command line shows it: whose it is and the servers it is selected on."""

    username: str
    selectedOn: list[int]


class UnitList(BaseModel):
    """Units and how many there are in all."""

    units: list[Unit]
    total: int


class UnitData(BaseModel):
    """The ``data`` of a unit as the docs show it."""

    unitNum: str
    name: str
    district: str
    department: str
    subdivision: str
    rank: str
    group: str
    page: int
    communityUserId: str | None


class ActiveUnit(BaseModel):
    """A unit as Get Active Units, Get Account Units and the identifier answers show it."""

    id: int
    accId: str
    status: int
    isPanic: bool
    location: str
    coordinates: Coordinates | None
    aop: str
    data: UnitData
    isDispatch: bool


class ActiveUnits(RootModel[list[ActiveUnit]]):
    """Answer of ``GET .../units``: a bare array."""


class AccountUnits(BaseModel):
    """Answer of ``GET .../accounts/{accountUuid}/units``."""

    Units: list[ActiveUnit]


def active_unit(unit: Unit) -> ActiveUnit:
    """A unit in the docs' shape."""
    return ActiveUnit(
        id=unit.identId,
        accId=unit.accountUuid,
        status=unit.status,
        isPanic=unit.isPanic,
        location=unit.location,
        coordinates=unit.coordinates,
        aop=unit.aop,
        data=UnitData(
            unitNum=unit.unitNum,
            name=unit.name,
            district=unit.district,
            department=unit.department,
            subdivision=unit.subdivision,
            rank=unit.rank,
            group=unit.group,
            page=unit.page,
            communityUserId=unit.communityUserId,
        ),
        isDispatch=unit.isDispatch,
    )


class AffectedUnits(BaseModel):
    """Which units a change reached."""

    identIds: list[int]


class UnitsUpdated(AffectedUnits):
    """Which units a change reached, and how many (the docs' ``updated``)."""

    updated: int = 0

    @model_validator(mode="after")
    def _count(self) -> UnitsUpdated:
        self.updated = len(self.identIds)
        return self


class UnitStatusChanged(UnitsUpdated):
    """Answer of ``PATCH .../units/status``: the status by its name, as the docs show it."""

    status: str


class UnitPanicChanged(UnitsUpdated):
    """Answer of ``PATCH .../units/panic``."""

    isPanic: bool


class KickOrder(Targets):
    """One kick: the unit (``communityUserId``, ``roblox``, ``discord`` or any target) and why."""

    reason: Annotated[str, Field(max_length=255)] = ""


class KickOrders(RootModel[KickOrder | list[KickOrder]]):
    """Body of ``POST|DELETE .../units/kick``: one kick, or an array of them."""

    root: KickOrder | Annotated[list[KickOrder], Field(min_length=1, max_length=MAX_TARGETS)]


class Kicked(BaseModel):
    """Answer of a single kick."""

    identId: int
    reason: str


class KickedUnit(Kicked):
    """One unit of a batch kick."""

    communityUserId: str | None


class KickedBatch(BaseModel):
    """Answer of a batch kick: the units kicked (kicks naming no unit on duty are skipped)."""

    count: int
    kicked: list[KickedUnit]


class GroupSet(BaseModel):
    """Answer of Set Identifier Group."""

    ok: bool
    identIds: list[int]


class Identifier(BaseModel):
    """An account's identifier (unit): its fields flat, and as the docs' unit object under ``identifier``."""

    identId: int
    unitNum: str
    name: str
    department: str
    district: str
    subdivision: str
    rank: str
    group: str
    page: int
    aop: str
    isDispatch: bool
    status: int
    isPanic: bool
    identifier: ActiveUnit


class IdentifierList(BaseModel):
    """Answer of ``GET /v2/emergency/accounts/{uuid}/identifiers``.

    ``SelectedIdent`` and ``Identifiers`` are the docs'; ``selected`` (per server) and ``identifiers`` are
    kept for the clients written against the first answer.
    """

    SelectedIdent: int | None
    Identifiers: list[ActiveUnit]
    identifiers: list[Identifier]
    selected: dict[str, int]


class IdentifierSelected(IdentifierList):
    """Answer of Set Selected Identifier: the docs' ``{serverId, isDispatch, identifier}`` and the list."""

    serverId: int | None
    isDispatch: bool
    identifier: ActiveUnit


class IdentifierDeleted(IdentifierList):
    """Answer of Delete Identifier: the docs' ``{identId, serverId}`` and the remaining identifiers."""

    identId: int
    serverId: int | None


Text255 = Annotated[str, Field(max_length=255)]


class NewIdentifier(_Request):
    """Body of ``POST .../accounts/{uuid}/identifiers``: every field optional, defaults as the docs'."""

    status: Status = 0
    aop: Text255 = ""
    unitNum: Annotated[str, Field(max_length=32)] = "NEW UNIT"
    name: Text255 = "NO NAME"
    district: Text255 = "NOT SET"
    department: Text255 = "NOT SET"
    subdivision: Text255 = "NOT SET"
    rank: Text255 = "NOT SET"
    group: GroupName = ""
    page: Page = -1
    isDispatch: bool = False


class IdentifierChanges(NewIdentifier):
    """Body of ``PATCH .../identifiers/{identId}``: only the fields sent change."""


# Identifier fields of the wire and their columns.
IDENTIFIER_COLUMNS = {
    "status": "status",
    "aop": "aop",
    "unitNum": "unit_num",
    "name": "name",
    "district": "district",
    "department": "department",
    "subdivision": "subdivision",
    "rank": "rank",
    "group": "group_name",
    "page": "page",
    "isDispatch": "is_dispatch",
}


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
