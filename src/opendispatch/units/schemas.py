"""Wire format of accounts and units."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


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
