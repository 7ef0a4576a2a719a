"""Per-key, per-endpoint rate limits: the limiter with explicit times, then 429 answers over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from opendispatch.api import redis_gcra
from opendispatch.api.gcra import Decision, Limiter, RateLimiter
from opendispatch.api.limits import DEFAULT_LIMITS
from opendispatch.communities.service import create_api_key
from tests.support import (
    Community,
    ManualClock,
    Provisioner,
    Server,
    every_row_count,
    new_911,
    new_dispatch,
)

KEY = 1
CALLS = "/v2/emergency/servers/1/calls"
CREATE_911 = "/v2/emergency/servers/1/calls/911"
CREATE_DISPATCH = "/v2/emergency/servers/1/dispatch-calls"

# -- the limiter ---------------------------------------------------------------------------------------


class Driven:
    """A limiter driven from plain test code, on one event loop kept for the test."""

    def __init__(self, limiter: Limiter, loop: asyncio.AbstractEventLoop) -> None:
        self.limiter = limiter
        self.loop = loop

    def hit(self, key_id: int, endpoint: str, per_minute: int, now: float, cost: int = 1) -> Decision:
        return self.loop.run_until_complete(self.limiter.hit(key_id, endpoint, per_minute, now, cost))


@pytest.fixture(params=["in-process", "redis"])
def limiter(request: pytest.FixtureRequest) -> Iterator[Driven]:
    """Each store of the algorithm in turn: every rule below holds for both alike."""
    loop = asyncio.new_event_loop()
    if request.param == "in-process":
        yield Driven(RateLimiter(), loop)
    else:
        client = redis_gcra.connect(request.getfixturevalue("redis_url"))
        # The test's own times, as with an injected clock: the Redis server's clock is tested on its own.
        store = redis_gcra.RedisLimiter(
            client, "test:", when_down=redis_gcra.WhenDown.REFUSE, server_time=False, what="tests"
        )
        yield Driven(store, loop)
        loop.run_until_complete(client.aclose())
    loop.close()


def test_the_reference_defaults() -> None:
    reference = {"create_911": 10, "create_dispatch": 20, "get_calls": 3}
    assert {endpoint: DEFAULT_LIMITS[endpoint] for endpoint in reference} == reference


@pytest.mark.parametrize("per_minute", [1, 3, 7, 10, 17, 20, 30, 50, 60, 100, 120, 1000])
@pytest.mark.parametrize("now", [0.0, 1000.0, 86_400.5])
def test_a_key_may_burst_its_whole_limit_then_is_refused(
    per_minute: int, now: float, limiter: Driven
) -> None:
    # `now` is a monotonic clock reading: any value, not only zero.
    decisions = [limiter.hit(KEY, "get_calls", per_minute, now) for _ in range(per_minute + 1)]
    assert [decision.allowed for decision in decisions] == [True] * per_minute + [False]


def test_retry_after_is_the_real_wait_not_the_rest_of_a_minute(limiter: Driven) -> None:
    for _ in range(3):
        assert limiter.hit(KEY, "get_calls", 3, 0.0).allowed
    refused = limiter.hit(KEY, "get_calls", 3, 0.0)
    assert (refused.allowed, refused.retry_after) == (False, 20)
    later = limiter.hit(KEY, "get_calls", 3, 12.5)
    assert (later.allowed, later.retry_after) == (False, 8)
    assert not limiter.hit(KEY, "get_calls", 3, 19.9).allowed
    assert limiter.hit(KEY, "get_calls", 3, 20.0).allowed
    # Only one slot came back: the next one is another 20 s away.
    refused = limiter.hit(KEY, "get_calls", 3, 20.0)
    assert (refused.allowed, refused.retry_after) == (False, 20)


@pytest.mark.parametrize("per_minute", [1, 3, 7, 10, 13, 20, 60, 90, 1000])
@pytest.mark.parametrize("refused_at", [0.0, 0.25, 0.999, 1.5])
def test_waiting_retry_after_seconds_always_gets_through_and_one_second_less_does_not(
    per_minute: int, refused_at: float, limiter: Driven
) -> None:
    for _ in range(per_minute + 1):
        if not limiter.hit(KEY, "create_911", per_minute, 0.0).allowed:
            break
    refused = limiter.hit(KEY, "create_911", per_minute, refused_at)
    if refused.allowed:  # a slot already came back by then (limits of more than 60 a minute)
        assert refused_at >= 60 / per_minute - 0.01
        return
    assert isinstance(refused.retry_after, int)
    assert 1 <= refused.retry_after <= 60
    # Whole seconds, rounded up from the true wait: honest, and never a second more than needed.
    if refused.retry_after > 1:
        assert not limiter.hit(KEY, "create_911", per_minute, refused_at + refused.retry_after - 1).allowed
    assert limiter.hit(KEY, "create_911", per_minute, refused_at + refused.retry_after).allowed


def test_retry_after_never_exceeds_the_window(limiter: Driven) -> None:
    assert limiter.hit(KEY, "get_calls", 1, 0.0).allowed
    for now in (0.0, 0.5, 30.0, 59.0):
        refused = limiter.hit(KEY, "get_calls", 1, now)
        assert not refused.allowed
        assert 1 <= refused.retry_after <= 60
    assert limiter.hit(KEY, "get_calls", 1, 60.0).allowed


def test_after_the_burst_the_rate_is_smooth_at_the_limit(limiter: Driven) -> None:
    burst = [limiter.hit(KEY, "create_911", 10, 0.0).allowed for _ in range(11)]
    assert burst == [True] * 10 + [False]
    # A client asking every half second for ten minutes gets one request through every six seconds.
    ticks = [tick / 2 for tick in range(1, 1200)]
    allowed_at = [now for now in ticks if limiter.hit(KEY, "create_911", 10, now).allowed]
    assert allowed_at == [6.0 * n for n in range(1, 100)]


def test_refused_requests_do_not_push_the_wait_further_out(limiter: Driven) -> None:
    for _ in range(3):
        limiter.hit(KEY, "get_calls", 3, 0.0)
    for tick in range(1000):
        assert not limiter.hit(KEY, "get_calls", 3, tick / 100).allowed
    assert limiter.hit(KEY, "get_calls", 3, 20.0).allowed


def test_an_idle_key_gets_its_burst_back_but_no_more(limiter: Driven) -> None:
    for _ in range(3):
        limiter.hit(KEY, "get_calls", 3, 0.0)
    decisions = [limiter.hit(KEY, "get_calls", 3, 3600.0) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]


def test_limits_are_per_key_and_per_endpoint(limiter: Driven) -> None:
    for _ in range(3):
        assert limiter.hit(1, "get_calls", 3, 0.0).allowed
    assert not limiter.hit(1, "get_calls", 3, 0.0).allowed
    assert limiter.hit(2, "get_calls", 3, 0.0).allowed
    assert limiter.hit(1, "create_911", 10, 0.0).allowed


def test_a_cost_is_counted_all_or_none(limiter: Driven) -> None:
    # v1 sends several items in one request; each counts, and a request too big for what is left waits.
    assert limiter.hit(KEY, "create_911", 10, 0.0, cost=4).allowed
    assert limiter.hit(KEY, "create_911", 10, 0.0, cost=4).allowed
    refused = limiter.hit(KEY, "create_911", 10, 0.0, cost=4)
    assert (refused.allowed, refused.retry_after) == (False, 12)  # two more slots, six seconds each
    assert limiter.hit(KEY, "create_911", 10, 0.0, cost=2).allowed  # the refused four took none
    assert not limiter.hit(KEY, "create_911", 10, 0.0).allowed
    assert limiter.hit(KEY, "create_911", 10, 24.0, cost=4).allowed


def test_a_disabled_limiter_allows_everything() -> None:
    limiter = Driven(RateLimiter(enabled=False), asyncio.new_event_loop())
    assert all(limiter.hit(KEY, "get_calls", 3, 0.0).allowed for _ in range(100))
    limiter.loop.close()


# -- over HTTP ---------------------------------------------------------------------------------------


def assert_rate_limited(response: httpx.Response, retry_after: int | None = None) -> int:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"message", "request_id"}
    assert body["message"] == "API rate limit exceeded"
    assert isinstance(body["request_id"], str) and body["request_id"]
    header = response.headers["Retry-After"]
    assert header.isdigit(), header
    if retry_after is not None:
        assert int(header) == retry_after
    return int(header)


@pytest.mark.parametrize(
    ("path", "body", "limit"),
    [
        (CREATE_911, new_911(), 10),
        (CREATE_DISPATCH, new_dispatch(), 20),
        (CALLS, None, 3),
    ],
    ids=["create 911", "create dispatch", "get calls"],
)
def test_the_reference_limit_of_each_endpoint_answers_429_in_the_reference_shape(
    server: Server, community: Community, path: str, body: dict[str, object] | None, limit: int
) -> None:
    with server.client(community.api_key) as http:

        def send() -> httpx.Response:
            return http.get(path) if body is None else http.post(path, json=body)

        for _ in range(limit):
            response = send()
            assert response.status_code == 200, response.text
        # A smooth limiter: the wait is one slot (60/limit s), not the rest of a minute.
        assert_rate_limited(send(), retry_after=60 // limit)


def test_a_refused_create_stores_nothing(
    server: Server, provision: Provisioner, community: Community
) -> None:
    provision.set_limit(community, "create_911", 2)
    with server.client(community.api_key) as http:
        ids = [http.post(CREATE_911, json=new_911()).json()["callId"] for _ in range(2)]
        before = every_row_count(provision)
        assert_rate_limited(http.post(CREATE_911, json=new_911()), retry_after=30)
        assert every_row_count(provision) == before
        provision.set_limit(community, "get_calls", 100)
    with server.client(community.api_key) as http:
        listed = [call["callId"] for call in http.get(CALLS).json()["emergencyCalls"]]
    assert listed == ids


def test_waiting_retry_after_seconds_gets_the_next_request_through(
    server: Server, provision: Provisioner, community: Community, clock: ManualClock
) -> None:
    # 60 a minute: a burst of 60, then one a second, so the honest wait is one second.
    provision.set_limit(community, "get_calls", 60)
    with server.client(community.api_key) as http:
        for _ in range(60):
            assert http.get(CALLS).status_code == 200
        wait = assert_rate_limited(http.get(CALLS))
        assert wait == 1
        clock.advance(seconds=wait - 0.01)  # a moment short of the wait: still refused
        assert_rate_limited(http.get(CALLS))
        clock.advance(seconds=0.01)
        response = http.get(CALLS)
        assert response.status_code == 200, response.text


def test_limits_are_counted_per_key_and_per_endpoint(
    server: Server, provision: Provisioner, community: Community
) -> None:
    with provision.db.transaction() as conn:
        second_key = create_api_key(conn, community_id=community.community_id, now=provision.now())
    with server.client(community.api_key) as first, server.client(second_key) as second:
        for _ in range(3):
            assert first.get(CALLS).status_code == 200
        assert_rate_limited(first.get(CALLS))
        assert second.get(CALLS).status_code == 200
        assert first.post(CREATE_911, json=new_911()).status_code == 200


def test_an_operator_limit_replaces_the_default(
    server: Server, provision: Provisioner, community: Community
) -> None:
    provision.set_limit(community, "get_calls", 5)
    with server.client(community.api_key) as http:
        for _ in range(5):
            assert http.get(CALLS).status_code == 200
        assert_rate_limited(http.get(CALLS), retry_after=12)
