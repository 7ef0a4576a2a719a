"""metaData at its documented bound fits a request body: at the bound it is stored, one byte over is a 400.

The bound is the object's size as compact UTF-8 JSON (``META_MAX_BYTES``); a call carrying it with every
text field at its own bound still fits ``OPENDISPATCH_MAX_BODY_BYTES``.
"""

from __future__ import annotations

from typing import Any

import orjson

from opendispatch.calls.schemas import META_MAX_BYTES, META_MAX_VALUE_LENGTH
from tests.support import Community, Provisioner, Server, every_row_count, new_911, new_dispatch

SERVER = "/v2/emergency/servers/1"


def metadata_of(size: int) -> dict[str, str]:
    """A metaData object of exactly ``size`` bytes as compact JSON, each value within its own bound."""
    keys = [f"k{n:02}" for n in range(size // META_MAX_VALUE_LENGTH + 1)]
    values = dict.fromkeys(keys, "")
    room = size - len(orjson.dumps(values))
    for key in keys:
        values[key] = "x" * min(room, META_MAX_VALUE_LENGTH)
        room -= len(values[key])
    assert room == 0 and len(orjson.dumps(values)) == size
    return values


def test_metadata_at_its_bound_is_stored_and_one_byte_over_is_refused(
    server: Server, provision: Provisioner, community: Community
) -> None:
    largest = metadata_of(META_MAX_BYTES)
    with server.client(community.api_key) as http:
        # A dispatch call: a 911 call's own bound (16 KiB with everything in it) is the tighter one there.
        stored = http.post(SERVER + "/dispatch-calls", json=new_dispatch(metaData=largest))
        before = every_row_count(provision)
        over = http.post(SERVER + "/calls/911", json=new_911(metaData=metadata_of(META_MAX_BYTES + 1)))
        listed = http.get(SERVER + "/calls").json()["activeCalls"]
    assert stored.status_code == 200, stored.text
    assert [call["metaData"] for call in listed] == [largest]
    assert over.status_code == 400
    assert over.json()["errors"] == [
        {"field": "metaData", "message": f"at most {META_MAX_BYTES} bytes as JSON"}
    ]
    assert every_row_count(provision) == before


def test_a_call_with_metadata_and_text_at_their_bounds_fits_the_body_limit(
    server: Server, community: Community
) -> None:
    body: dict[str, Any] = new_dispatch(
        metaData=metadata_of(META_MAX_BYTES),
        description="d" * 10_000,
        title="t" * 255,
        block="b" * 255,
        address="a" * 1024,
    )
    sent = orjson.dumps(body)
    assert len(sent) < server.settings.max_body_bytes
    with server.client(community.api_key) as http:
        created = http.post(
            SERVER + "/dispatch-calls", content=sent, headers={"Content-Type": "application/json"}
        )
    assert created.status_code == 200, created.text
    assert created.json()["metaData"] == body["metaData"]
