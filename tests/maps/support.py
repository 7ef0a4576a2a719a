"""Helpers of the map tests: a postal list as FiveM postal resources write it, and a blip body."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.support import Community, Server
from tests.web.support import Console

POSTALS = "/v2/general/postals"
S1 = "/v2/emergency/servers/1"
BLIPS = f"{S1}/blips"

# Three postals as the nearest-postal resource's JSON holds them, replayed as the in-game resource sends
# them (sv_postals.lua: the decoded file passed through unchanged): codes as text, and whatever else a
# community's file carries.
RESOURCE_POSTALS: list[dict[str, Any]] = [
    {"code": "100", "x": 425.1, "y": -979.2},
    {"x": -1037.7, "y": -2737.9, "code": "8061"},
    {"code": "9001", "x": 1855.0, "y": 3683.4, "street": "Alhambra Dr"},
]


def blip_body(**overrides: Any) -> dict[str, Any]:
    """The Create Blip docs page's request body, with ``overrides`` applied."""
    body: dict[str, Any] = {
        "coordinates": {"x": 441.2, "y": -981.9, "z": 0.0, "w": 0.0},
        "subType": "scene",
        "icon": "fa-solid fa-location-crosshairs",
        "color": "red",
        "tooltip": "Scene perimeter",
        "radius": 50.0,
        "data": [{"title": "Units", "text": "2"}],
    }
    body.update(overrides)
    return body


@contextmanager
def console(server: Server, community: Community) -> Iterator[Console]:
    """A console session of the community's dispatcher ``alice``, closed afterwards."""
    session = Console(server, community)
    try:
        yield session
    finally:
        session.close()
