"""Wire format of the map: postal lists as FiveM postal resources write them, and blips as the docs show."""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    RootModel,
    field_validator,
    model_validator,
)

from opendispatch.schemas import Id

# Limits chosen for postals and blips; docs/api.md lists them.
MAX_POSTALS = 20_000
MAX_POSTAL_CODE = 32
POSTAL_BODY_BYTES = 2 * 1024 * 1024  # 20,000 postals as the resources write them, with room to spare
MAX_BLIPS_PER_SERVER = 500
MAX_BLIP_DATA_ROWS = 20
# A blip as answered, its data rows included, in UTF-8 JSON bytes: a tooltip and a few rows of a scene,
# with room to spare. With MAX_BLIPS_PER_SERVER it bounds Get Blips and the board.
MAX_BLIP_BYTES = 8 * 1024
MAX_BLIP_IDS = 500
MAX_COORDINATE = 1e7

Coordinate = Annotated[float, Field(ge=-MAX_COORDINATE, le=MAX_COORDINATE)]


def _utf8(text: str) -> str:
    # JSON may carry a lone surrogate (an escaped \ud800 alone), which no database column can store.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("is not valid UTF-8 text (a lone surrogate)") from None
    return text


Text = Annotated[str, AfterValidator(_utf8)]


def _empty_table_as_list(value: Any) -> Any:
    # Lua writes an empty table as {} or [], whichever the field is not.
    return [] if value == {} else value


def postal_code(value: Any) -> str:
    """A postal code as text: resources write ``"100"`` or ``100``; surrounding spaces do not count."""
    if isinstance(value, bool):
        raise ValueError("must be text or a whole number")
    if isinstance(value, int):
        value = str(value)
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = str(int(value))
    if not isinstance(value, str):
        raise ValueError("must be text or a whole number")
    code = value.strip()
    if not 0 < len(code) <= MAX_POSTAL_CODE:
        raise ValueError(f"must be 1 to {MAX_POSTAL_CODE} characters")
    return _utf8(code)


class _Lenient(BaseModel):
    # Resources send numbers as text ("425.1"); unknown keys (the resource's own) are ignored.
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)


class Postal(_Lenient):
    """One postal: its code and where it is (``{code, x, y}``, the format of every FiveM postal resource)."""

    code: Annotated[str, BeforeValidator(postal_code)]
    x: Coordinate
    y: Coordinate


class PostalList(_Lenient):
    """Body of ``PUT /v2/general/postals``: the whole list, replacing the previous one."""

    postals: Annotated[list[Postal], BeforeValidator(_empty_table_as_list), Field(max_length=MAX_POSTALS)]

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={"examples": [{"postals": [{"code": "100", "x": 425.1, "y": -979.2}]}]},
    )


class PostalsSet(BaseModel):
    """Answer of ``PUT /v2/general/postals``: how many postals the community now has."""

    updated: int


class PostalPosition(BaseModel):
    """A postal found by its code (the console's postal search)."""

    code: str
    x: float
    y: float


# -- blips -----------------------------------------------------------------------------------------------


class BlipCoordinates(_Lenient):
    """Where a blip is: game ``x``, ``y``, ``z`` and heading ``w``."""

    x: Coordinate
    y: Coordinate
    z: Coordinate = 0.0
    w: Coordinate = 0.0


class BlipCoordinatesChange(_Lenient):
    """The coordinates of a blip being moved: those sent change."""

    x: Coordinate | None = None
    y: Coordinate | None = None
    z: Coordinate | None = None
    w: Coordinate | None = None


class BlipDataRow(BaseModel):
    """One line of a blip's details: ``{title, text}``."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    title: Annotated[Text, Field(max_length=255)] = ""
    text: Annotated[Text, Field(max_length=1024)] = ""


SubType = Annotated[Text, Field(max_length=64)]
Icon = Annotated[Text, Field(max_length=1024)]
Color = Annotated[Text, Field(max_length=64)]
Tooltip = Annotated[Text, Field(max_length=255)]
Radius = Annotated[float, Field(ge=0, le=MAX_COORDINATE)]
DataRows = Annotated[
    list[BlipDataRow], BeforeValidator(_empty_table_as_list), Field(max_length=MAX_BLIP_DATA_ROWS)
]


def _drop_nulls(value: Any) -> Any:
    # A null field is an absent one (Lua's nil, JavaScript's undefined written as null).
    return (
        {key: item for key, item in value.items() if item is not None} if isinstance(value, dict) else value
    )


class NewBlip(_Lenient):
    """Body of Create Blip, or ``{blip: {...}}`` as the in-game resource wraps it; an ``id`` sent (the
    older resource's -1) is ignored and a null field is an absent one."""

    coordinates: BlipCoordinates
    subType: SubType = ""
    icon: Icon = ""
    color: Color = ""
    tooltip: Tooltip = ""
    radius: Radius = 0.0
    data: DataRows = Field(default_factory=list)

    model_config = ConfigDict(
        extra="ignore",
        allow_inf_nan=False,
        json_schema_extra={
            "examples": [
                {
                    "coordinates": {"x": 441.2, "y": -981.9, "z": 0.0, "w": 0.0},
                    "subType": "scene",
                    "icon": "fa-solid fa-location-crosshairs",
                    "color": "red",
                    "tooltip": "Scene perimeter",
                    "radius": 50.0,
                    "data": [{"title": "Units", "text": "2"}],
                }
            ]
        },
    )

    @model_validator(mode="before")
    @classmethod
    def _unwrapped(cls, value: Any) -> Any:
        # The in-game resource's legacy blip exports send the older v1 item's ``{blip: {...}}`` to v2.
        if isinstance(value, dict) and "coordinates" not in value and isinstance(value.get("blip"), dict):
            value = value["blip"]
        return _drop_nulls(value)


class BlipChanges(_Lenient):
    """Body of Update Blip: only the fields sent change (at least one)."""

    coordinates: BlipCoordinatesChange | None = None
    subType: SubType | None = None
    icon: Icon | None = None
    color: Color | None = None
    tooltip: Tooltip | None = None
    radius: Radius | None = None
    data: DataRows | None = None

    model_config = ConfigDict(
        extra="ignore",
        allow_inf_nan=False,
        json_schema_extra={
            "examples": [{"tooltip": "Updated perimeter", "color": "#00a3ff", "radius": 150}],
            # The rule of update_blip in the OpenAPI document: at least one field to change.
            "anyOf": [
                {"required": [name], "properties": {name: {"not": {"type": "null"}}}}
                for name in ("coordinates", "subType", "icon", "color", "tooltip", "radius", "data")
            ],
        },
    )

    def changed(self) -> dict[str, Any]:
        """The fields sent, by name."""
        return {
            name: getattr(self, name) for name in self.model_fields_set if getattr(self, name) is not None
        }


class BlipIds(_Lenient):
    """Body of Delete Blips."""

    ids: Annotated[list[Id], BeforeValidator(_empty_table_as_list), Field(max_length=MAX_BLIP_IDS)]

    @field_validator("ids")
    @classmethod
    def _unique(cls, ids: list[int]) -> list[int]:
        return list(dict.fromkeys(ids))


class Blip(BaseModel):
    """A blip as the docs show it."""

    id: int
    coordinates: BlipCoordinates
    subType: str
    icon: str
    color: str
    tooltip: str
    data: list[BlipDataRow]
    radius: float


class BlipList(RootModel[list[Blip]]):
    """Answer of Get Blips (and v1 ADD_BLIP, GET_BLIPS): a bare JSON array of blips."""


class BlipUpdated(BaseModel):
    """Answer of Update Blip."""

    id: int


class BlipsDeleted(BaseModel):
    """Answer of Delete Blips: the ids deleted."""

    ids: list[int]
