"""Wire format of the v1 legacy API: the envelope, each type's items as v2 requests, and v1 answers.

A v1 request is ``POST /{area}/{type}`` with ``{id, key, type, data: [...]}``; each item of ``data`` is one
request of that type. Items are parsed here into the v2 request models (``NewEmergencyCall``,
``NewDispatchCall``, ``Targets``, ...), so every rule of those models holds for v1 as well. What v1 adds is
only the way its clients write things, and that is all this module knows:

- the JS SDK sends some items positionally, ``{"0": serverId, "1": isEmergency, ...}``;
- Lua resources send numbers as text (``GetConvar`` returns strings) and an empty Lua table as ``[]`` or
  ``{}``, whichever the field is not;
- units are named by ``apiId``/``apiIds``/``units`` (our communityUserIds), ``account``/``accounts`` and
  ``identIds``;
- an item without ``serverId`` is for server 1, and a null field is an absent one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    ValidationError,
    field_validator,
    model_validator,
)

from opendispatch.accounts.schemas import AccountLookup, ApiIdsChange
from opendispatch.calls.schemas import (
    DispatchCallChanges,
    NewCallNote,
    NewDispatchCall,
    NewEmergencyCall,
    SetPostal,
    SetPrimary,
    parse_note_time,
)
from opendispatch.communities.schemas import StreetSignConfig, StreetSignUpdate
from opendispatch.events.schemas import ServerChanges
from opendispatch.units.schemas import (
    TARGET_FIELDS,
    ActiveUnit,
    IdentifierChanges,
    KickOrder,
    LocationUpdate,
    Targets,
    Unit,
    UnitPanicChange,
    UnitStatusChange,
)

DEFAULT_SERVER_ID = 1
MAX_ITEMS = 100
MAX_LOCATION_ITEMS = 500  # what one v2 unit-locations request takes

Raw = dict[str, Any]


# -- the envelope ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Envelope:
    """``{id, key, type, data}``; anything else in the body (the JS SDK's ``product``) is ignored."""

    community_id: str | None
    api_key: str | None
    type_name: Any
    data: Any


def _scalar_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def read_envelope(body: Any) -> Envelope | None:
    """The envelope of a decoded JSON body, or None when the body is not a JSON object."""
    if not isinstance(body, dict):
        return None
    return Envelope(
        community_id=_scalar_text(body.get("id")),
        api_key=_scalar_text(body.get("key")),
        type_name=body.get("type"),
        data=body.get("data"),
    )


# -- leniency for the ways v1 clients write values -------------------------------------------------------

_INT_FIELDS = frozenset(
    {
        "serverId",
        "callId",
        "origin",
        "status",
        "priority",
        "primary",
        "identId",
        "deleteAfterMinutes",
        "closedLimit",
        "closedOffset",
        "limit",
        "offset",
        "action",
    }
)
_BOOL_FIELDS = frozenset(
    {"isEmergency", "isPanic", "trackPrimary", "includeOffline", "onlyUnits", "pushNew", "deployMap"}
)
_TEXT_FIELDS = frozenset({"postal", "block", "code"})  # scripts send postals as numbers
_FLOAT_FIELDS = frozenset({"x", "y", "z", "heading"})  # a unit's flat coordinates, sent as text too
_OBJECT_FIELDS = frozenset({"metaData"})
_LIST_FIELDS = frozenset({"notes"})
_INT_LIST_FIELDS = frozenset({"identIds"})
_ALIASES = {"deleteAfter": "deleteAfterMinutes"}  # the older in-game resource's name
_INTEGER_TEXT = re.compile(r"\s*[-+]?\d{1,19}\s*")
_INT64 = 2**63


def _as_int(value: Any) -> int:
    whole_float = isinstance(value, float) and value.is_integer()
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif whole_float or (isinstance(value, str) and _INTEGER_TEXT.fullmatch(value)):
        number = int(value)
    else:
        raise ValueError("must be a whole number")
    if not -_INT64 < number < _INT64:  # the wire's ids stop at ±(2**63 - 1)
        raise ValueError("is out of range")
    return number


def _as_float(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise ValueError("must be a number")


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    raise ValueError("must be true or false")


def _as_text(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    return value


def _empty_table(value: Any) -> bool:
    return isinstance(value, list | dict) and not value


def _normalize(raw: Raw, positional: tuple[str, ...]) -> tuple[Raw, list[tuple[str, str]]]:
    """Positional fields named, aliases renamed, nulls dropped, and scalars read the lenient v1 way.

    Returns the item and the (field, problem) of each value that cannot be read.
    """
    item = dict(raw)
    # Any index, not only "0": JSON drops an undefined first argument (getAccount({username})).
    if positional and any(str(index) in item for index in range(len(positional))):
        for index, name in enumerate(positional):
            if str(index) in item:
                item.setdefault(name, item.pop(str(index)))
    for alias, name in _ALIASES.items():
        if alias in item:
            item.setdefault(name, item.pop(alias))
    item = {name: value for name, value in item.items() if value is not None}
    problems: list[tuple[str, str]] = []
    for name, value in list(item.items()):
        try:
            if name in _INT_FIELDS:
                item[name] = _as_int(value)
            elif name in _INT_LIST_FIELDS:
                values = [] if _empty_table(value) else value if isinstance(value, list) else [value]
                item[name] = [_as_int(each) for each in values]
            elif name in _BOOL_FIELDS:
                item[name] = _as_bool(value)
            elif name in _TEXT_FIELDS:
                item[name] = _as_text(value)
            elif name in _FLOAT_FIELDS:
                item[name] = _as_float(value)
            elif name in _OBJECT_FIELDS and _empty_table(value):
                item[name] = {}
            elif name in _LIST_FIELDS and _empty_table(value):
                item[name] = []
        except ValueError as exc:
            problems.append((name, str(exc)))
    item.setdefault("serverId", DEFAULT_SERVER_ID)
    return item, problems


def _gather(item: Raw, names: tuple[str, ...], convert: Callable[[Any], Any]) -> list[Any] | None:
    """The values under any of ``names``, one list; None when none of them is present."""
    present = [name for name in names if name in item]
    if not present:
        return None
    values: list[Any] = []
    for name in present:
        value = item[name]
        if _empty_table(value):
            continue
        values.extend(value if isinstance(value, list) else [value])
    return [convert(value) for value in values]


def _user_id(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _targets(item: Raw) -> Raw:
    """v1 unit names as the fields of v2 Targets: ``account`` is an account uuid, ``identId`` one unit."""
    names = {name: item[name] for name in TARGET_FIELDS if name in item}
    if "account" in item:
        names["accounts"] = _gather(item, ("accounts", "account"), _user_id)
    if "identId" in item:
        names["identIds"] = _gather(item, ("identIds", "identId"), lambda ident: ident)
    return names


def _without_bad_note_times(notes: Any) -> Any:
    # The in-game resource stamps notes '00:00:00', which is no time at all: the server stamps those.
    if not isinstance(notes, list):
        return notes
    cleaned = []
    for note in notes:
        if isinstance(note, dict) and "time" in note:
            try:
                parse_note_time(note["time"])
            except (ValueError, OverflowError, TypeError, AttributeError):
                note = {name: value for name, value in note.items() if name != "time"}
        cleaned.append(note)
    return cleaned


def _coordinates(value: Any) -> Any:
    # A Lua vector may arrive as [x, y, z].
    if isinstance(value, list) and 2 <= len(value) <= 4:
        return dict(zip(("x", "y", "z"), value, strict=False))
    return value


# -- items: each the v2 request it stands for, parsed from one normalized v1 item ------------------------


class InvalidItems(Exception):
    """Items that cannot be taken; ``problems`` are lines like ``data[0].caller: Field required``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class _Query(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


Q = TypeVar("Q", bound=_Query)
ItemT = TypeVar("ItemT")


class _CallRefFields(_Query):
    serverId: int
    callId: int


@dataclass(frozen=True, slots=True)
class NewCall911:
    """CALL_911 / 911_CALL: one 911 call."""

    label: str
    server_id: int
    call: NewEmergencyCall

    @classmethod
    def parse(cls, label: str, item: Raw) -> NewCall911:
        """The item as v2 Create 911 Call's body."""
        return cls(label, item["serverId"], NewEmergencyCall.model_validate(item))


@dataclass(frozen=True, slots=True)
class Remove911:
    """REMOVE_911: one 911 call by id."""

    label: str
    server_id: int
    call_id: int

    @classmethod
    def parse(cls, label: str, item: Raw) -> Remove911:
        """The item's server and call."""
        ref = _CallRefFields.model_validate(item)
        return cls(label, ref.serverId, ref.callId)


@dataclass(frozen=True, slots=True)
class CloseCall:
    """CLOSE_CALL: one dispatch call by id."""

    label: str
    server_id: int
    call_id: int

    @classmethod
    def parse(cls, label: str, item: Raw) -> CloseCall:
        """The item's server and call."""
        ref = _CallRefFields.model_validate(item)
        return cls(label, ref.serverId, ref.callId)


@dataclass(frozen=True, slots=True)
class NewDispatch:
    """NEW_DISPATCH: one dispatch call."""

    label: str
    server_id: int
    call: NewDispatchCall

    @classmethod
    def parse(cls, label: str, item: Raw) -> NewDispatch:
        """The item as v2 Create Dispatch Call's body, its v1 unit names as targets."""
        fields = {**item, **_targets(item)}
        if "notes" in item:
            fields["notes"] = _without_bad_note_times(item["notes"])
        return cls(label, item["serverId"], NewDispatchCall.model_validate(fields))


@dataclass(frozen=True, slots=True)
class DispatchEdit:
    """EDIT_DISPATCH: fields of a call, and its primary when ``primary``/``trackPrimary`` are sent."""

    label: str
    server_id: int
    call_id: int
    changes: DispatchCallChanges

    @classmethod
    def parse(cls, label: str, item: Raw) -> DispatchEdit:
        """The item as v2 Update Dispatch Call's body, ``primary`` and ``trackPrimary`` included."""
        ref = _CallRefFields.model_validate(item)
        return cls(label, ref.serverId, ref.callId, DispatchCallChanges.model_validate(item))


@dataclass(frozen=True, slots=True)
class Attach:
    """ATTACH_UNIT: units onto a call."""

    label: str
    server_id: int
    call_id: int
    targets: Targets

    @classmethod
    def parse(cls, label: str, item: Raw) -> Attach:
        """The item's call and its v1 unit names as targets."""
        ref = _CallRefFields.model_validate(item)
        return cls(label, ref.serverId, ref.callId, Targets.model_validate(_targets(item)))


@dataclass(frozen=True, slots=True)
class Detach:
    """DETACH_UNIT: units off the calls they are on."""

    label: str
    server_id: int
    targets: Targets

    @classmethod
    def parse(cls, label: str, item: Raw) -> Detach:
        """The item's v1 unit names as targets."""
        return cls(label, item["serverId"], Targets.model_validate(_targets(item)))


@dataclass(frozen=True, slots=True)
class CallNote:
    """ADD_CALL_NOTE: one note on a call."""

    label: str
    server_id: int
    call_id: int
    note: NewCallNote

    @classmethod
    def parse(cls, label: str, item: Raw) -> CallNote:
        """The item's call and v2 Add Note's body."""
        ref = _CallRefFields.model_validate(item)
        return cls(label, ref.serverId, ref.callId, NewCallNote.model_validate(item))


@dataclass(frozen=True, slots=True)
class CallPostal:
    """SET_CALL_POSTAL: a call's postal."""

    label: str
    server_id: int
    call_id: int
    body: SetPostal

    @classmethod
    def parse(cls, label: str, item: Raw) -> CallPostal:
        """The item's call and v2 Set Postal's body."""
        ref = _CallRefFields.model_validate(item)
        return cls(label, ref.serverId, ref.callId, SetPostal.model_validate(item))


@dataclass(frozen=True, slots=True)
class CallPrimary:
    """SET_CALL_PRIMARY: a call's primary unit."""

    label: str
    server_id: int
    call_id: int
    body: SetPrimary

    @classmethod
    def parse(cls, label: str, item: Raw) -> CallPrimary:
        """The item's call and v2 Set Primary's body."""
        ref = _CallRefFields.model_validate(item)
        return cls(label, ref.serverId, ref.callId, _set_primary(label, item))


@dataclass(frozen=True, slots=True)
class StatusChange:
    """UNIT_STATUS: the status of units."""

    label: str
    server_id: int
    change: UnitStatusChange

    @classmethod
    def parse(cls, label: str, item: Raw) -> StatusChange:
        """The item as v2 Set Unit Status's body."""
        fields = {**_targets(item), **{name: item[name] for name in ("status",) if name in item}}
        return cls(label, item["serverId"], UnitStatusChange.model_validate(fields))


@dataclass(frozen=True, slots=True)
class PanicChange:
    """UNIT_PANIC: the panic flag of units."""

    label: str
    server_id: int
    change: UnitPanicChange

    @classmethod
    def parse(cls, label: str, item: Raw) -> PanicChange:
        """The item as v2 Set Unit Panic's body."""
        fields = {**_targets(item), **{name: item[name] for name in ("isPanic",) if name in item}}
        return cls(label, item["serverId"], UnitPanicChange.model_validate(fields))


@dataclass(frozen=True, slots=True)
class LocationReport:
    """UNIT_LOCATION: one unit's location."""

    label: str
    server_id: int
    update: LocationUpdate

    @classmethod
    def parse(cls, label: str, item: Raw) -> LocationReport:
        """The item as one update of v2 Update Unit Locations (``coords`` is an older name)."""
        fields = {**item, **_targets(item)}
        coordinates = _coordinates(item.get("coordinates", item.get("coords")))
        fields["coordinates"] = coordinates
        update = LocationUpdate.model_validate(
            {name: value for name, value in fields.items() if value is not None}
        )
        return cls(label, item["serverId"], update)


@dataclass(frozen=True, slots=True)
class StreetSignsItem:
    """SET_STREETSIGN_CONFIG: every street sign of a server, as v2 Set Street Sign Config takes them."""

    label: str
    server_id: int
    config: StreetSignConfig

    @classmethod
    def parse(cls, label: str, item: Raw) -> StreetSignsItem:
        """The item's ``signs`` (the SDK's second positional argument)."""
        return cls(label, item["serverId"], StreetSignConfig.model_validate({"signs": item.get("signs", [])}))


@dataclass(frozen=True, slots=True)
class StreetSignChange:
    """UPDATE_STREETSIGN: new text for some signs of a server, as v2 Update Street Signs takes it."""

    label: str
    server_id: int
    change: StreetSignUpdate

    @classmethod
    def parse(cls, label: str, item: Raw) -> StreetSignChange:
        """The item's ``update`` object (the SDK's second positional argument), or the fields themselves."""
        fields = item.get("update")
        if not isinstance(fields, dict):
            fields = {name: item[name] for name in ("ids", "text1", "text2", "text3") if name in item}
        return cls(label, item["serverId"], StreetSignUpdate.model_validate(fields))


@dataclass(frozen=True, slots=True)
class Kick:
    """KICK_UNIT: one unit put OFFLINE and off its calls."""

    label: str
    server_id: int
    order: KickOrder

    @classmethod
    def parse(cls, label: str, item: Raw) -> Kick:
        """The item as one kick of v2 Kick Unit."""
        fields = {**_targets(item), **{name: item[name] for name in ("reason",) if name in item}}
        return cls(label, item["serverId"], KickOrder.model_validate(fields))


@dataclass(frozen=True, slots=True)
class IdentifierGroup:
    """IDENTS_TO_GROUP / SET_IDENTIFIERS_TO_GROUP: units put in a group ("" takes them out)."""

    label: str
    server_id: int
    group: str
    targets: Targets

    @classmethod
    def parse(cls, label: str, item: Raw) -> IdentifierGroup:
        """The item's group and the units it names."""
        group = _GroupFields.model_validate(item)
        # Here groupName is the group to set, not a group whose units are named.
        named = {name: value for name, value in _targets(item).items() if name != "groupName"}
        return cls(label, item["serverId"], group.groupName, Targets.model_validate(named))


class _GroupFields(_Query):
    groupName: Annotated[str, Field(max_length=64)]


@dataclass(frozen=True, slots=True)
class Person:
    """The account a v1 identifier item names by ``apiId`` or ``account``, and the server it is about."""

    label: str
    server_id: int | None
    targets: Targets

    @classmethod
    def parse(cls, label: str, item: Raw) -> Person:
        """The item's account targets; ``serverId`` only when sent."""
        targets = Targets.model_validate(_targets(item))
        if not (targets.in_game_ids() or targets.account_uuids() or targets.discord or targets.roblox):
            raise InvalidItems([f"{label}.apiId: name the account by apiId or account"])
        return cls(label, item.get("serverId"), targets)


@dataclass(frozen=True, slots=True)
class IdentifierChoice:
    """SET_IDENTIFIER: the identifier an account selects."""

    label: str
    person: Person
    ident_id: int

    @classmethod
    def parse(cls, label: str, item: Raw) -> IdentifierChoice:
        """The item's account and identifier."""
        choice = _ChoiceFields.model_validate(item)
        return cls(label, Person.parse(label, item), choice.identId)


class _ChoiceFields(_Query):
    identId: int


class IdentifierAction(IntEnum):
    """MODIFY_IDENTIFIER's ``action``."""

    ADD = 0
    EDIT = 1
    REMOVE = 2


class _ModifyFields(_Query):
    action: Annotated[int, Field(ge=0, le=2)]
    identId: int | None = None
    identifier: IdentifierChanges | None = None


@dataclass(frozen=True, slots=True)
class IdentifierChange:
    """MODIFY_IDENTIFIER: an identifier added, edited or removed."""

    label: str
    person: Person
    action: IdentifierAction
    ident_id: int | None
    fields: IdentifierChanges

    @classmethod
    def parse(cls, label: str, item: Raw) -> IdentifierChange:
        """The item's account, action and identifier fields."""
        if _empty_table(item.get("identifier")):
            item = {**item, "identifier": {}}
        change = _ModifyFields.model_validate(item)
        if change.action != IdentifierAction.ADD and change.identId is None:
            raise InvalidItems([f"{label}.identId: needed to edit or remove an identifier"])
        fields = change.identifier or IdentifierChanges()
        action = IdentifierAction(change.action)
        return cls(label, Person.parse(label, item), action, change.identId, fields)


class CallsQuery(_Query):
    """GET_CALLS: the bounds of v2 Get Calls' query parameters."""

    serverId: int = DEFAULT_SERVER_ID
    closedLimit: Annotated[int, Field(ge=0, le=100)] = 10
    closedOffset: Annotated[int, Field(ge=0)] = 0


class MyCallQuery(_Query):
    """GET_MY_CALL: the account, as the JS SDK sends it (``{account}``); ``accountUuid`` is taken too."""

    account: Annotated[str, Field(min_length=1, max_length=64)]

    @model_validator(mode="before")
    @classmethod
    def _account_uuid(cls, item: Any) -> Any:
        if isinstance(item, dict) and "account" not in item and "accountUuid" in item:
            return {**item, "account": item["accountUuid"]}
        return item


class UnitsQuery(_Query):
    """GET_ACTIVE_UNITS: the bounds of v2 Get Units' query parameters."""

    serverId: int = DEFAULT_SERVER_ID
    includeOffline: bool = False
    onlyUnits: bool = True
    limit: Annotated[int, Field(ge=1, le=500)] = 100
    offset: Annotated[int, Field(ge=0)] = 0


class AccountQuery(_Query):
    """GET_ACCOUNT: an account by its API id (or community user id), username, uuid, Discord or Roblox id."""

    apiId: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    username: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    accId: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    discord: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    roblox: Annotated[str, Field(min_length=1, max_length=64)] | None = None

    _ids = field_validator("apiId", "discord", "roblox", mode="before")(_user_id)

    def lookup(self) -> AccountLookup:
        """The v2 lookup of the same account (an API id is tried as a community user id first)."""
        return AccountLookup(
            communityUserId=self.apiId,
            roblox=self.roblox,
            discord=self.discord,
            accountUuid=self.accId,
            username=self.username,
        )


class ApiIdQuery(_Query):
    """CHECK_APIID: one API id."""

    apiId: Annotated[str, Field(min_length=1, max_length=255)]

    _id = field_validator("apiId", mode="before")(_user_id)


class SecretQuery(_Query):
    """VERIFY_SECRET: one account secret."""

    secret: Annotated[str, Field(min_length=1, max_length=64)]


@dataclass(frozen=True, slots=True)
class SetApiIds:
    """SET_API_ID: an account's API ids, as v2 Set API IDs' body."""

    label: str
    change: ApiIdsChange

    @classmethod
    def parse(cls, label: str, item: Raw) -> SetApiIds:
        """The item as v2 Set API IDs' body; a single API id may come as a bare string."""
        if isinstance(item.get("apiIds"), str):
            item = {**item, "apiIds": [item["apiIds"]]}
        return cls(label, ApiIdsChange.model_validate(item))


@dataclass(frozen=True, slots=True)
class SetServers:
    """SET_SERVERS: the JS SDK's positional ``{"0": [servers], "1": deployMap}``, as v2 Set Servers' body."""

    label: str
    changes: ServerChanges

    @classmethod
    def parse(cls, label: str, item: Raw) -> SetServers:
        """The item as v2 Set Servers' body."""
        return cls(label, ServerChanges.model_validate(item))


@dataclass(frozen=True, slots=True)
class Query(Generic[Q]):
    """The one item of a reading type: its query parameters."""

    label: str
    params: Q


def query(model: type[Q]) -> Callable[[str, Raw], Query[Q]]:
    """The parser of a reading type whose item is ``model``."""

    def parse(label: str, item: Raw) -> Query[Q]:
        return Query(label, model.model_validate(item))

    return parse


def _set_primary(label: str, item: Raw) -> SetPrimary:
    """v1's ``primary`` (or ``identId``) and ``trackPrimary`` as v2's SetPrimary, problems named as sent."""
    body = {"identId": item.get("primary", item.get("identId")), "trackPrimary": item.get("trackPrimary")}
    try:
        return SetPrimary.model_validate({name: value for name, value in body.items() if value is not None})
    except ValidationError as exc:
        raise InvalidItems(
            [problem.replace(f"{label}.identId:", f"{label}.primary:") for problem in _problems(label, exc)]
        ) from None


# -- reading ``data`` ------------------------------------------------------------------------------------


def _array_as_object(raw: Any) -> bool:
    return (
        isinstance(raw, dict)
        and bool(raw)
        and all(key.isdigit() and isinstance(value, dict) for key, value in raw.items())
    )


def _raw_items(data: Any, nested: bool) -> list[tuple[str, Any]]:
    """``data`` as labelled raw items: an array is the norm; one bare object is taken as one item."""
    if data is None or _empty_table(data):
        return []
    if isinstance(data, dict):
        return [("data", data)]
    if not isinstance(data, list):
        raise InvalidItems(["data: must be an array of items"])
    items: list[tuple[str, Any]] = []
    for index, raw in enumerate(data):
        if nested and isinstance(raw, list):
            # The JS SDK wraps its array of locations in one more array.
            items.extend((f"data[{index}][{inner}]", value) for inner, value in enumerate(raw))
        elif nested and _array_as_object(raw):
            # ... or, through its object clone of an array, in {"0": item, "1": item}.
            items.extend((f"data[{index}][{inner}]", value) for inner, value in raw.items())
        else:
            items.append((f"data[{index}]", raw))
    return items


def _problems(label: str, error: ValidationError) -> list[str]:
    found = []
    for detail in error.errors():
        where = ".".join(str(part) for part in detail["loc"])
        message = str(detail["msg"]).removeprefix("Value error, ")
        found.append(f"{label}.{where}: {message}" if where else f"{label}: {message}")
    return found


def _parse_one(
    parse: Callable[[str, Raw], ItemT], label: str, raw: Any, positional: tuple[str, ...]
) -> ItemT:
    if isinstance(raw, list) and positional:
        raw = {str(index): value for index, value in enumerate(raw)}
    if not isinstance(raw, dict):
        raise InvalidItems([f"{label}: must be an object"])
    item, problems = _normalize(raw, positional)
    if not problems:
        try:
            return parse(label, item)
        except ValidationError as exc:
            raise InvalidItems(_problems(label, exc)) from None
    # The unreadable values are named, and so is whatever else is wrong with the item without them.
    unreadable = {field for field, _message in problems}
    found = [f"{label}.{field}: {message}" for field, message in problems]
    try:
        parse(label, {name: value for name, value in item.items() if name not in unreadable})
    except ValidationError as exc:
        found += [
            line
            for line in _problems(label, exc)
            if line.split(":")[0] not in {f"{label}.{f}" for f in unreadable}
        ]
    except (InvalidItems, KeyError):
        pass
    raise InvalidItems(found)


def parse_items(
    data: Any,
    parse: Callable[[str, Raw], ItemT],
    *,
    positional: tuple[str, ...] = (),
    max_items: int = MAX_ITEMS,
    nested: bool = False,
) -> list[ItemT]:
    """Every item of a changing request, parsed; InvalidItems naming each bad field of each bad item."""
    raw_items = _raw_items(data, nested)
    if not raw_items:
        raise InvalidItems(["data: send at least one item"])
    if len(raw_items) > max_items:
        raise InvalidItems([f"data: at most {max_items} items in one request"])
    items: list[ItemT] = []
    problems: list[str] = []
    for label, raw in raw_items:
        try:
            items.append(_parse_one(parse, label, raw, positional))
        except InvalidItems as exc:
            problems += exc.problems
    if problems:
        raise InvalidItems(problems)
    return items


def parse_query(
    type_name: str, data: Any, parse: Callable[[str, Raw], ItemT], positional: tuple[str, ...] = ()
) -> ItemT:
    """The one item of a reading request (none: every default)."""
    raw_items = _raw_items(data, nested=False)
    if len(raw_items) > 1:
        raise InvalidItems([f"data: {type_name} takes one item"])
    label, raw = raw_items[0] if raw_items else ("data", {})
    return _parse_one(parse, label, raw, positional=positional)


# -- answers ---------------------------------------------------------------------------------------------


class V1UnitData(BaseModel):
    """The ``data`` of a v1 unit: apiId1/apiIds are the unit's linked communityUserId."""

    apiId1: str
    apiId2: str
    apiIds: list[str]
    unitNum: str
    name: str
    district: str
    department: str
    subdivision: str
    rank: str
    group: str


class V1Unit(BaseModel):
    """A unit as v1 GET_ACTIVE_UNITS lists it (the shape the JS SDK's CADActiveUnit reads)."""

    id: int
    accId: str
    status: int
    isPanic: bool
    location: str
    aop: str
    isDispatch: bool
    data: V1UnitData


class V1Units(RootModel[list[V1Unit]]):
    """GET_ACTIVE_UNITS' answer: a bare JSON array of v1 units."""


def v1_unit(unit: Unit) -> V1Unit:
    """A v2 unit in the v1 shape."""
    user = unit.communityUserId or ""
    return V1Unit(
        id=unit.identId,
        accId=unit.accountUuid,
        status=unit.status,
        isPanic=unit.isPanic,
        location=unit.location,
        aop=unit.aop,
        isDispatch=unit.isDispatch,
        data=V1UnitData(
            apiId1=user,
            apiId2="",
            apiIds=[user] if user else [],
            unitNum=unit.unitNum,
            name=unit.name,
            district=unit.district,
            department=unit.department,
            subdivision=unit.subdivision,
            rank=unit.rank,
            group=unit.group,
        ),
    )


class V1Identifiers(BaseModel):
    """GET_IDENTIFIERS' answer: the selected identifier and the account's identifiers as units."""

    selectedIdent: int | None
    identifiers: list[ActiveUnit]
