"""The lease table that sends a game server's events to the process holding its hub socket."""

from __future__ import annotations

import asyncio
from typing import Literal

from opendispatch.clock import SystemClock
from opendispatch.events import service as events
from opendispatch.events.schemas import EventType
from opendispatch.events.tasks import DeliveryPolicy, DeliveryWorker
from opendispatch.hub.sessions import PushSockets
from opendispatch.storage.database import Database
from tests.support import Community, Provisioner

LEASE_MS = 60_000


def emit(provision: Provisioner, community: Community, server_id: int = 1) -> None:
    with provision.db.transaction() as conn:
        events.emit(
            conn,
            community_id=community.community_id,
            server_id=server_id,
            type=EventType.EVENT_911,
            data={"call": {"callId": 1}},
            now=provision.now(),
        )


def hold(provision: Provisioner, community: Community, holder: str, now: int) -> None:
    with provision.db.transaction() as conn:
        servers = {(community.community_id, 1)}
        events.hold_sockets(conn, holder=holder, servers=servers, now=now, until=now + LEASE_MS)


def claim(provision: Provisioner, holder: str, now: int) -> list[events.Delivery]:
    with provision.db.transaction() as conn:
        return events.claim_deliveries(conn, now=now, lease_ms=10_000, holder=holder)


def test_with_a_socket_an_event_is_pending_without_a_push_target_and_only_the_sockets_holder_takes_it(
    provision: Provisioner, community: Community
) -> None:
    hold(provision, community, "process-a", provision.now())
    emit(provision, community)
    now = provision.now() + 1  # the event is due
    assert provision.scalar("SELECT state FROM events") == "pending"
    assert claim(provision, "process-b", now) == []  # another process: left to the socket's holder
    with provision.db.transaction() as conn:
        assert events.skip_untargeted(conn, now=now) == 0  # a socket holds it: not skipped
    [taken] = claim(provision, "process-a", now)
    assert taken.socket and taken.url is None


def test_a_lapsed_lease_lets_any_process_take_and_skip_the_event(
    provision: Provisioner, community: Community
) -> None:
    now = provision.now()
    hold(provision, community, "process-a", now - 2 * LEASE_MS)  # a process that died two minutes ago
    emit(provision, community)
    now = provision.now() + 1
    [untargeted] = claim(provision, "process-b", now)
    assert untargeted.url is None and not untargeted.socket
    with provision.db.transaction() as conn:
        assert events.skip_untargeted(conn, now=now) == 1


def test_a_server_without_a_socket_or_target_still_has_its_events_skipped_at_once(
    provision: Provisioner, community: Community
) -> None:
    emit(provision, community, server_id=2)
    assert provision.scalar("SELECT state FROM events") == "skipped"


def close(provision: Provisioner, community: Community, holder: str, now: int) -> None:
    """The holder's socket of server 1 closed: its lease is written without it, the server as closed."""
    with provision.db.transaction() as conn:
        closed = {(community.community_id, 1)}
        events.hold_sockets(conn, holder=holder, servers=set(), closed=closed, now=now, until=now + LEASE_MS)


def http_target(provision: Provisioner, community: Community) -> None:
    with provision.db.transaction() as conn:
        events.set_push_target(
            conn,
            community_id=community.community_id,
            server_id=1,
            now=provision.now(),
            url="http://127.0.0.1:9/sonorancad/event",
        )


def test_after_the_game_server_moved_its_socket_only_the_new_holder_takes_its_events(
    provision: Provisioner, community: Community
) -> None:
    # Behind a balancer the reconnection reaches process b while process a lives on, its socket closed.
    http_target(provision, community)
    now = provision.now()
    hold(provision, community, "process-a", now)
    close(provision, community, "process-a", now)
    hold(provision, community, "process-b", now)
    emit(provision, community)
    now = provision.now() + 1
    assert claim(provision, "process-a", now) == []  # not over HTTP: b has the live socket
    [taken] = claim(provision, "process-b", now)
    assert taken.socket


def test_a_socket_closed_lately_sends_the_servers_events_over_http_from_any_process(
    provision: Provisioner, community: Community
) -> None:
    http_target(provision, community)
    now = provision.now()
    hold(provision, community, "process-a", now)
    close(provision, community, "process-a", now)
    emit(provision, community)
    [taken] = claim(provision, "process-b", provision.now() + 1)
    assert taken.url is not None


def test_without_a_target_the_events_of_a_closed_socket_wait_for_it_with_its_process(
    provision: Provisioner, community: Community
) -> None:
    now = provision.now()
    hold(provision, community, "process-a", now)
    close(provision, community, "process-a", now)
    emit(provision, community)
    now = provision.now() + 1
    with provision.db.transaction() as conn:
        assert events.skip_untargeted(conn, now=now) == 0  # the game server may come back: kept
    assert claim(provision, "process-b", now) == []
    [waiting] = claim(provision, "process-a", now)  # a records the wait (and backs off)
    assert waiting.url is None and waiting.socket
    # A lapsed waiting row lets the event be skipped.
    with provision.db.transaction() as conn:
        assert events.skip_untargeted(conn, now=now + LEASE_MS) == 1


def test_a_socket_that_authenticates_makes_its_servers_waiting_events_due_now(
    provision: Provisioner, community: Community
) -> None:
    now = provision.now()
    hold(provision, community, "process-a", now)
    emit(provision, community)
    with provision.db.transaction() as conn:
        conn.exec_driver_sql("UPDATE events SET next_attempt_at = next_attempt_at + 300000")  # backing off
    assert claim(provision, "process-a", provision.now() + 1) == []
    with provision.db.transaction() as conn:
        now = provision.now()
        servers = {(community.community_id, 1)}
        events.hold_sockets(
            conn,
            holder="process-a",
            servers=servers,
            now=now,
            until=now + LEASE_MS,
            arrived=(community.community_id, 1),
        )
    [taken] = claim(provision, "process-a", provision.now() + 1)
    assert taken.socket


class CountedWake(asyncio.Event):
    """The worker's wake-up event, counting the rounds: the worker waits on it once per round."""

    def __init__(self) -> None:
        super().__init__()
        self.rounds = 0

    async def wait(self) -> Literal[True]:
        self.rounds += 1
        return await super().wait()


def test_a_worker_polls_rather_than_spins_while_another_process_holds_the_due_event(
    database_url: str, provision: Provisioner, community: Community
) -> None:
    # Until the other process delivers (or, were it dead, until its lease lapses: a minute), the event
    # is due yet not this worker's: a round every poll, not every 10 ms.
    hold(provision, community, "process-b", provision.now())
    emit(provision, community)

    async def watch() -> tuple[int, int]:
        db = Database(database_url)
        db.start()
        worker = DeliveryWorker(
            db, SystemClock(), DeliveryPolicy(poll_seconds=5), PushSockets(holder="process-a")
        )
        wake = worker._wake = CountedWake()
        running = asyncio.create_task(worker.run_forever())
        try:
            async with asyncio.timeout(10):
                while wake.rounds == 0:
                    await asyncio.sleep(0.01)
            await asyncio.sleep(0.3)
            quiet = wake.rounds
            worker.wake()  # still alive: a wake-up is a round at once
            async with asyncio.timeout(10):
                while wake.rounds == quiet:
                    await asyncio.sleep(0.01)
            return quiet, wake.rounds
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
            await db.drain()
            db.close()

    quiet, woken = asyncio.run(watch())
    assert quiet == 1, f"{quiet} rounds in 0.3 s"
    assert woken == 2
