"""Retention: finished events and old delivery attempts go after their age, batch by batch; pending events,
the call history and live sessions stay; a stream resuming before what is kept is told to reload."""

from __future__ import annotations

import asyncio
import json

import httpx
from sqlalchemy import func, select

from opendispatch.events import service as events
from opendispatch.events.models import delivery_attempts
from opendispatch.events.models import events as event_rows
from opendispatch.history.models import call_history
from opendispatch.ops.retention import prune
from opendispatch.storage.database import Database
from opendispatch.web.models import console_sessions
from tests.support import Community, LiveServer, ManualClock, Provisioner, new_911
from tests.web.support import Console, dispatcher

S1 = "/v2/emergency/servers/1"


def count(provision: Provisioner, table: object, *where: object) -> int:
    with provision.db.transaction() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())  # type: ignore[arg-type]


def run_prune(database_url: str, now: int, batch: int = 2) -> tuple[int, int, int]:
    async def go() -> tuple[int, int, int]:
        db = Database(database_url)
        db.start()
        try:
            pruned = await prune(db, now=now, keep_days=7, batch=batch)
            return pruned.events, pruned.attempts, pruned.sessions
        finally:
            await db.drain()
            db.close()

    return asyncio.run(go())


def test_old_finished_events_go_pending_ones_and_the_history_stay(
    live: LiveServer, provision: Provisioner, community: Community, clock: ManualClock, database_url: str
) -> None:
    provision.set_limit(community, "create_911", 1000)
    with live.client(community.api_key) as api:
        for n in range(5):
            assert api.post(f"{S1}/calls/911", json=new_911(caller=f"old {n}")).status_code == 200
    with provision.db.transaction() as conn:  # one old event still to be delivered: it must stay
        conn.execute(event_rows.update().where(event_rows.c.seq == 5).values(state="pending"))
        event_id = conn.execute(select(event_rows.c.event_id).where(event_rows.c.seq == 5)).scalar_one()
        conn.execute(
            delivery_attempts.insert().values(
                event_id=event_id,
                community_id=community.community_id,
                server_id=1,
                time=clock.now_ms(),
                url="http://receiver.example/",
                latency_ms=0,
                error=events.UNFINISHED,
            )
        )
    dispatcher(provision, community, "alice")
    Console(live, community, "alice").close()  # a session, ended twelve hours later
    assert count(provision, console_sessions) == 1
    clock.advance(minutes=8 * 24 * 60)
    with live.client(community.api_key) as api:
        api.post(f"{S1}/calls/911", json=new_911(caller="new"))
    history_before = count(provision, call_history)

    removed, attempts, ended = run_prune(database_url, clock.now_ms(), batch=2)  # in rounds of 2
    assert (removed, attempts, ended) == (4, 1, 1)
    assert count(provision, console_sessions) == 0
    with provision.db.transaction() as conn:
        kept = [row.seq for row in conn.execute(select(event_rows.c.seq).order_by(event_rows.c.seq))]
    assert kept == [5, 6]  # the pending old one and the new one
    assert count(provision, call_history) == history_before  # the call history is never pruned
    assert count(provision, delivery_attempts) == 0

    # A stream resuming at id 1 missed events that are gone: it is told to reload, then gets what is kept.
    with (
        httpx.Client(timeout=httpx.Timeout(10, read=None)) as http,
        http.stream(
            "GET",
            f"{live.url}{S1}/events",
            headers={"Authorization": f"Bearer {community.api_key}", "Last-Event-ID": "1"},
        ) as answer,
    ):
        frames = answer.iter_text()
        text = ""
        while "id: 6" not in text:
            text += next(frames)
    reload_frame = text.split("\n\n")[0]
    assert reload_frame.startswith("event: reload\ndata: ")
    told = json.loads(reload_frame.split("data: ", 1)[1])
    assert told["lastEventId"] == 1 and "no longer kept" in told["reason"]
    assert "id: 5" in text and "id: 2\n" not in text


def test_a_resume_within_what_is_kept_gets_no_reload(
    live: LiveServer, provision: Provisioner, community: Community
) -> None:
    with live.client(community.api_key) as api:
        for n in range(2):
            api.post(f"{S1}/calls/911", json=new_911(caller=f"c{n}"))
        with api.stream("GET", f"{S1}/events", headers={"Last-Event-ID": "1"}) as answer:
            text = ""
            for chunk in answer.iter_text():
                text += chunk
                if "id: 2" in text:
                    break
    assert "event: reload" not in text and "id: 2" in text
