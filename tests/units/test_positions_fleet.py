"""Two ``opendispatch serve`` processes over one PostgreSQL: a position sent to one process's hub reaches
the live streams of the other (NOTIFY), and is saved once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from opendispatch.units.models import identifiers
from tests.hub.node import run_client
from tests.support import Provisioner, lift_limits
from tests.test_fleet import START_SECONDS, ServeProcess, start_serve, stop, wait_until
from tests.units.test_positions import Frames, at


@pytest.fixture
def pair(postgresql_url: str, tmp_path: Path) -> Iterator[list[ServeProcess]]:
    servers = [start_serve(f"serve{n}", postgresql_url, tmp_path) for n in (1, 2)]
    try:
        wait_until(
            lambda: all(server.is_ready() for server in servers),
            START_SECONDS,
            lambda: "\n".join(server.tail() for server in servers),
        )
        yield servers
    finally:
        for server in servers:
            stop(server.process)


@pytest.mark.own_database  # it runs on a PostgreSQL database whatever --backend says
def test_a_position_sent_to_one_process_reaches_the_streams_of_another(
    pair: list[ServeProcess], postgresql_url: str
) -> None:
    provision = Provisioner(postgresql_url)
    try:
        community = provision.community("Fleet")
        lift_limits(provision, community)
        account = provision.account(community, "officer", "license:officer")
        ident = provision.unit(community, account["uuid"], server_id=1, unit_num="1A-01")
        hub_side, stream_side = pair
        frames = Frames(stream_side.url, community.api_key)
        report = {"identId": ident, "location": "Alta St", "coordinates": {"x": 7, "y": 8, "w": 180}}
        sent = time.monotonic()
        outcomes = run_client(
            f"{hub_side.url}/apiWsHub",
            [
                {"op": "start"},
                {
                    "op": "invoke",
                    "method": "authenticatev2",
                    "args": [community.community_id, community.api_key, 1],
                },
                {"op": "invoke", "method": "unitLocation", "args": [[report]]},
            ],
        )
        assert outcomes[2]["result"]["count"] == 1
        frame = frames.wait_for(lambda f: at(f, ident), "the officer, from the other process")
        assert at(frame, ident)["coordinates"] == {"x": 7.0, "y": 8.0, "z": 0.0, "w": 180.0}  # type: ignore[index]
        assert frames.frames[0][0] > sent

        def saved() -> str | None:
            with provision.db.transaction() as conn:
                return conn.execute(
                    select(identifiers.c.location).where(identifiers.c.ident_id == ident)
                ).scalar()

        wait_until(lambda: saved() == "Alta St", 10, lambda: f"saved {saved()!r}")
    finally:
        provision.close()
