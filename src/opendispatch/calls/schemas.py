"""Wire format of calls: what clients send and what they get back, named as in the reference."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from enum import IntEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from opendispatch.schemas import MAX_ID, Id
from opendispatch.units.schemas import (
    MAX_TARGETS,
    AccountRef,
    ExternalId,
    Targets,
    UserId,
    as_external_id,
    as_target,
    as_target_list,
)

# Limits chosen for metaData and text fields; docs/api.md lists them.
META_MAX_KEYS = 64
META_MAX_KEY_LENGTH = 64
META_MAX_VALUE_LENGTH = 1024
MAX_DELETE_AFTER_MINUTES = 525_600  # one year


class CallStatus(IntEnum):
    """CALL_STATUS of the reference."""

    PENDING = 0
    ACTIVE = 1
    CLOSED = 2


class CallOrigin(IntEnum):
    """CALL_ORIGIN of the reference, plus the two values newer clients send."""

    RADIO_DISPATCH = 0
    SELF_INITIATED = 1
    ORIGIN_2 = 2
    ORIGIN_3 = 3


class CallTableType(IntEnum):
    """CALL_TABLE_TYPE of the reference."""

    DISPATCH_CALL = 0
    EMERGENCY_CALL = 1
    SEARCH_ALL = 100


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def normalize_metadata(value: Any) -> dict[str, str]:
    """Check metaData and store numbers and booleans as their JSON text (``1000`` → ``"1000"``)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError("must be an object of string keys to string values")
    if len(value) > META_MAX_KEYS:
        raise ValueError(f"at most {META_MAX_KEYS} keys")
    normalized: dict[str, str] = {}
    for key, item in value.items():
        if not 0 < len(key) <= META_MAX_KEY_LENGTH:
            raise ValueError(f"keys are 1 to {META_MAX_KEY_LENGTH} characters")
        if isinstance(item, str):
            text = item
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValueError(f"{key!r} must be a finite number")
        elif isinstance(item, bool | int | float):
            text = json.dumps(item)
        else:
            raise ValueError(f"{key!r} must be a string, number or boolean, not {type(item).__name__}")
        if not _utf8(key + text):
            raise ValueError(f"{key!r} is not valid UTF-8 text (a lone surrogate)")
        if len(text) > META_MAX_VALUE_LENGTH:
            raise ValueError(f"{key!r} is longer than {META_MAX_VALUE_LENGTH} characters")
        normalized[key] = text
    return normalized


Text255 = Annotated[str, Field(max_length=255)]
Text1024 = Annotated[str, Field(max_length=1024)]
LongText = Annotated[str, Field(max_length=10_000)]
DeleteAfter = Annotated[int, Field(gt=0, le=MAX_DELETE_AFTER_MINUTES)]


class _Request(BaseModel):
    # Strict: "true" is not a boolean and "1" is not a number. Unknown keys are ignored.
    model_config = ConfigDict(strict=True, extra="ignore")


class NewEmergencyCall(_Request):
    """Body of Create 911 Call."""

    isEmergency: bool
    caller: Text255
    location: Text1024
    description: LongText
    deleteAfterMinutes: DeleteAfter | None = None
    metaData: dict[str, str] = Field(default_factory=dict)

    _metadata = field_validator("metaData", mode="plain")(normalize_metadata)

    model_config = ConfigDict(
        strict=True,
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "isEmergency": True,
                    "caller": "911 Caller",
                    "location": "Alta St / Integrity Way",
                    "description": "Shots fired",
                    "deleteAfterMinutes": 15,
                    "metaData": {
                        "source": "integration",
                        "x": "425.1",
                        "y": "-979.2",
                        "z": "30.7",
                        "postal": "9001",
                    },
                }
            ]
        },
    )


class NewNote(_Request):
    """A note sent with a new dispatch call; the server stamps the time when none is given."""

    label: Text255 = ""
    type: Annotated[str, Field(max_length=32)] = "text"
    content: LongText
    time: str | None = None

    @field_validator("time")
    @classmethod
    def _iso_time(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_note_time(value)
            except (ValueError, OverflowError):
                raise ValueError(
                    "must be an ISO-8601 time from year 1970 to 9999, e.g. 2026-04-08T21:30:00Z"
                ) from None
        return value


_CALL_TARGETS = (
    "communityUserIds",
    "accounts",
    "communityUserId",
    "units",
    "apiId",
    "apiIds",
    "accountUuid",
    "discord",
    "roblox",
)


class NewDispatchCall(_Request):
    """Body of Create Dispatch Call."""

    origin: Annotated[int, Field(ge=0, le=3)]
    status: Annotated[int, Field(ge=0, le=2)]
    priority: Annotated[int, Field(ge=1, le=3)]
    block: Text255
    address: Text1024
    postal: Annotated[str, Field(max_length=64)]
    title: Text255
    code: Annotated[str, Field(max_length=64)]
    description: LongText
    # Required, but the reference's example sends null: that means no notes.
    notes: list[NewNote] | None = Field(max_length=100)
    # The units to attach: any target of Set Unit Status but identIds (units.schemas.Targets).
    communityUserIds: list[UserId] | None = Field(None, max_length=MAX_TARGETS)
    accounts: list[AccountRef] | None = Field(None, max_length=MAX_TARGETS)
    communityUserId: UserId | None = None
    units: list[UserId] | None = Field(None, max_length=MAX_TARGETS)
    apiId: UserId | None = None
    apiIds: list[UserId] | None = Field(None, max_length=MAX_TARGETS)
    accountUuid: AccountRef | None = None
    discord: ExternalId | None = None
    roblox: ExternalId | None = None
    metaData: dict[str, str] = Field(default_factory=dict)
    deleteAfterMinutes: DeleteAfter | None = None

    _metadata = field_validator("metaData", mode="plain")(normalize_metadata)
    _lists = field_validator("communityUserIds", "accounts", "units", "apiIds", mode="before")(as_target_list)
    _ones = field_validator("communityUserId", "apiId", "accountUuid", mode="before")(as_target)
    _external = field_validator("discord", "roblox", mode="before")(as_external_id)

    @model_validator(mode="after")
    def _needs_targets(self) -> NewDispatchCall:
        if not self.model_fields_set & set(_CALL_TARGETS):
            raise ValueError("communityUserIds or accounts must be present (an empty array will do)")
        return self

    def targets(self) -> Targets:
        """The units to attach, as targets."""
        return Targets.model_construct(**{name: getattr(self, name) for name in _CALL_TARGETS})

    model_config = ConfigDict(
        strict=True,
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "origin": 0,
                    "status": 1,
                    "priority": 1,
                    "block": "100",
                    "address": "Mission Row",
                    "postal": "9001",
                    "title": "Armed Robbery",
                    "code": "211",
                    "description": "Clerk reports a firearm.",
                    "notes": [],
                    "communityUserIds": ["player-1234"],
                    "metaData": {"source": "integration", "x": "425.1", "y": "-979.2", "radius": "75"},
                }
            ]
        },
    )


class EmergencyCall(BaseModel):
    """A stored 911 call as every answer shows it."""

    callId: int
    isEmergency: bool
    caller: str
    location: str
    description: str
    metaData: dict[str, str]
    updated: str

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "callId": 302,
                    "isEmergency": True,
                    "caller": "Jane Doe",
                    "location": "Innocence Blvd",
                    "description": "Medical emergency reported.",
                    "metaData": {"phone": "555-0100", "x": "425.1", "y": "-979.2", "postal": "9001"},
                    "updated": "2026-04-08T21:31:00Z",
                }
            ]
        }
    )


class Note(BaseModel):
    """A note on a dispatch call."""

    time: str
    label: str
    type: str
    content: str


class DispatchCall(BaseModel):
    """A stored dispatch call as every answer shows it."""

    callId: int
    origin: int
    status: int
    priority: int
    block: str
    address: str
    postal: str
    title: str
    code: str
    primary: int
    trackPrimary: bool
    description: str
    notes: list[Note]
    idents: list[int]
    metaData: dict[str, str]
    updated: str


class CallListing(BaseModel):
    """Answer of Get Calls."""

    activeCalls: list[DispatchCall]
    emergencyCalls: list[EmergencyCall]
    closedCalls: list[DispatchCall]
    closedCallCount: int


def parse_note_time(value: str) -> int:
    """Epoch milliseconds of an ISO-8601 time; ValueError outside 1970-01-01 to 9999-12-31 UTC."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    in_utc = parsed.astimezone(UTC)  # OverflowError past year 9999 or before year 1
    if in_utc.year < 1970:
        raise ValueError("before 1970")
    return int(in_utc.timestamp() * 1000)


_TABLE_TYPE_NAMES = {
    "0": CallTableType.DISPATCH_CALL,
    "dispatch": CallTableType.DISPATCH_CALL,
    "1": CallTableType.EMERGENCY_CALL,
    "emergency": CallTableType.EMERGENCY_CALL,
    "100": CallTableType.SEARCH_ALL,
    "all": CallTableType.SEARCH_ALL,
}


def parse_table_type(value: Any) -> CallTableType:
    """CALL_TABLE_TYPE from its number or name (``0``/``dispatch``, ``1``/``emergency``, ``100``/``all``)."""
    found = _TABLE_TYPE_NAMES.get(str(value).strip().lower())
    if found is None:
        raise ValueError("must be one of 0, 1, 100, dispatch, emergency, all")
    return found


TableTypeParam = Annotated[CallTableType, BeforeValidator(parse_table_type)]


class DispatchCallChanges(_Request):
    """Body of ``PATCH .../dispatch-calls/{callId}``: only the fields sent change; metaData is replaced."""

    origin: Annotated[int, Field(ge=0, le=3)] | None = None
    status: Annotated[int, Field(ge=0, le=2)] | None = None
    priority: Annotated[int, Field(ge=1, le=3)] | None = None
    block: Text255 | None = None
    address: Text1024 | None = None
    postal: Annotated[str, Field(max_length=64)] | None = None
    title: Text255 | None = None
    code: Annotated[str, Field(max_length=64)] | None = None
    description: LongText | None = None
    metaData: dict[str, str] | None = None

    _metadata = field_validator("metaData", mode="plain")(normalize_metadata)

    def changes(self) -> dict[str, Any]:
        """The fields the client sent, by wire name (null counts as not sent)."""
        return {name: value for name, value in self if name in self.model_fields_set and value is not None}


class NewCallNote(_Request):
    """Body of ``POST .../dispatch-calls/{callId}/notes``."""

    note: Annotated[str, Field(min_length=1, max_length=10_000)]
    noteType: Literal["text", "link"] = "text"
    label: Text255 = ""


class CallNoteAdded(BaseModel):
    """Answer of adding a note."""

    callId: int
    note: Note


class CloseCalls(_Request):
    """Body of ``POST .../dispatch-calls/close``."""

    callIds: list[Id] = Field(min_length=1, max_length=100)


class ClosedCalls(BaseModel):
    """Answer of closing calls."""

    callIds: list[int]


class SetPostal(_Request):
    """Body of ``PATCH .../dispatch-calls/{callId}/postal``."""

    postal: Annotated[str, Field(max_length=64)]


class SetPrimary(_Request):
    """Body of ``PATCH .../dispatch-calls/{callId}/primary``; ``identId`` -1 clears the primary."""

    identId: Annotated[int, Field(ge=-1, le=MAX_ID)]
    trackPrimary: bool = False


class RemovedEmergencyCall(BaseModel):
    """Answer of removing a 911 call."""

    callId: int
    serverId: int


class UnitsAttached(BaseModel):
    """Answer of attaching units to a call."""

    callId: int
    identIds: list[int]
