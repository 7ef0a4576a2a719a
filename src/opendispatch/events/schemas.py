"""Wire format of push events, push targets and the delivery log."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from opendispatch.schemas import Id


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
    """A server as ``GET /v2/general/servers`` lists it, with its push settings."""

    id: int
    name: str
    pushUrl: str | None = None
    pushShape: Shape = "array"
    pushEnabled: bool = False


class ServerSettingsList(BaseModel):
    """Answer of ``GET``/``PUT /v2/general/servers``."""

    servers: list[ServerSettings]


class ServerChange(BaseModel):
    """One server's changes in ``PUT /v2/general/servers``; fields left out stay as they are."""

    model_config = ConfigDict(strict=True, extra="ignore")

    id: Id
    name: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    pushUrl: Annotated[str, Field(max_length=2048)] | None = None
    pushShape: Shape | None = None
    pushEnabled: bool | None = None


class ServerChanges(BaseModel):
    """Body of ``PUT /v2/general/servers``."""

    model_config = ConfigDict(strict=True, extra="ignore")

    servers: list[ServerChange] = Field(min_length=1, max_length=100)


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
