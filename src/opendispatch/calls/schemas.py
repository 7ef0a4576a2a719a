"""Wire format of calls: what clients send and what they get back, named as in the reference."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from enum import IntEnum
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    RootModel,
    computed_field,
    field_validator,
    model_validator,
)

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
# The whole object, as compact UTF-8 JSON (as clients send it): 64 keys of 1024 characters would not fit
# a request body (OPENDISPATCH_MAX_BODY_BYTES, 64 KiB); this does, with every other field of a call at
# its own bound.
META_MAX_BYTES = 16 * 1024
MAX_DELETE_AFTER_MINUTES = 525_600  # one year

# Bounds of what a server's calls store; docs/api.md ("Limits") lists them with the answer over each.
MAX_TEXT_LENGTH = 10_000  # a description, a note's content
MAX_CALL_NOTES = 100  # notes on one dispatch call: a long pursuit's log, with room to spare
# A call as answered, its notes and metaData included and its ``idents`` aside (bounded on their own), in
# UTF-8 JSON bytes: what every answer and event carrying the call may weigh. A 10 000-character
# description and fifty notes of 300 characters fit.
MAX_CALL_BYTES = 32 * 1024
# A 911 call the same way: its 10 000-character description and a few kilobytes of metaData fit.
MAX_EMERGENCY_CALL_BYTES = 16 * 1024
MAX_CALL_UNITS = 100  # units attached to one dispatch call at once (one request's targets)
# 911 calls in a server's queue at once: alert scripts (shots fired, a stolen car) open one per alert
# with a deleteAfterMinutes of a few minutes, so a busy server holds hundreds; a person reads 50.
MAX_OPEN_EMERGENCY_CALLS = 500
MAX_OPEN_DISPATCH_CALLS = 100  # pending and active dispatch calls of a server at once
MAX_CLOSED_PAGE = 100  # closed calls in one answer of Get Calls (closedLimit)
# What one event about a call may carry: a dispatch call with the ids of its units (a dispatch edit
# carries the call as it is, so it is bounded by the call), or a 911 call, which carries its metaData twice.
MAX_CALL_EVENT_BYTES = max(MAX_CALL_BYTES + MAX_CALL_UNITS * 11, 2 * MAX_EMERGENCY_CALL_BYTES) + 1024
# What ``idents`` adds to a call at most (MAX_CALL_UNITS ids of up to ten digits and a comma).
MAX_IDENTS_BYTES = MAX_CALL_UNITS * 11
# Get Calls (type 100) at its largest: every open call and a full page of closed ones, each list twice
# (camelCase and PascalCase), plus the counts.
MAX_CALL_LISTING_BYTES = (
    2
    * (
        (MAX_OPEN_DISPATCH_CALLS + MAX_CLOSED_PAGE) * (MAX_CALL_BYTES + MAX_IDENTS_BYTES)
        + MAX_OPEN_EMERGENCY_CALLS * MAX_EMERGENCY_CALL_BYTES
    )
    + 1024
)


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
    if value is None or value == []:  # Lua and FiveM write an empty table as []
        return {}
    if not isinstance(value, dict):
        raise ValueError("must be an object of string keys to string values")
    if len(value) > META_MAX_KEYS:
        raise ValueError(f"at most {META_MAX_KEYS} keys")
    normalized: dict[str, str] = {}
    for key, item in value.items():
        if not 0 < len(key) <= META_MAX_KEY_LENGTH:
            raise ValueError(f"keys are 1 to {META_MAX_KEY_LENGTH} characters")
        normalized[key] = scalar_text(key, item, META_MAX_VALUE_LENGTH)
    if len(orjson.dumps(normalized)) > META_MAX_BYTES:
        raise ValueError(f"at most {META_MAX_BYTES} bytes as JSON")
    return normalized


# What normalize_metadata takes, for the OpenAPI document (a plain validator declares no type of its own).
MetaDataInput = (
    Annotated[
        dict[
            Annotated[str, Field(min_length=1, max_length=META_MAX_KEY_LENGTH)],
            Annotated[str, Field(max_length=META_MAX_VALUE_LENGTH)] | int | float | bool,
        ],
        Field(
            max_length=META_MAX_KEYS,
            description=(
                f"String keys to strings (numbers and booleans are kept as their JSON text), at most "
                f"{META_MAX_BYTES} bytes as JSON; [] or null is an empty object."
            ),
        ),
    ]
    | Annotated[list[Any], Field(max_length=0)]
    | None
)


def scalar_text(key: str, item: Any, max_length: int) -> str:
    """A string kept, a finite number or boolean as its JSON text; ValueError naming ``key`` otherwise."""
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
    if len(text) > max_length:
        raise ValueError(f"{key!r} is longer than {max_length} characters")
    return text


Text255 = Annotated[str, Field(max_length=255)]
Text1024 = Annotated[str, Field(max_length=1024)]
LongText = Annotated[str, Field(max_length=MAX_TEXT_LENGTH)]
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

    _metadata = field_validator("metaData", mode="plain", json_schema_input_type=MetaDataInput)(
        normalize_metadata
    )

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


_TIME_OF_DAY = re.compile(r"\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?")


class NewNote(_Request):
    """A note sent with a new dispatch call; the server stamps the time when none is given."""

    label: Text255 = ""
    type: Annotated[str, Field(max_length=32)] = "text"
    content: LongText
    time: str | None = None

    @field_validator("time")
    @classmethod
    def _iso_time(cls, value: str | None) -> str | None:
        if value is not None and _TIME_OF_DAY.fullmatch(value):
            # The in-game resource stamps its notes "00:00:00": a time of day with no date is no time
            # at all, so the server stamps the note as if none were sent.
            return None
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
    notes: list[NewNote] | None = Field(max_length=MAX_CALL_NOTES)
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

    _metadata = field_validator("metaData", mode="plain", json_schema_input_type=MetaDataInput)(
        normalize_metadata
    )
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
            ],
            # The rule of _needs_targets: some target field present, an empty array will do.
            "anyOf": [{"required": [name]} for name in _CALL_TARGETS],
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
    """Answer of Get Calls, under both spellings: the seed page's camelCase and the current PascalCase.

    The official in-game resource reads ``ActiveCalls`` and ``EmergencyCalls`` without a nil check;
    scripts written against the seed page read ``activeCalls``; both are answered.
    """

    activeCalls: list[DispatchCall]
    emergencyCalls: list[EmergencyCall]
    closedCalls: list[DispatchCall]
    closedCallCount: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ActiveCalls(self) -> list[DispatchCall]:
        """``activeCalls`` as the current docs spell it."""
        return self.activeCalls

    @computed_field  # type: ignore[prop-decorator]
    @property
    def EmergencyCalls(self) -> list[EmergencyCall]:
        """``emergencyCalls`` as the current docs spell it."""
        return self.emergencyCalls

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ClosedCalls(self) -> list[DispatchCall]:
        """``closedCalls`` as the current docs spell it."""
        return self.closedCalls

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ClosedCallCount(self) -> int:
        """``closedCallCount`` as the current docs spell it."""
        return self.closedCallCount


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
    # The primary unit (-1 clears it) and whether the call follows it: the rule of Update Call Primary.
    primary: Annotated[int, Field(ge=-1, le=MAX_ID)] | None = None
    trackPrimary: bool | None = None

    _metadata = field_validator("metaData", mode="plain", json_schema_input_type=MetaDataInput)(
        normalize_metadata
    )

    def changes(self) -> dict[str, Any]:
        """The call's fields the client sent, by wire name (null counts as not sent), its primary aside."""
        return {
            name: value
            for name, value in self
            if name in self.model_fields_set and value is not None and name not in _PRIMARY_FIELDS
        }


_PRIMARY_FIELDS = frozenset({"primary", "trackPrimary"})


class NewCallNote(_Request):
    """Body of ``POST .../dispatch-calls/{callId}/notes``."""

    note: Annotated[str, Field(min_length=1, max_length=MAX_TEXT_LENGTH)]
    # "text" and "link" in the docs' examples; the .NET SDK's sends "INFO": any short word is kept.
    noteType: Annotated[str, Field(min_length=1, max_length=32)] = "text"
    label: Text255 = ""


class CallNoteAdded(BaseModel):
    """A note as it was added, the push event's ``{callId, note}``."""

    callId: int
    note: Note


class NoteAdded(BaseModel):
    """Answer of ``POST .../dispatch-calls/{callId}/notes``: the call and the note's text."""

    callId: int
    note: str


class PostalSet(BaseModel):
    """Answer of ``PATCH .../dispatch-calls/{callId}/postal``."""

    callId: int
    postal: str


class PrimarySet(BaseModel):
    """Answer of ``PATCH .../dispatch-calls/{callId}/primary``."""

    callId: int
    identId: int
    trackPrimary: bool


class CurrentCall(BaseModel):
    """Answer of Get Current Call: the account's selected unit and the open call it is on (null: none).

    PascalCase, as the docs page answers it.
    """

    IdentId: int | None
    CallId: int | None


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


# -- dispatch templates and custom dispatch calls --------------------------------------------------------

# Bounds of a community's templates; docs/api.md lists them.
MAX_TEMPLATES = 50
MAX_TEMPLATE_SECTIONS = 20
MAX_SECTION_FIELDS = 50
MAX_FIELD_OPTIONS = 100
MAX_STATUS_OPTIONS = 20
MAX_TEMPLATE_VALUES = 200
MAX_VALUE_LENGTH = 10_000
# A template's status options and sections as stored, in UTF-8 JSON bytes: each custom call keeps a copy.
MAX_TEMPLATE_BYTES = 32 * 1024

# What a field may be bound to: the canonical dispatch-call field it fills. The first three are locked
# and required in every template, as the docs page says.
LOCKED_BINDINGS = ("status", "units", "description")
Binding = Literal["status", "units", "description", "priority", "code", "title", "address", "postal", "block"]
Uid = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]


class StatusOption(_Request):
    """A community's name for a call status: its API ``id``, its label, and the canonical status."""

    id: Uid
    label: Text255
    status: Annotated[int, Field(ge=0, le=2)]


class TemplateField(_Request):
    """One field of a template section."""

    uid: Uid
    type: Annotated[str, Field(min_length=1, max_length=32)] = "text"
    label: Text255 = ""
    binding: Binding | None = None
    size: Annotated[int, Field(ge=1, le=12)] = 12
    required: bool = False
    locked: bool = False
    placeholder: Text255 = ""
    options: list[Text255] = Field(default_factory=list, max_length=MAX_FIELD_OPTIONS)


class TemplateSection(_Request):
    """A group of fields, ``size`` twelfths wide."""

    uid: Uid
    label: Text255 = ""
    icon: Annotated[str, Field(max_length=64)] = ""
    size: Annotated[int, Field(ge=4, le=12)] = 12
    fields: list[TemplateField] = Field(default_factory=list, max_length=MAX_SECTION_FIELDS)


class TemplateLayout(_Request):
    """The status options and sections of a template, checked: unique ids, the locked bindings once each."""

    statusOptions: list[StatusOption] = Field(min_length=1, max_length=MAX_STATUS_OPTIONS)
    sections: list[TemplateSection] = Field(min_length=1, max_length=MAX_TEMPLATE_SECTIONS)

    @model_validator(mode="after")
    def _consistent(self) -> TemplateLayout:
        ids = [option.id for option in self.statusOptions]
        if len(set(ids)) != len(ids):
            raise ValueError("statusOptions ids must be unique")
        sections = [section.uid for section in self.sections]
        if len(set(sections)) != len(sections):
            raise ValueError("section uids must be unique")
        fields = [field for section in self.sections for field in section.fields]
        uids = [field.uid for field in fields]
        if len(set(uids)) != len(uids):
            raise ValueError("field uids must be unique across the template")
        bindings = [field.binding for field in fields if field.binding is not None]
        for binding in set(bindings):
            if bindings.count(binding) > 1:
                raise ValueError(f"only one field may have the {binding!r} binding")
        for locked in LOCKED_BINDINGS:
            if locked not in bindings:
                raise ValueError(f"a field with the {locked!r} binding is required")
        for field in fields:
            if field.binding in LOCKED_BINDINGS:
                field.required = field.locked = True
            if (field.type == "select" or field.binding == "priority") and not field.options:
                raise ValueError(f"field {field.uid!r} is a select field and needs options")
        size = len(TemplateLayout.model_dump_json(self).encode())
        if size > MAX_TEMPLATE_BYTES:
            raise ValueError(f"the template weighs {size} bytes; a template is at most {MAX_TEMPLATE_BYTES}")
        return self

    def fields(self) -> list[TemplateField]:
        """Every field of every section, in order."""
        return [field for section in self.sections for field in section.fields]


class NewDispatchTemplate(TemplateLayout):
    """A template as ``opendispatch template create`` reads it from a JSON file."""

    name: Annotated[str, Field(min_length=1, max_length=255)]
    isDefault: bool = False


class DispatchTemplate(BaseModel):
    """A stored template, as Get Dispatch Templates answers it."""

    templateId: int
    name: str
    version: int
    isDefault: bool
    statusOptions: list[StatusOption]
    sections: list[TemplateSection]


class DispatchTemplates(RootModel[list[DispatchTemplate]]):
    """Answer of ``GET /v2/emergency/dispatch-templates``: a bare array."""


def normalize_values(value: Any) -> dict[str, str]:
    """Template values: field uid to text; numbers and booleans kept as their JSON text, [] is empty."""
    if value is None or value == []:
        return {}
    if not isinstance(value, dict):
        raise ValueError("must be an object of field uids to values")
    if len(value) > MAX_TEMPLATE_VALUES:
        raise ValueError(f"at most {MAX_TEMPLATE_VALUES} values")
    normalized: dict[str, str] = {}
    for key, item in value.items():
        if not 0 < len(key) <= 64:
            raise ValueError("field uids are 1 to 64 characters")
        normalized[key] = scalar_text(key, item, MAX_VALUE_LENGTH)
    return normalized


class NewCustomDispatchCall(Targets):
    """Body of Create Custom Dispatch Call: a template, its values by field uid, and the unit targets."""

    templateId: Annotated[int, Field(ge=1, le=MAX_ID)]
    values: dict[str, str]
    notes: list[NewNote] | None = Field(None, max_length=MAX_CALL_NOTES)
    metaData: dict[str, str] = Field(default_factory=dict)
    deleteAfterMinutes: Annotated[int, Field(ge=0, le=MAX_DELETE_AFTER_MINUTES)] | None = None

    _values = field_validator("values", mode="plain")(normalize_values)
    _metadata = field_validator("metaData", mode="plain", json_schema_input_type=MetaDataInput)(
        normalize_metadata
    )


class CustomDispatchCall(DispatchCall):
    """A custom dispatch call: the canonical fields, and the template, values and status option it has."""

    template: DispatchTemplate
    values: dict[str, Any]
    statusId: str
