"""Wire format of the community endpoints and the identity a request carries."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, JsonValue, field_validator

from opendispatch.history.schemas import Actor


class Plan(IntEnum):
    """Sonoran CAD plans; a self-hosted community defaults to PRO."""

    FREE = 0
    STARTER = 1
    STANDARD = 2
    PLUS = 3
    PRO = 4


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the community a valid API key belongs to, and that key."""

    community_id: str
    key_id: int
    plan: int
    api_enabled: bool  # false while the community's API is switched off or the community is disabled
    limits: dict[str, int] = field(default_factory=dict)
    last_used_at: int | None = None  # when the key was last recorded as used (at most once a minute)

    @property
    def actor(self) -> Actor:
        """How the history names changes made with this key (never the key itself)."""
        return Actor("apiKey", f"key#{self.key_id}")


@dataclass(frozen=True, slots=True)
class NewCommunity:
    """What `community create` hands back, the API key in clear for the only time."""

    community_id: str
    api_key: str
    servers: list[int]


class CommunitySummary(BaseModel):
    """A community as the operator's command line shows it."""

    communityId: str
    name: str
    plan: str
    apiEnabled: bool
    disabled: bool
    disabledAt: str | None
    created: str
    servers: int
    activeKeys: int


class ApiKeyInfo(BaseModel):
    """An API key as listed: how to recognise it (prefix, label), never the key itself."""

    prefix: str
    label: str | None
    created: str
    lastUsed: str | None
    revoked: str | None


MAX_KEY_LABEL = 64
MAX_RATE_LIMIT = 1_000_000  # requests per minute per key: far above any real need, and fits the column


class Version(BaseModel):
    """Answer of ``GET /v2/general/version``."""

    version: int
    name: str


class Server(BaseModel):
    """One configured server of a community."""

    id: int
    name: str


class ServerList(BaseModel):
    """Answer of ``GET /v2/general/servers``."""

    servers: list[Server]


class CommunityDetails(BaseModel):
    """The community part of ``GET /v2/general/info``."""

    comId: str
    name: str
    timezone: str
    customLoginUrl: str | None


class Info(BaseModel):
    """Answer of ``GET /v2/general/info``."""

    uuid: str
    community: CommunityDetails
    codes: list[str]


# -- heartbeat and the configuration the in-game resource writes at start ----------------------------------


class _Request(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


MAX_PLAYERS = 100_000
MAX_CONFIG_DEPTH = 12  # nesting of the free-form parts (callout data, pager nodes): deeper is no config
Label = Annotated[str, Field(max_length=255)]


def _count(value: Any) -> Any:
    # Lua's GetNumPlayerIndices is a number, but a convar-built body may carry it as text.
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


def _too_deep(value: Any) -> bool:
    # A walk with its own stack: a body nested a thousand levels deep must not exhaust Python's.
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            if depth >= MAX_CONFIG_DEPTH:
                return True
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return False


def _shallow(value: Any) -> Any:
    if _too_deep(value):
        raise ValueError(f"nested more than {MAX_CONFIG_DEPTH} levels deep")
    return value


def _empty_table_as_list(value: Any) -> Any:
    # Lua writes an empty table as {} or [], whichever it guesses.
    return [] if value == {} else value


def _empty_list_as_object(value: Any) -> Any:
    return {} if value == [] else value


Free = Annotated[JsonValue, BeforeValidator(_shallow)]


class Heartbeat(_Request):
    """Body of ``POST /v2/general/servers/{serverId}/heartbeat``."""

    playerCount: Annotated[int, Field(ge=0, le=MAX_PLAYERS)]

    _count = field_validator("playerCount", mode="before")(_count)


class HeartbeatReceived(BaseModel):
    """Answer of the heartbeat: what was stored, and when."""

    serverId: int
    playerCount: int
    receivedAtUtc: str


class ServerAck(BaseModel):
    """Answer of Set Stations and Set Pager Config."""

    serverId: int


class Stations(_Request):
    """Body of ``PUT .../stations``: station alert locations, tones and unit colours."""

    locations: list[dict[str, Free]] = Field(default_factory=list, max_length=500)
    tones: list[Label] = Field(default_factory=list, max_length=100)
    unitColors: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=100)

    _lists = field_validator("locations", "tones", "unitColors", mode="before")(_empty_table_as_list)


class Callout(_Request):
    """One ERS callout: its id and its data, kept as sent."""

    id: Annotated[str, Field(min_length=1, max_length=128)] | int
    data: dict[str, Free] = Field(default_factory=dict, max_length=200)

    _data = field_validator("data", mode="before")(_empty_list_as_object)


class Callouts(_Request):
    """Body of ``PUT .../callouts``."""

    callouts: list[Callout] = Field(max_length=500)

    _lists = field_validator("callouts", mode="before")(_empty_table_as_list)


class CalloutsSet(BaseModel):
    """Answer of ``PUT .../callouts``."""

    serverId: int
    callouts: int


class SignCoordinates(BaseModel):
    """Where a street sign stands (``w``: its heading)."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)

    x: Annotated[float, Field(ge=-1e7, le=1e7)] = 0.0
    y: Annotated[float, Field(ge=-1e7, le=1e7)] = 0.0
    z: Annotated[float, Field(ge=-1e7, le=1e7)] = 0.0
    w: Annotated[float, Field(ge=-1e7, le=1e7)] = 0.0


class StreetSign(_Request):
    """One configured street sign."""

    id: Annotated[int, Field(ge=0, le=2**31 - 1)]
    coordinates: SignCoordinates | None = None
    label: Label = ""
    text1: Label = ""
    text2: Label = ""
    text3: Label = ""


class StreetSignConfig(_Request):
    """Body of ``PUT .../street-sign-config``: every sign of the server."""

    signs: list[StreetSign] = Field(max_length=2000)

    _lists = field_validator("signs", mode="before")(_empty_table_as_list)


class StreetSignConfigSet(BaseModel):
    """Answer of ``PUT .../street-sign-config``."""

    serverId: int
    signs: int


class StreetSignUpdate(_Request):
    """Body of ``PATCH .../street-signs``: new text for the signs named; fields left out stay."""

    ids: list[Annotated[int, Field(ge=0, le=2**31 - 1)]] = Field(min_length=1, max_length=2000)
    text1: Label | None = None
    text2: Label | None = None
    text3: Label | None = None


class StreetSignsUpdated(BaseModel):
    """Answer of ``PATCH .../street-signs``: the signs that changed."""

    ids: list[int]


class PagerPerms(_Request):
    """Who may page: roles and players."""

    roles: list[Free] = Field(default_factory=list, max_length=500)
    players: list[Free] = Field(default_factory=list, max_length=500)

    _lists = field_validator("roles", "players", mode="before")(_empty_table_as_list)


DEFAULT_NATURE_WORDS = {
    "Emergency": "Emergency",
    "NonEmergency": "Non-Emergency",
    "Administrative": "Administrative",
}


def _no_perms() -> dict[str, list[JsonValue]]:
    return {"roles": [], "players": []}


class PagerConfig(BaseModel):
    """The Inferno pager configuration of a server, as ``GET .../pager-config`` answers it."""

    natureWords: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_NATURE_WORDS))
    maxAddresses: int = 5
    maxBodyLength: int = 250
    nodes: list[JsonValue] = Field(default_factory=list)
    perms: dict[str, list[JsonValue]] = Field(default_factory=_no_perms)


class PagerConfigChange(_Request):
    """Body of ``PUT .../pager-config``; without ``nodes`` the stored node tree stays."""

    natureWords: dict[str, Label] = Field(default_factory=lambda: dict(DEFAULT_NATURE_WORDS), max_length=50)
    maxAddresses: Annotated[int, Field(ge=0, le=1000)] = 5
    maxBodyLength: Annotated[int, Field(ge=0, le=100_000)] = 250
    nodes: list[Free] | None = Field(None, max_length=1000)
    perms: PagerPerms | None = None

    _nodes = field_validator("nodes", mode="before")(_empty_table_as_list)


class ServerConfiguration(BaseModel):
    """A server's stored configuration (what ``opendispatch server show`` lists); None: never sent."""

    stations: dict[str, Any] | None
    callouts: list[Any] | None
    streetSigns: list[Any] | None
    pager: dict[str, Any] | None
