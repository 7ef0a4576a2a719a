"""Wire format of the community endpoints and the identity a request carries."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from pydantic import BaseModel

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
    api_enabled: bool
    limits: dict[str, int] = field(default_factory=dict)

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
