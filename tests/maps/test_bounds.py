"""The size of a blip is bounded: at the bound stored, one over refused naming it, nothing kept."""

from __future__ import annotations

import orjson

from opendispatch.maps.schemas import MAX_BLIP_BYTES
from tests.maps.support import blip_body
from tests.support import Community, Server

BLIPS = "/v2/emergency/servers/1/blips"


def sized(total: int) -> dict[str, object]:
    """A blip body whose blip, as answered, weighs exactly ``total`` bytes (the id counted as one digit)."""
    body = blip_body(tooltip="", data=[])
    bare = len(orjson.dumps({"id": 1, **body}))
    rows, rest = [], total - bare
    row = len(orjson.dumps({"title": "", "text": ""}))
    while rest > 0:
        text = min(1024, rest - row - (1 if rows else 0))
        rows.append({"title": "", "text": "t" * text})
        rest -= row + text + (1 if len(rows) > 1 else 0)
    return {**body, "data": rows}


def test_a_blip_weighs_at_most_its_bound(server: Server, community: Community) -> None:
    with server.client(community.api_key) as api:
        at = api.post(BLIPS, json=sized(MAX_BLIP_BYTES))
        assert at.status_code == 200, at.text[:300]
        assert len(orjson.dumps(at.json())) == MAX_BLIP_BYTES
        over = api.post(BLIPS, json=sized(MAX_BLIP_BYTES + 1))
        assert over.status_code == 409 and "size of a blip" in over.json()["detail"]
        grown = api.patch(f"{BLIPS}/{at.json()['id']}", json={"tooltip": "x"})
        assert grown.status_code == 409 and "size of a blip" in grown.json()["detail"]
        listed = api.get(BLIPS).json()
        assert listed == [at.json()]
