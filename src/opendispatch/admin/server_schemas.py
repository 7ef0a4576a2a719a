"""Shapes of the admin pages' servers, API keys, and plan and limits: what they send and answer."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from opendispatch.communities.schemas import MAX_KEY_LABEL, MAX_RATE_LIMIT, ApiKeyInfo, Plan
from opendispatch.events.schemas import DeliveryAttempt, Shape
from opendispatch.maps.schemas import PostalList
from opendispatch.schemas import MAX_ID
from opendispatch.web.schemas import MapInfo

MAX_DELIVERY_LOG = 200
PlanName = Annotated[str, Field(pattern="^(" + "|".join(plan.name for plan in Plan) + ")$")]


class _Body(BaseModel):
    # The admin pages are our own: a field they do not know, or "off" for false, is a mistake worth a 400.
    model_config = ConfigDict(extra="forbid", strict=True)


# -- servers ---------------------------------------------------------------------------------------------


class PushTargetView(BaseModel):
    """A server's push target as the admin sees it: never its signing secret after it was shown."""

    url: str
    shape: Shape
    enabled: bool
    receiverKey: bool  # whether events carry an API key for the receiver to check


class AdminServer(BaseModel):
    """One server: its name, last heartbeat, push target and map."""

    id: int
    name: str
    playerCount: int | None
    lastHeartbeat: str | None
    push: PushTargetView | None
    map: MapInfo | None


class AdminServers(BaseModel):
    """The community's servers, and how many postals its (community-wide) postal list holds."""

    servers: list[AdminServer]
    postals: int


class ServerRename(_Body):
    """Body of renaming a server."""

    name: Annotated[str, Field(min_length=1, max_length=255)]


class PushTargetChange(_Body):
    """Body of creating or changing a server's push target; fields left out stay as they are."""

    url: Annotated[str, Field(max_length=2048)] | None = None
    shape: Shape | None = None
    enabled: bool | None = None


class PushTargetSet(BaseModel):
    """A push target just set; the signing secret (and a receiver key) only when just made: shown once."""

    server: AdminServer
    signingSecret: str | None = None
    receiverKey: str | None = None


class SecretRotated(BaseModel):
    """A push target's new signing secret, shown this once."""

    serverId: int
    signingSecret: str


class DeliveryLog(BaseModel):
    """A server's newest delivery attempts, newest first."""

    attempts: list[DeliveryAttempt]


class Redelivery(_Body):
    """Body of redelivering: one event of the server, or every dead event of it."""

    eventId: Annotated[int, Field(ge=1, le=MAX_ID)] | None = None
    dead: bool = False

    @model_validator(mode="after")
    def _one(self) -> Redelivery:
        if (self.eventId is None) == (not self.dead):
            raise ValueError("give eventId, or dead: true (not both)")
        return self


class Redelivered(BaseModel):
    """The events queued for delivery again."""

    eventIds: list[int]


class MapCleared(BaseModel):
    """A server whose map image was taken away."""

    serverId: int


class PostalFile(PostalList):
    """A postal file as FiveM postal resources ship it (``[{code, x, y}]``), or the v2 body around it."""

    @model_validator(mode="before")
    @classmethod
    def _bare_list(cls, value: Any) -> Any:
        return {"postals": value} if isinstance(value, list) else value


# -- API keys --------------------------------------------------------------------------------------------


class NewKey(_Body):
    """Body of creating an API key: the label it is recognised by."""

    label: Annotated[str, Field(min_length=1, max_length=MAX_KEY_LABEL)]


class KeyCreated(BaseModel):
    """A new API key: the whole key, shown this once, and how it is listed from now on."""

    apiKey: str
    key: ApiKeyInfo


class KeyList(BaseModel):
    """The community's keys (revoked ones too when asked), oldest first."""

    keys: list[ApiKeyInfo]


class KeyRevoked(BaseModel):
    """A key just revoked."""

    key: ApiKeyInfo


# -- plan and limits -------------------------------------------------------------------------------------


class OperationLimit(BaseModel):
    """One operation's per-key requests per minute: the default, the community's override, what applies."""

    operation: str
    default: int
    override: int | None
    perMinute: int


class PlanAndLimits(BaseModel):
    """The community's plan, API switch and every operation's rate limit."""

    plan: str
    plans: list[str]
    apiEnabled: bool
    maxPerMinute: int
    limits: list[OperationLimit]


class CommunityChange(_Body):
    """Body of changing the plan or switching the API; fields left out stay as they are."""

    plan: PlanName | None = None
    apiEnabled: bool | None = None


class LimitChange(_Body):
    """Body of overriding one operation's limit."""

    perMinute: Annotated[int, Field(ge=1, le=MAX_RATE_LIMIT)]
