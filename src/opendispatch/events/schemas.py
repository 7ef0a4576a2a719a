"""Wire format of push events, push targets and the delivery log."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class EventType(StrEnum):
    """The push events of SPEC section 6."""

    EVENT_911 = "EVENT_911"
    EVENT_REMOVE_911 = "EVENT_REMOVE_911"
    EVENT_DISPATCH_NEW = "EVENT_DISPATCH_NEW"
    EVENT_DISPATCH_EDIT = "EVENT_DISPATCH_EDIT"
    EVENT_DISPATCH_CLOSED = "EVENT_DISPATCH_CLOSED"
    EVENT_DISPATCH_NOTE = "EVENT_DISPATCH_NOTE"
    EVENT_DISPATCH_UNIT_ATTACH = "EVENT_DISPATCH_UNIT_ATTACH"
    EVENT_DISPATCH_UNIT_DETACH = "EVENT_DISPATCH_UNIT_DETACH"
    EVENT_UNIT_STATUS = "EVENT_UNIT_STATUS"
    EVENT_UNIT_PANIC = "EVENT_UNIT_PANIC"
    # A unit comes on duty on a server (selected there, not OFFLINE) or leaves it (docs/events.md).
    EVENT_UNIT_LOGIN = "EVENT_UNIT_LOGIN"
    EVENT_UNIT_LOGOUT = "EVENT_UNIT_LOGOUT"
    EVENT_UNIT_GROUP_ADD = "EVENT_UNIT_GROUP_ADD"
    EVENT_UNIT_GROUP_REMOVE = "EVENT_UNIT_GROUP_REMOVE"
    EVENT_UNIT_GROUP_CHANGE_NAME = "EVENT_UNIT_GROUP_CHANGE_NAME"
    # Pushed: the in-game resource closes a player's /link popup on it.
    EVENT_COMMUNITY_LINK_VERIFIED = "EVENT_COMMUNITY_LINK_VERIFIED"
    # Ours, for the console and the v2 stream only: never pushed (the in-game resource has no such event).
    EVENT_BLIPS_CHANGED = "EVENT_BLIPS_CHANGED"


Shape = Literal["array", "object"]


class PushTarget(BaseModel):
    """A server's push target as operators see it (the signing secret only through the CLI)."""

    serverId: int
    url: str
    shape: Shape
    enabled: bool


class ServerSettings(BaseModel):
    """A server as ``GET /v2/general/servers`` lists it: the docs' fields, then its push settings."""

    id: int
    name: str
    description: str = ""
    signal: str = ""
    mapUrl: str = ""
    mapIp: str = ""
    listenerPort: str = ""
    differingOutbound: bool = False
    outboundIp: str = ""
    enableMap: bool = False
    mapType: str = "NORMAL"
    isStatic: bool = False
    liveMapFormat: int = 0
    pushUrl: str | None = None
    pushShape: Shape = "array"
    pushEnabled: bool = False


class ServerSettingsList(BaseModel):
    """Answer of ``GET``/``PUT /v2/general/servers``."""

    servers: list[ServerSettings]


def _port_as_text(value: Any) -> Any:
    # The docs and the in-game resource send the port as text, the JS SDK's type as a number.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _id_as_number(value: Any) -> Any:
    # The in-game resource compares ids as text and may send one back that way.
    return int(value) if isinstance(value, str) and value.strip().isdigit() else value


Text255 = Annotated[str, Field(max_length=255)]


class ServerChange(BaseModel):
    """One server's changes in ``PUT /v2/general/servers``; fields left out stay as they are."""

    model_config = ConfigDict(strict=True, extra="ignore")

    id: Annotated[int, Field(ge=1, le=MAX_SERVER_ID)]
    name: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    description: Text255 | None = None
    signal: Annotated[str, Field(max_length=64)] | None = None
    mapUrl: Annotated[str, Field(max_length=2048)] | None = None
    mapIp: Text255 | None = None
    listenerPort: Annotated[str, Field(max_length=16)] | None = None
    differingOutbound: bool | None = None
    outboundIp: Text255 | None = None
    enableMap: bool | None = None
    mapType: Annotated[str, Field(max_length=32)] | None = None
    isStatic: bool | None = None
    liveMapFormat: Annotated[int, Field(ge=0, le=1)] | None = None
    pushUrl: Annotated[str, Field(max_length=2048)] | None = None
    pushShape: Shape | None = None
    pushEnabled: bool | None = None

    _port = field_validator("listenerPort", mode="before")(_port_as_text)
    _id = field_validator("id", mode="before")(_id_as_number)

    def docs_fields(self) -> dict[str, Any]:
        """The docs' fields that were sent, by column name."""
        sent = self.model_dump(include=set(SERVER_COLUMNS), exclude_none=True)
        return {SERVER_COLUMNS[name]: value for name, value in sent.items()}


# The docs' server fields and the column each is kept in.
SERVER_COLUMNS = {
    "name": "name",
    "description": "description",
    "signal": "signal",
    "mapUrl": "map_url",
    "mapIp": "map_ip",
    "listenerPort": "listener_port",
    "differingOutbound": "differing_outbound",
    "outboundIp": "outbound_ip",
    "enableMap": "enable_map",
    "mapType": "map_type",
    "isStatic": "is_static",
    "liveMapFormat": "live_map_format",
}
MAX_SERVER_ID = 1000
MAX_SERVERS = 100  # per community (communities.service.MAX_SERVERS)


class ServerChanges(BaseModel):
    """Body of ``PUT /v2/general/servers``: the servers named change (or are added); others stay."""

    model_config = ConfigDict(strict=True, extra="ignore")

    servers: list[ServerChange] = Field(min_length=1, max_length=MAX_SERVERS)
    deployMap: bool = False  # the hosted product redeploys its live map; nothing to deploy here


class DeliveryAttempt(BaseModel):
    """One try at delivering an event."""

    eventId: int
    eventType: str
    serverId: int
    time: str
    url: str
    statusCode: int | None
    latencyMs: int
    error: str | None
    state: str


class StreamMessage(BaseModel):
    """What an SSE subscriber receives for one event."""

    id: int
    type: str
    data: dict[str, object]
