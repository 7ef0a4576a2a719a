"""Push events reach a real receiver: the documented body, signed, in order, despite outages."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from standardwebhooks import Webhook

from opendispatch.clock import SystemClock
from opendispatch.events import service as events
from opendispatch.events.tasks import DeliveryPolicy, DeliveryWorker
from opendispatch.settings import Settings
from opendispatch.storage.database import Database
from tests.events.receiver import Receiver
from tests.support import Community, Provisioner, Server, in_process_server

NEW_911 = {
    "isEmergency": True,
    "caller": "John Doe",
    "location": "1234 E Hawick Ave",
    "description": "A 911 call",
}
S1 = "/v2/emergency/servers/1"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


@pytest.fixture
def fast_retries(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        push_backoff_base_seconds=0.05,
        push_backoff_max_seconds=0.2,
        push_timeout_seconds=2,
        push_poll_seconds=0.1,
    )


def target(provision: Provisioner, community: Community, url: str, shape: str = "array") -> str:
    """Point server 1 at ``url`` with the community's key in the body; returns the signing secret."""
    with provision.db.transaction() as conn:
        _target, secret = events.set_push_target(
            conn,
            community_id=community.community_id,
            server_id=1,
            now=provision.now(),
            url=url,
            shape=shape,  # type: ignore[arg-type]
            body_key=community.api_key,
        )
    return secret


def test_event_911_arrives_as_documented_and_signed(
    server: Server, community: Community, provision: Provisioner, receiver: Receiver
) -> None:
    secret = target(provision, community, receiver.url)
    with server.client(community.api_key) as http:
        call = http.post(f"{S1}/calls/911", json={**NEW_911, "metaData": {"someKey": "someValue"}}).json()
    [arrival] = receiver.wait_for(1)
    assert arrival.json == {
        "key": community.api_key,
        "type": "EVENT_911",
        "data": [
            {
                "call": {
                    "callId": call["callId"],
                    "isEmergency": True,
                    "caller": "John Doe",
                    "location": "1234 E Hawick Ave",
                    "description": "A 911 call",
                    # Also inside the call: the official in-game resource reads it only there.
                    "metaData": {"someKey": "someValue"},
                },
                "metaData": {"someKey": "someValue"},
            }
        ],
    }
    # The Standard Webhooks signature verifies with the server's signing secret; a tampered body fails.
    assert Webhook(secret).verify(arrival.body, arrival.headers) == arrival.json
    with pytest.raises(Exception, match="signature"):
        Webhook(secret).verify(arrival.body.replace(b"John", b"Jane"), arrival.headers)
    assert arrival.headers["webhook-id"].startswith("msg_")


def test_object_shape_sends_the_bare_object(
    server: Server, community: Community, provision: Provisioner, receiver: Receiver
) -> None:
    target(provision, community, receiver.url, shape="object")
    with server.client(community.api_key) as http:
        http.post(f"{S1}/calls/911", json=NEW_911)
    [arrival] = receiver.wait_for(1)
    assert arrival.json["data"]["call"]["caller"] == "John Doe"


def test_every_kind_of_event_is_sent(
    server: Server, community: Community, provision: Provisioner, receiver: Receiver
) -> None:
    account = provision.account(community, "unit", "license:u1")
    ident = provision.unit(community, account["uuid"])
    # Targeted after the unit came on duty: its EVENT_UNIT_LOGIN (tests/units/test_events.py) is not pushed.
    target(provision, community, receiver.url)
    with server.client(community.api_key) as http:
        emergency = http.post(f"{S1}/calls/911", json=NEW_911).json()
        http.delete(f"{S1}/calls/911/{emergency['callId']}")
        call = http.post(
            f"{S1}/dispatch-calls",
            json={
                "origin": 0,
                "status": 1,
                "priority": 1,
                "block": "1",
                "address": "a",
                "postal": "1",
                "title": "t",
                "code": "c",
                "description": "d",
                "notes": [],
                "communityUserIds": [],
            },
        ).json()
        call_id = call["callId"]
        http.patch(f"{S1}/dispatch-calls/{call_id}", json={"title": "t2"})
        http.post(f"{S1}/dispatch-calls/{call_id}/attachments", json={"identIds": [ident]})
        http.post(f"{S1}/dispatch-calls/{call_id}/notes", json={"note": "n"})
        http.patch(f"{S1}/units/status", json={"identIds": [ident], "status": 3})
        http.patch(f"{S1}/units/panic", json={"identIds": [ident], "isPanic": True})
        http.request("DELETE", f"{S1}/dispatch-calls/attachments", json={"identIds": [ident]})
        http.post(f"{S1}/dispatch-calls/close", json={"callIds": [call_id]})
    arrivals = receiver.wait_for(10)
    time.sleep(0.2)  # nothing more may follow
    assert len(receiver.arrivals) == 10
    got = [(a.json["type"], a.json["data"][0]) for a in arrivals]
    assert (
        [kind for kind, _ in got]
        == [
            "EVENT_911",
            "EVENT_REMOVE_911",
            "EVENT_DISPATCH_NEW",
            "EVENT_DISPATCH_EDIT",
            "EVENT_DISPATCH_UNIT_ATTACH",
            "EVENT_DISPATCH_NOTE",
            "EVENT_UNIT_STATUS",
            "EVENT_UNIT_PANIC",
            "EVENT_DISPATCH_UNIT_DETACH",
            "EVENT_DISPATCH_CLOSED",
            # nothing else: 11th would be extra
        ][: len(got)]
        or got
    )
    data = dict(got)
    assert data["EVENT_REMOVE_911"] == {"callIds": [emergency["callId"]]}
    assert data["EVENT_DISPATCH_NEW"]["dispatch"]["callId"] == call_id
    assert data["EVENT_DISPATCH_EDIT"]["dispatch"]["title"] == "t2"
    assert data["EVENT_DISPATCH_UNIT_ATTACH"] == {"callId": call_id, "idents": [ident]}
    assert data["EVENT_DISPATCH_NOTE"]["note"]["content"] == "n"
    status = data["EVENT_UNIT_STATUS"]
    assert (status["identIds"], status["status"]) == ([ident], 3)
    # The units whole, as the in-game resource reads them (it ignores identIds).
    assert [(unit["id"], unit["status"]) for unit in status["units"]] == [(ident, 3)]
    assert set(status["units"][0]["data"]) >= {"communityUserId", "unitNum", "name"}
    assert data["EVENT_UNIT_PANIC"] == {"identIds": [ident], "isPanic": True}
    assert data["EVENT_DISPATCH_UNIT_DETACH"] == {"callId": call_id, "idents": [ident]}
    assert data["EVENT_DISPATCH_CLOSED"] == {"callIds": [call_id]}


def test_receiver_down_then_up_gets_everything_in_order_once(
    fast_retries: Settings, provision: Provisioner, receiver: Receiver
) -> None:
    community = provision.community("Outage")
    target(provision, community, receiver.url)
    receiver.status = 503
    with in_process_server(fast_retries) as server, server.client(community.api_key) as http:
        ids = [
            http.post(f"{S1}/calls/911", json={**NEW_911, "caller": f"c{n}"}).json()["callId"]
            for n in range(5)
        ]
        deadline = time.monotonic() + 10
        while receiver.attempts < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert receiver.attempts >= 4 and receiver.arrivals == []
        receiver.status = 200
        arrivals = receiver.wait_for(5)
        time.sleep(0.3)  # room for a duplicate to show up, if there were one
    assert [a.json["data"][0]["call"]["callId"] for a in receiver.arrivals] == ids
    assert len({a.headers["webhook-id"] for a in receiver.arrivals}) == 5
    with provision.db.engine.connect() as conn:
        log = events.delivery_log(conn, community_id=community.community_id, limit=100)
    first_event = [attempt for attempt in log if attempt.eventId == log[-1].eventId]
    assert len(first_event) >= 2 and first_event[0].statusCode == 200 and first_event[-1].statusCode == 503
    assert arrivals


def test_a_hanging_receiver_does_not_slow_the_api(
    fast_retries: Settings, provision: Provisioner, receiver: Receiver
) -> None:
    community = provision.community("Slow")
    provision.set_limit(community, "create_911", 1000)
    target(provision, community, receiver.url)
    receiver.delay = 1.5
    with in_process_server(fast_retries) as server, server.client(community.api_key) as http:
        started = time.monotonic()
        for number in range(30):
            assert http.post(f"{S1}/calls/911", json={**NEW_911, "caller": f"c{number}"}).status_code == 200
        elapsed = time.monotonic() - started
    # Thirty creates while every delivery hangs 1.5 s: the API never waits for the receiver.
    assert elapsed < 1.5, elapsed


def test_events_of_one_community_never_reach_another(
    server: Server, provision: Provisioner, receiver: Receiver
) -> None:
    alpha = provision.community("Alpha")
    bravo = provision.community("Bravo")
    other = Receiver().start()
    try:
        target(provision, alpha, receiver.url)
        target(provision, bravo, other.url)
        with server.client(alpha.api_key) as http:
            http.post(f"{S1}/calls/911", json={**NEW_911, "caller": "alpha only"})
        [arrival] = receiver.wait_for(1)
        time.sleep(0.3)
        assert other.arrivals == [] and arrival.json["key"] == alpha.api_key
    finally:
        other.stop()


class WatchedWake(asyncio.Event):
    """The worker's wake-up event, telling when the worker has started waiting on it."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = asyncio.Event()

    async def wait(self) -> bool:
        self.waiting.set()
        return await super().wait()


def test_the_worker_stops_when_a_wake_up_and_the_shutdown_come_in_the_same_turn(
    database_url: str, provision: Provisioner
) -> None:
    # A commit wakes the worker as the server shuts down (under load, any shutdown): the worker must end,
    # or the lifespan waits for it forever and the process never exits.
    async def shut_down() -> None:
        db = Database(database_url)
        db.start()
        worker = DeliveryWorker(db, SystemClock(), DeliveryPolicy(poll_seconds=60))
        wake = worker._wake = WatchedWake()
        running = asyncio.create_task(worker.run_forever())
        try:
            await asyncio.wait_for(wake.waiting.wait(), 10)
            worker.wake()
            running.cancel()
            done, _pending = await asyncio.wait({running}, timeout=5)
            assert done == {running}, "the worker went on after it was cancelled"
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
            await db.drain()
            db.close()

    asyncio.run(shut_down())
