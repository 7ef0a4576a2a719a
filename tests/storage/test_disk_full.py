"""A full disk: every door answers 503 with Retry-After, nothing of a refused request is stored.

SQLite reports a full disk as ``SQLITE_FULL``; ``PRAGMA max_page_count`` makes the database file full at
a size of the test's choosing, on every connection the server opens. The creates that hit it run their
statements straight on the driver (past SQLAlchemy), which is where a 500 came from before.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, event

from opendispatch.settings import Settings
from tests.legacy.v1 import sdk_body
from tests.storage.support import committed, stored_911_calls
from tests.support import Community, Provisioner, in_process_server, lift_limits, new_911
from tests.web.support import S1, Console, dispatcher

# Room for a few large calls past what the file holds when the server starts.
SPARE_PAGES = 8
LARGE = "x" * 2_000


@pytest.fixture
def full_soon() -> Iterator[None]:
    """Every SQLite connection opened meanwhile may grow its file by SPARE_PAGES pages only."""

    def limit(dbapi_connection: Any, _record: Any) -> None:
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages + SPARE_PAGES}")

    event.listen(Engine, "connect", limit)
    try:
        yield
    finally:
        event.remove(Engine, "connect", limit)


@pytest.mark.sqlite_only  # SQLITE_FULL; PostgreSQL's outage is tests/storage/test_outage.py
def test_a_full_disk_is_a_503_on_every_door_and_nothing_refused_is_stored(
    settings: Settings, provision: Provisioner, community: Community, database_url: str, full_soon: None
) -> None:
    lift_limits(provision, community)
    dispatcher(provision, community)
    with in_process_server(settings) as server, server.client(community.api_key) as http:
        answered: list[int] = []
        refused: httpx.Response | None = None
        for _ in range(200):
            answer = http.post(f"{S1}/calls/911", json=new_911(description=LARGE))
            if answer.status_code != 200:
                refused = answer
                break
            answered.append(answer.json()["callId"])
        assert refused is not None, "the disk never filled"
        assert refused.status_code == 503, refused.text
        assert refused.headers["Retry-After"] == "1"
        assert refused.json()["detail"] == "The database could not store the change; nothing was saved."

        item = {"serverId": 1, "isEmergency": True, "caller": "v1", "location": "Pier", "description": LARGE}
        v1 = http.post("/emergency/call_911", json=sdk_body(community, "CALL_911", [item]))
        assert (v1.status_code, v1.text) == (503, "STORAGE UNAVAILABLE: nothing was saved; try again")

        console = Console(server, community)
        try:
            button = console.post(f"{S1}/calls/911", new_911(description=LARGE))
        finally:
            console.close()
        assert button.status_code == 503, button.text

        # The server still answers what needs no room.
        assert http.get(f"{S1}/calls").status_code == 200
    # Every 200 is stored, and nothing else: no call, history entry or event of a refused create.
    assert stored_911_calls(database_url, community.community_id) == answered
    history = committed(database_url, "SELECT count(*) FROM call_history WHERE action = 'created'")
    events = committed(database_url, "SELECT count(*) FROM events WHERE type = 'EVENT_911'")
    assert (history[0][0], events[0][0]) == (len(answered), len(answered))
