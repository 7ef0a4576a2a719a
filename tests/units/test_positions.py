"""Live unit positions: from the hub and the API to the live streams, coalesced, and saved in batches."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select

from opendispatch.events.tasks import StreamBroker
from opendispatch.settings import Settings
from opendispatch.storage.database import Database
from opendispatch.units.models import identifiers
from opendispatch.units.positions import FRAME_SECONDS, LivePositions
from opendispatch.units.schemas import UnitPosition
from tests.hub.node import run_client
from tests.support import Community, LiveServer, Provisioner, live_server

S1 = "/v2/emergency/servers/1"


class Frames:
    """Reads a live stream in a thread and keeps each ``unit_positions`` frame with its arrival time."""

    def __init__(self, url: str, api_key: str) -> None:
        self.frames: list[tuple[float, dict[str, Any]]] = []
        self._arrived = threading.Condition()
        self._opened = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(url, api_key), daemon=True)
        self._thread.start()
        assert self._opened.wait(10)

    def _read(self, url: str, api_key: str) -> None:
        headers = {"Authorization": f"Bearer {api_key}"}
        with (
            httpx.Client(timeout=httpx.Timeout(10, read=None)) as client,
            client.stream("GET", f"{url}{S1}/events", headers=headers) as answer,
        ):
            self._opened.set()
            event = ""
            with suppress(httpx.HTTPError):
                for line in answer.iter_lines():
                    if line.startswith("event: "):
                        event = line.removeprefix("event: ")
                    elif line.startswith("data: ") and event == "unit_positions":
                        with self._arrived:
                            self.frames.append((time.monotonic(), json.loads(line.removeprefix("data: "))))
                            self._arrived.notify_all()

    def wait_for(self, found: Any, what: str) -> dict[str, Any]:
        """The first frame for which ``found(frame)`` holds, waiting up to ten seconds."""
        with self._arrived:
            assert self._arrived.wait_for(
                lambda: any(found(frame) for _, frame in self.frames), timeout=10
            ), f"no frame with {what}: {self.frames}"
            return next(frame for _, frame in self.frames if found(frame))


def at(frame: dict[str, Any], ident: int) -> dict[str, Any] | None:
    return next((unit for unit in frame["units"] if unit["identId"] == ident), None)


@pytest.fixture
def slow_saving(settings: Settings, provision: Provisioner) -> Iterator[LiveServer]:
    """A server that saves hub positions only after a minute: what a stream shows came from memory."""
    with live_server(settings.model_copy(update={"position_save_seconds": 60})) as running:
        yield running


def test_hub_positions_reach_the_stream_at_once_and_the_database_only_when_saved(
    slow_saving: LiveServer, provision: Provisioner, community: Community
) -> None:
    account = provision.account(community, "officer", "license:officer")
    ident = provision.unit(community, account["uuid"], server_id=1, unit_num="1A-01")
    frames = Frames(slow_saving.url, community.api_key)
    report = {
        "communityUserId": "license:officer",
        "location": "Alta St",
        "coordinates": {"x": 5, "y": 6, "w": 45},
    }
    key = [community.community_id, community.api_key, 1]
    outcomes = run_client(
        f"{slow_saving.url}/apiWsHub",
        [
            {"op": "start"},
            {"op": "invoke", "method": "authenticatev2", "args": key},
            {"op": "invoke", "method": "unitLocation", "args": [[report]]},
        ],
    )
    assert outcomes[2]["result"]["count"] == 1
    frame = frames.wait_for(lambda f: at(f, ident), "the officer")
    assert frame["serverId"] == 1
    assert at(frame, ident) == {
        "identId": ident,
        "location": "Alta St",
        "coordinates": {"x": 5.0, "y": 6.0, "z": 0.0, "w": 45.0},
        "at": at(frame, ident)["at"],  # type: ignore[index]
    }
    with provision.db.transaction() as conn:
        saved = conn.execute(select(identifiers.c.location).where(identifiers.c.ident_id == ident)).scalar()
    assert saved == ""  # not yet: the batch is written a minute later


def test_a_location_sent_through_the_api_also_reaches_the_stream(
    live: LiveServer, provision: Provisioner, community: Community
) -> None:
    account = provision.account(community, "officer", "license:officer")
    ident = provision.unit(community, account["uuid"], server_id=1, unit_num="1A-01")
    frames = Frames(live.url, community.api_key)
    with live.client(community.api_key) as api:
        body = {
            "updates": [{"apiId": "license:officer", "location": "Vespucci", "x": 1, "y": 2, "heading": 3}]
        }
        assert api.patch(f"{S1}/unit-locations", json=body).json()["identIds"] == [ident]
    frame = frames.wait_for(lambda f: at(f, ident), "the officer")
    assert at(frame, ident)["coordinates"] == {"x": 1.0, "y": 2.0, "z": 0.0, "w": 3.0}  # type: ignore[index]


def position(ident: int, x: float) -> UnitPosition:
    return UnitPosition(ident, f"street {x}", x, 0.0, 0.0, None, 1)


def test_positions_are_coalesced_per_unit_and_saved_together(
    provision: Provisioner, community: Community, database_url: str
) -> None:
    account = provision.account(community, "officer", "license:officer")
    first = provision.unit(community, account["uuid"], server_id=1, unit_num="1A-01")
    partner = provision.account(community, "partner", "license:partner")
    second = provision.unit(community, partner["uuid"], server_id=1, unit_num="1A-02")

    async def scenario() -> tuple[list[tuple[float, dict[str, Any]]], list[float]]:
        db = Database(database_url)
        db.start()
        broker = StreamBroker(db)
        positions = LivePositions(db, broker, save_seconds=60)
        subscription = broker.subscribe(community.community_id, 1, after=10**9)
        frames: list[tuple[float, dict[str, Any]]] = []

        async def next_frame() -> None:
            while True:
                item = await asyncio.wait_for(subscription.queue.get(), 5)
                if isinstance(item, bytes) and item.startswith(b"event: unit_positions"):
                    data = item.split(b"data: ", 1)[1]
                    frames.append((asyncio.get_running_loop().time(), orjson.loads(data)))
                    return

        try:
            # Ten reports of one unit and one of another at once: one frame, each unit's latest only.
            for x in range(10):
                positions.placed(community.community_id, 1, [position(first, x)], saved=False)
            positions.placed(community.community_id, 1, [position(second, 99)], saved=False)
            await next_frame()
            # Reported again at once: the next frame waits for its turn.
            positions.placed(community.community_id, 1, [position(first, 42)], saved=False)
            await next_frame()
            with db.engine.connect() as conn:
                before = conn.execute(select(identifiers.c.x).where(identifiers.c.ident_id == first)).scalar()
            await positions.save()
            with db.engine.connect() as conn:
                rows = conn.execute(
                    select(identifiers.c.ident_id, identifiers.c.x, identifiers.c.located_at).where(
                        identifiers.c.ident_id.in_([first, second])
                    )
                ).all()
            return frames, [
                before,
                *[row.x for row in sorted(rows)],
                *[row.located_at for row in sorted(rows)],
            ]
        finally:
            broker.unsubscribe(subscription)
            await db.drain()
            db.close()

    frames, saved = asyncio.run(scenario())
    (t1, one), (t2, two) = frames
    assert [(unit["identId"], unit["coordinates"]["x"]) for unit in one["units"]] == [
        (first, 9.0),
        (second, 99.0),
    ]
    assert [unit["identId"] for unit in two["units"]] == [first]  # only the unit that moved
    assert t2 - t1 >= FRAME_SECONDS - 0.01
    assert saved == [None, 42.0, 99.0, 1, 1]  # nothing before the save; each unit's latest after it
