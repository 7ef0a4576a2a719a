"""v1 items of the map types (SET_POSTALS, ADD_BLIP, GET_BLIPS, MODIFY_BLIP, REMOVE_BLIP) as v2 requests.

The JS SDK sends SET_POSTALS, ADD_BLIP and MODIFY_BLIP as one array wrapped in ``data`` (``[[...]]``),
GET_BLIPS and REMOVE_BLIP as positional ``{"0": ...}``; the older in-game resource (sonrad) sends
``{serverId, blip: {...}}``, ``{ids: [...]}`` and ``{serverId}`` with the server id as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

from opendispatch.legacy.schemas import DEFAULT_SERVER_ID, Raw
from opendispatch.maps.schemas import BlipChanges, BlipIds, NewBlip, Postal
from opendispatch.schemas import Id


@dataclass(frozen=True, slots=True)
class PostalItem:
    """SET_POSTALS: one postal of the list (the items together are the whole list)."""

    label: str
    postal: Postal

    @classmethod
    def parse(cls, label: str, item: Raw) -> PostalItem:
        """The item as one postal of v2 Set Postal Config's list."""
        return cls(label, Postal.model_validate(item))


@dataclass(frozen=True, slots=True)
class BlipItem:
    """ADD_BLIP: one blip for a server, ``{serverId, blip: {...}}`` (or the blip's fields beside serverId)."""

    label: str
    server_id: int
    blip: NewBlip

    @classmethod
    def parse(cls, label: str, item: Raw) -> BlipItem:
        """The item's blip as v2 Create Blip's body."""
        return cls(label, item["serverId"], NewBlip.model_validate(item))


_WHOLE_TEXT = re.compile(r"\s*[-+]?[0-9]{1,19}\s*")  # ASCII digits only: "²" is a digit to str.isdigit


def _whole(value: Any) -> Any:
    # The resource writes numbers as text; a float with nothing after the point is a whole number.
    if isinstance(value, str) and _WHOLE_TEXT.fullmatch(value):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class _BlipRef(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")

    id: Annotated[Id, BeforeValidator(_whole)]


@dataclass(frozen=True, slots=True)
class BlipChangeItem:
    """MODIFY_BLIP: ``{id, ...the fields to change}``."""

    label: str
    blip_id: int
    changes: BlipChanges

    @classmethod
    def parse(cls, label: str, item: Raw) -> BlipChangeItem:
        """The item as the blip's id and v2 Update Blip's body."""
        ref = _BlipRef.model_validate(item)
        fields = {name: value for name, value in item.items() if name not in {"id", "serverId"}}
        return cls(label, ref.id, BlipChanges.model_validate(fields))


@dataclass(frozen=True, slots=True)
class BlipRemoval:
    """REMOVE_BLIP: ``{ids: [...]}``, or the JS SDK's single id."""

    label: str
    ids: list[int]

    @classmethod
    def parse(cls, label: str, item: Raw) -> BlipRemoval:
        """The item as v2 Delete Blips' body."""
        ids = item.get("ids", [])
        ids = [_whole(each) for each in (ids if isinstance(ids, list) else [ids])]
        return cls(label, BlipIds.model_validate({"ids": ids}).ids)


class _Server(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")

    serverId: Annotated[Id, BeforeValidator(_whole)] = DEFAULT_SERVER_ID


@dataclass(frozen=True, slots=True)
class BlipsQuery:
    """GET_BLIPS: the server, as ``serverId`` or the JS SDK's positional ``"0"``."""

    label: str
    server_id: int

    @classmethod
    def parse(cls, label: str, item: Raw) -> BlipsQuery:
        """The server the item names."""
        server = item.get("0", item.get("serverId", DEFAULT_SERVER_ID))
        return cls(label, _Server.model_validate({"serverId": server}).serverId)
