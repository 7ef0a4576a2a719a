"""Background work of events: the delivery worker and the live-stream broker.

The worker sends each server's events in order, one at a time per server and many servers at once, so a
hanging receiver holds back only its own server. Attempts are logged; failures retry with capped
exponential backoff until the event's maximum age, then it is dead until redelivered. The broker reads
new events once per commit and hands them to every subscribed stream of their server, so the database
sees one query per commit however many dashboards listen.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import psycopg
from sqlalchemy.engine import make_url
from standardwebhooks import Webhook

from opendispatch import __version__
from opendispatch.clock import Clock
from opendispatch.events import service
from opendispatch.events.service import Delivery, StoredEvent
from opendispatch.hub.protocol import HubConnection
from opendispatch.hub.sessions import SESSION, HubSession, PushSockets
from opendispatch.ops.metrics import delivery_attempted
from opendispatch.storage.database import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How hard the worker tries: per-attempt timeout, backoff and maximum age (from settings)."""

    timeout_seconds: float = 5.0
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 300.0
    max_age_seconds: float = 86_400.0
    poll_seconds: float = 1.0

    def backoff_ms(self, attempts: int) -> int:
        """The wait after ``attempts`` failures: doubling from the base, capped, with 10% jitter."""
        wait = min(self.backoff_max_seconds, self.backoff_base_seconds * 2 ** max(0, attempts - 1))
        return int(wait * random.uniform(0.9, 1.1) * 1000)


# Events whose unit ids the in-game resource reads beside ``data`` rather than inside it (httpd.lua:300-317).
_IDS_ALSO_OUTSIDE = frozenset({"EVENT_UNIT_GROUP_ADD"})


def envelope(delivery: Delivery) -> bytes:
    """The documented body ``{key, type, data}``; data is a list of one object unless shape is object."""
    data = delivery.data if delivery.shape == "object" else f"[{delivery.data}]"
    beside = b""
    if delivery.type in _IDS_ALSO_OUTSIDE:
        inside = orjson.loads(delivery.data)
        beside = b"".join(
            b',"%s":%s' % (name.encode(), orjson.dumps(inside[name]))
            for name in ("identId", "identIds")
            if name in inside
        )
    return b'{"key":%s,"type":%s,"data":%s%s}' % (
        orjson.dumps(delivery.body_key or ""),
        orjson.dumps(delivery.type),
        data.encode(),
        beside,
    )


def signed_headers(delivery: Delivery, body: bytes) -> dict[str, str]:
    """Standard Webhooks headers: the event's stable id, the time, and the HMAC signature."""
    sent_at = datetime.now(UTC)
    headers = {
        "content-type": "application/json",
        "user-agent": f"OpenDispatch/{__version__}",
        "webhook-id": delivery.uid,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "x-opendispatch-event-type": delivery.type,
    }
    if delivery.signing_secret:
        signature = Webhook(delivery.signing_secret).sign(delivery.uid, sent_at, body.decode())
        headers["webhook-signature"] = signature
    return headers


LEASE_MARGIN_MS = 5_000
HUB_URL = "hub:/apiWsHub"  # what the delivery log shows for an attempt over a game server's socket


class DeliveryWorker:
    """Delivers pending events until stopped; ``wake()`` after a commit makes it look at once."""

    def __init__(
        self, db: Database, clock: Clock, policy: DeliveryPolicy, sockets: PushSockets | None = None
    ) -> None:
        self.db = db
        self.clock = clock
        self.policy = policy
        self.sockets = sockets  # the game servers' hub connections in this process, tried before HTTP
        self._wake = asyncio.Event()
        self._busy: set[tuple[str, int]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None

    def wake(self, _servers: object = None) -> None:
        """Look for due events now (called after every commit that has some)."""
        self._wake.set()

    async def run_forever(self) -> None:
        """Deliver until cancelled."""
        try:
            while True:
                self._wake.clear()
                wait = self.policy.poll_seconds
                try:
                    now = self.clock.now_ms()
                    await self._start_due(now)
                    due_at = await self.db.read(service.next_due_at)
                    # An event due at the claim but not taken is another process's (its game server's
                    # socket is there), or one this worker is busy with (it wakes when done): poll for
                    # it rather than spin.
                    if due_at is not None and due_at > now:
                        wait = min(wait, max(0.0, (due_at - self.clock.now_ms()) / 1000))
                except Exception:
                    log.exception("event delivery round failed; trying again")
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for loses a cancellation that lands as
                # the wake-up does, and the worker then never stops (shutdown hung on it).
                with suppress(TimeoutError):
                    async with asyncio.timeout(max(wait, 0.01)):
                        await self._wake.wait()
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            if self._client is not None:
                await self._client.aclose()
                self._client = None

    async def _start_due(self, now: int) -> None:
        # Taken with a lease: long enough for one attempt, so another worker waits unless this one died.
        lease_ms = int(self.policy.timeout_seconds * 1000) * 2 + LEASE_MARGIN_MS
        holder = self.sockets.holder if self.sockets is not None else ""
        due = await self.db.write(service.claim_deliveries, now=now, lease_ms=lease_ms, holder=holder)
        if any(delivery.url is None and not delivery.socket for delivery in due):
            # Targets switched off while their events waited: those events are skipped, not retried.
            await self.db.write(service.skip_untargeted, now=self.clock.now_ms())
            due = [delivery for delivery in due if delivery.url is not None or delivery.socket]
        for delivery in due:
            server = (delivery.community_id, delivery.server_id)
            if server in self._busy:
                continue
            self._busy.add(server)
            task = asyncio.create_task(self._deliver(delivery))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, delivery: Delivery) -> None:
        server = (delivery.community_id, delivery.server_id)
        try:
            await self._attempt(delivery)
        except Exception:
            log.exception("delivering event %d failed unexpectedly", delivery.event_id)
        finally:
            self._busy.discard(server)
            self.wake()  # this server's next event may be due now

    async def _attempt(self, delivery: Delivery) -> None:
        receiver = self.sockets.receiver(delivery.community_id, delivery.server_id) if self.sockets else None
        if receiver is not None:
            await self._over_socket(delivery, receiver)
        elif delivery.url is not None:
            await self._over_http(delivery, delivery.url)
        else:
            # The game server's socket closed and its lease has not lapsed: wait for it to connect again.
            await self._record(delivery, HUB_URL, None, 0, "the game server's hub connection is closed")

    async def _over_socket(self, delivery: Delivery, receiver: HubConnection) -> None:
        """Send the HTTP body as ``pushEvent``, with the key the game server authenticated with.

        Delivered once the client answered the invocation: bytes written to a socket that dies are not
        proof of arrival, so without the answer the event is sent again (at least once, as over HTTP).
        A client that cannot answer gets the message without an id, delivered once written.
        """
        session = receiver.state.get(SESSION)
        key = session.api_key if isinstance(session, HubSession) else ""
        shape = delivery.shape if delivery.url is not None else "object"  # the resource reads an object
        body = orjson.loads(envelope(replace(delivery, body_key=key, shape=shape)))
        attempt_id = await self._begin(delivery, HUB_URL)
        started = time.perf_counter()
        error = None
        try:
            if receiver.answers_invocations:
                await receiver.invoke("pushEvent", body, timeout=self.policy.timeout_seconds)
            else:
                await receiver.send("pushEvent", body)
        except ConnectionError:
            error = "the game server's hub connection closed while sending"
        except TimeoutError:
            error = "the game server did not acknowledge the event in time"
        latency_ms = int((time.perf_counter() - started) * 1000)
        await self._record(delivery, HUB_URL, None, latency_ms, error, attempt_id)

    async def _over_http(self, delivery: Delivery, url: str) -> None:
        if self._client is None:
            # Made at the first delivery: most processes (and most tests) never push, and it costs ~20 ms.
            self._client = httpx.AsyncClient(timeout=self.policy.timeout_seconds, follow_redirects=False)
        body = envelope(delivery)
        attempt_id = await self._begin(delivery, url)
        started = time.perf_counter()
        status_code: int | None = None
        error: str | None = None
        try:
            answer = await self._client.post(url, content=body, headers=signed_headers(delivery, body))
            status_code = answer.status_code
            if not 200 <= status_code < 300:
                error = f"receiver answered HTTP {status_code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        latency_ms = int((time.perf_counter() - started) * 1000)
        await self._record(delivery, url, status_code, latency_ms, error, attempt_id)

    async def _begin(self, delivery: Delivery, url: str) -> int:
        """Log the attempt before making it: the delivery log shows it even if this process dies now."""
        return await self.db.write(service.begin_attempt, delivery=delivery, now=self.clock.now_ms(), url=url)

    async def _record(
        self,
        delivery: Delivery,
        url: str,
        status_code: int | None,
        latency_ms: int,
        error: str | None,
        attempt_id: int | None = None,
    ) -> None:
        """Log the attempt and move the event on: delivered, retried later, or dead past its deadline."""
        now = self.clock.now_ms()
        retry_at = None
        if error is not None:
            deadline = delivery.deadline_at or delivery.created_at + int(self.policy.max_age_seconds * 1000)
            retry_at = now + self.policy.backoff_ms(delivery.attempts + 1)
            if retry_at > deadline:
                retry_at = None
        state = await self.db.write(
            service.record_attempt,
            delivery=replace(delivery, url=url),
            now=now,
            status_code=status_code,
            latency_ms=latency_ms,
            error=error,
            retry_at=retry_at,
            attempt_id=attempt_id,
        )
        delivery_attempted(status_code, state)
        if state == "dead":
            log.warning(
                "event %d (%s) is dead after %d attempts",
                delivery.event_id,
                delivery.type,
                delivery.attempts + 1,
            )


KEEPALIVE = b": keep-alive\n\n"


@dataclass(eq=False)
class Subscription:
    """One live stream's queue: events, keep-alive comments, and None when it fell too far behind."""

    community_id: str
    server_id: int
    queue: asyncio.Queue[StoredEvent | bytes | None] = field(
        default_factory=lambda: asyncio.Queue(maxsize=1000)
    )
    queued_bytes: int = 0  # of the frames waiting in the queue


def _size(item: StoredEvent | bytes | None) -> int:
    if item is None or item == KEEPALIVE:  # keep-alives are put without counting
        return 0
    if isinstance(item, StoredEvent):
        return len(item.frame)
    return len(item)


# A stream whose reader lets this much wait (or 1,000 messages) is closed; it resumes with Last-Event-ID.
MAX_QUEUED_BYTES = 4 * 1024 * 1024


class LiveStream:
    """A subscription and the backlog it missed, as Server-Sent Events bytes.

    Each event's frame is encoded once by the broker and shared by every stream, and whatever is
    queued when a stream wakes is written in one chunk: 200 subscribers cost 200 queue hand-offs per
    event, not 200 encodings.
    """

    def __init__(
        self,
        broker: StreamBroker,
        subscription: Subscription,
        backlog: list[StoredEvent],
        start: int,
        pruned_after: int | None = None,
    ):
        self.broker = broker
        self.subscription = subscription
        self.backlog = backlog
        self.last_sent = start
        # Set when events after the resume point were pruned: the stream first says to reload.
        self.pruned_after = pruned_after

    @classmethod
    async def open(
        cls, db: Database, broker: StreamBroker, *, community_id: str, server_id: int, resume: int | None
    ) -> LiveStream:
        """Subscribe first, then read what was missed after ``resume``, so nothing falls between the two.

        ``resume`` is the number of the last event the client saw on this server; without one the stream
        starts after the newest. Raises NotFound for a server the community does not have.
        """
        if resume is None:
            resume = await db.read(service.last_event_seq, community_id=community_id, server_id=server_id)
        subscription = broker.subscribe(community_id, server_id, after=resume)
        try:
            backlog = await db.read(
                service.server_events_after, community_id=community_id, server_id=server_id, after_seq=resume
            )
            pruned_after = None
            if not backlog or backlog[0].seq > resume + 1:
                # Missing numbers after the resume point are either not written yet, or pruned.
                oldest = await db.read(
                    service.oldest_kept_seq, community_id=community_id, server_id=server_id
                )
                if oldest is not None and oldest > resume + 1:
                    pruned_after = resume
        except BaseException:
            broker.unsubscribe(subscription)
            raise
        return cls(broker, subscription, backlog, resume, pruned_after)

    async def frames(
        self, *, greeting: bytes = b"", still_allowed: Callable[[], Awaitable[bool]] | None = None
    ) -> AsyncIterator[bytes]:
        """The stream's bytes until it falls behind, is no longer allowed (checked at each keep-alive) or
        the client leaves."""
        try:
            yield greeting + self._reload() + self._render(self.backlog)
            queue = self.subscription.queue
            while True:
                items = [await queue.get()]
                while not queue.empty():
                    items.append(queue.get_nowait())
                self.subscription.queued_bytes -= sum(map(_size, items))
                if None in items:
                    return  # fell too far behind: the client reconnects with Last-Event-ID
                if KEEPALIVE in items and still_allowed is not None and not await still_allowed():
                    return
                events = [item for item in items if isinstance(item, StoredEvent)]
                # Other frames (unit positions) carry no id: they go as they are, after the events.
                frames = [item for item in items if isinstance(item, bytes) and item != KEEPALIVE]
                yield (self._render(events) + b"".join(frames)) or KEEPALIVE
        finally:
            self.broker.unsubscribe(self.subscription)

    def _reload(self) -> bytes:
        if self.pruned_after is None:
            return b""
        # No id: the client's Last-Event-ID stays, and the events after it that are kept still follow.
        told = {
            "reason": f"Events after id {self.pruned_after} are no longer kept; read the state again.",
            "lastEventId": self.pruned_after,
        }
        return b"event: reload\ndata: " + orjson.dumps(told) + b"\n\n"

    def _render(self, events: list[StoredEvent]) -> bytes:
        fresh = [event for event in events if event.seq > self.last_sent]
        if fresh:
            self.last_sent = fresh[-1].seq
        return b"".join(event.frame for event in fresh)


class StreamBroker:
    """Fans new events out to the live streams of their server, one database read per wake-up for all.

    It keeps, for each server that has subscribers, the number of the last event it handed out, and on
    news of a commit (of this process, or on PostgreSQL a NOTIFY from any process) reads what is newer
    on the servers named. A server's events commit in number order, so reading after a number never
    skips one that commits later.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._subscriptions: dict[tuple[str, int], set[Subscription]] = {}
        self._cursors: dict[tuple[str, int], int] = {}
        self._dirty: set[tuple[str, int]] = set()
        self._polling = False

    def subscribe(self, community_id: str, server_id: int, *, after: int) -> Subscription:
        """A queue that receives this server's events after number ``after`` (at the latest)."""
        key = (community_id, server_id)
        subscription = Subscription(community_id, server_id)
        self._subscriptions.setdefault(key, set()).add(subscription)
        # Never ahead of a subscriber: events it already has are dropped by its stream, none is missed.
        self._cursors[key] = min(self._cursors.get(key, after), after)
        self.committed({key})
        return subscription

    def subscriber_count(self) -> int:
        """How many live streams are subscribed now."""
        return sum(map(len, self._subscriptions.values()))

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop feeding a stream that has ended."""
        key = (subscription.community_id, subscription.server_id)
        subscribers = self._subscriptions.get(key)
        if subscribers is not None:
            subscribers.discard(subscription)
            if not subscribers:
                del self._subscriptions[key]
                self._cursors.pop(key, None)

    async def keep_alive_forever(self, interval: float) -> None:
        """Every ``interval`` seconds, a comment on every stream, so proxies keep idle ones open."""
        while True:
            await asyncio.sleep(interval)
            for subscribers in list(self._subscriptions.values()):
                for subscription in list(subscribers):
                    with suppress(asyncio.QueueFull):
                        subscription.queue.put_nowait(KEEPALIVE)

    def committed(self, servers: set[Any] | None = None) -> None:
        """News of a commit with events on ``servers`` ((community, server) pairs; None: any server)."""
        # Only servers someone follows: a commit on a server nobody streams costs no read.
        self._dirty.update(
            self._cursors if servers is None else (key for key in servers if key in self._cursors)
        )
        if self._dirty and not self._polling:
            self._polling = True
            asyncio.get_running_loop().create_task(self._poll())

    async def _poll(self) -> None:
        try:
            while self._dirty:
                keys = [key for key in self._dirty if key in self._cursors]
                self._dirty.clear()
                cursors = {key: self._cursors[key] for key in keys}
                fresh = await self.db.read(service.events_since, cursors=cursors)
                for event in fresh:
                    key = (event.community_id, event.server_id)
                    if key not in self._cursors or event.seq <= self._cursors[key]:
                        continue
                    self._cursors[key] = event.seq
                    self._hand_out(key, event)
                if len(fresh) >= service.STREAM_READ_LIMIT:
                    self._dirty.update(keys)  # more to read
        except Exception:
            log.exception("reading new events for the live streams failed")
        finally:
            self._polling = False

    def follows(self, key: tuple[str, int]) -> bool:
        """Whether any live stream of this process follows the server."""
        return key in self._subscriptions

    def hand_out_frame(self, key: tuple[str, int], frame: bytes) -> None:
        """Give the server's streams a frame that is no stored event (unit positions)."""
        self._hand_out(key, frame)

    def _hand_out(self, key: tuple[str, int], event: StoredEvent | bytes) -> None:
        size = _size(event)
        for subscription in list(self._subscriptions.get(key, ())):
            try:
                if subscription.queued_bytes + size > MAX_QUEUED_BYTES:
                    raise asyncio.QueueFull
                subscription.queue.put_nowait(event)
                subscription.queued_bytes += size
            except asyncio.QueueFull:
                # A stream this far behind is closed; it resumes with Last-Event-ID.
                self.unsubscribe(subscription)
                while not subscription.queue.empty():
                    subscription.queue.get_nowait()
                subscription.queue.put_nowait(None)


async def listen_for_other_processes(
    url: str,
    broker: StreamBroker | None,
    worker: DeliveryWorker | None,
    positions: Callable[[str], None] | None = None,
) -> None:
    """On PostgreSQL: hear the commits of every server process (NOTIFY) and wake the streams and worker.

    Runs until cancelled; a lost connection is opened again, and the streams then read everything they
    might have missed while it was down.
    """
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    delay = 0.5
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as connection:
                await connection.execute(f"LISTEN {service.EVENTS_CHANNEL}")
                await connection.execute(f"LISTEN {service.DELIVERIES_CHANNEL}")
                if positions is not None:
                    await connection.execute(f"LISTEN {service.POSITIONS_CHANNEL}")
                if broker is not None:
                    broker.committed(None)  # catch up on whatever committed before we listened
                if worker is not None:
                    worker.wake()
                delay = 0.5
                async for notice in connection.notifies():
                    if notice.channel == service.EVENTS_CHANNEL:
                        if broker is None:
                            continue
                        community_id, _, server = notice.payload.partition("\t")
                        if server.isdigit():
                            broker.committed({(community_id, int(server))})
                    elif notice.channel == service.POSITIONS_CHANNEL:
                        if positions is not None:
                            positions(notice.payload)
                    elif worker is not None:
                        worker.wake()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("listening for other processes' commits failed (%s); again in %.1f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
