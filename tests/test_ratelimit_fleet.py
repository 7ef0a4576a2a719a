"""Rate limits of a fleet: two servers over one database and one real Redis count every key once, and a
Redis outage gives the documented answers (docs/api.md, Rate limits), never a 500."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import httpx
import pytest
import redis

from opendispatch.api import redis_gcra
from opendispatch.settings import Settings
from tests.services import RedisServer
from tests.support import Community, LiveServer, ManualClock, Provisioner, live_server, new_911
from tests.test_ratelimit import CALLS, CREATE_911, assert_rate_limited
from tests.web.support import PASSWORD, Console, dispatcher

LOGIN = "/console/api/login"
UNITS = "/v2/emergency/servers/1/units"


@pytest.fixture
def fleet_settings(settings: Settings, redis_url: str) -> Settings:
    return settings.model_copy(update={"redis_url": redis_url})


@contextmanager
def servers(settings: Settings, clock: ManualClock | None, count: int = 2) -> Iterator[list[LiveServer]]:
    """``count`` servers over the same database and Redis, as a fleet's processes are."""
    with ExitStack() as stack:
        yield [stack.enter_context(live_server(settings, clock)) for _ in range(count)]


@pytest.fixture
def fleet(fleet_settings: Settings, provision: Provisioner, clock: ManualClock) -> Iterator[list[LiveServer]]:
    """Two servers on the test's hand-moved clock."""
    with servers(fleet_settings, clock) as running:
        yield running


def clients(fleet: list[LiveServer], api_key: str, stack: ExitStack) -> list[httpx.Client]:
    return [stack.enter_context(server.client(api_key)) for server in fleet]


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.05)


# -- one count across the fleet --------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "limit"), [(CALLS, 3), (CREATE_911, 10)], ids=["get calls", "create 911"])
def test_a_key_gets_exactly_its_limit_when_requests_alternate_between_two_servers(
    fleet: list[LiveServer], community: Community, path: str, limit: int
) -> None:
    with ExitStack() as stack:
        first, second = clients(fleet, community.api_key, stack)
        sent = [
            (first if n % 2 == 0 else second).request(
                "GET" if path == CALLS else "POST", path, json=None if path == CALLS else new_911()
            )
            for n in range(limit + 2)
        ]
    assert [answer.status_code for answer in sent] == [200] * limit + [429] * 2
    for refused in sent[limit:]:
        assert_rate_limited(refused, retry_after=60 // limit)


def test_on_the_redis_servers_clock_the_fleet_counts_once_too(
    fleet_settings: Settings, provision: Provisioner, community: Community
) -> None:
    # No injected clock: both servers read the time inside Redis, as a fleet on several machines does.
    with servers(fleet_settings, None) as fleet, ExitStack() as stack:
        first, second = clients(fleet, community.api_key, stack)
        codes = [(first, second)[n % 2].get(CALLS).status_code for n in range(3)]
        assert codes == [200] * 3
        # The three went through within a second or so: the wait is the rest of 20 s, rounded up.
        assert_rate_limited(second.get(CALLS), retry_after=20)
        assert_rate_limited(first.get(CALLS), retry_after=20)


def test_waiting_retry_after_gets_through_on_the_other_server(
    fleet: list[LiveServer], provision: Provisioner, community: Community, clock: ManualClock
) -> None:
    provision.set_limit(community, "get_calls", 60)  # one a second after the burst
    with ExitStack() as stack:
        first, second = clients(fleet, community.api_key, stack)
        for n in range(60):
            assert (first, second)[n % 2].get(CALLS).status_code == 200
        wait = assert_rate_limited(first.get(CALLS))
        assert wait == 1
        clock.advance(seconds=wait - 0.01)
        assert_rate_limited(second.get(CALLS))
        clock.advance(seconds=0.01)
        assert second.get(CALLS).status_code == 200
        assert_rate_limited(first.get(CALLS), retry_after=1)


def test_a_keys_state_expires_from_redis_once_it_holds_nothing_back(
    fleet: list[LiveServer], provision: Provisioner, community: Community, redis_url: str
) -> None:
    provision.set_limit(community, "create_911", 60)  # a request holds the key back for one second
    with ExitStack() as stack, redis.Redis.from_url(redis_url) as store:
        first, second = clients(fleet, community.api_key, stack)
        for _ in range(3):
            assert first.get(CALLS).status_code == 200
        [calls] = store.keys("opendispatch:rate:*:get_calls")
        # A full burst holds the key back for the whole window, and no longer.
        assert 59_000 < store.pttl(calls) <= 60_000
        assert second.post(CREATE_911, json=new_911()).status_code == 200
        [created] = store.keys("opendispatch:rate:*:create_911")
        assert 0 < store.pttl(created) <= 1000
        wait_for(lambda: not store.exists(created), "the idle state expired")
        assert store.exists(calls)


def test_the_server_clock_ignores_the_callers_time(redis_url: str) -> None:
    async def run() -> list[bool]:
        client = redis_gcra.connect(redis_url)
        limiter = redis_gcra.RedisLimiter(
            client, "t:", when_down=redis_gcra.WhenDown.REFUSE, server_time=True, what="tests"
        )
        try:
            # A caller whose clock runs an hour ahead gets nothing for it: Redis's clock judges.
            return [(await limiter.hit(1, "get_calls", 1, now)).allowed for now in (0.0, 3600.0)]
        finally:
            await client.aclose()

    assert asyncio.run(run()) == [True, False]


# -- Redis down ------------------------------------------------------------------------------------------


def test_while_redis_is_down_the_api_counts_per_process_and_logins_wait_and_nothing_is_a_500(
    settings: Settings,
    provision: Provisioner,
    community: Community,
    clock: ManualClock,
    own_redis_server: RedisServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="opendispatch.api.redis_gcra")
    dispatcher(provision, community, "alice")
    provision.set_limit(community, "get_units", 10_000)  # the probe below asks often
    login = {"communityId": community.community_id, "username": "alice", "password": PASSWORD}
    fleet_settings = settings.model_copy(update={"redis_url": own_redis_server.url})
    with servers(fleet_settings, clock) as fleet, ExitStack() as stack:
        first, second = clients(fleet, community.api_key, stack)
        console = Console(fleet[0], community)  # logged in before the outage
        stack.callback(console.close)
        assert first.get(CALLS).status_code == 200  # counted in Redis: 2 left for the fleet

        own_redis_server.stop()

        # Each process goes on limiting the key alone: 3 a minute on each, whatever Redis last knew.
        for http in (first, second):
            codes = [http.get(CALLS).status_code for _ in range(4)]
            assert codes == [200, 200, 200, 429]
            assert_rate_limited(http.get(CALLS), retry_after=20)
        # A login try cannot be counted, so it is refused; the open session keeps working.
        with httpx.Client(base_url=fleet[0].url) as browser:
            for _ in range(5):
                refused = browser.post(LOGIN, json=login)
                assert refused.status_code == 503, refused.text
                assert refused.headers["content-type"] == "application/problem+json"
                assert refused.headers["retry-after"] == "1"
                assert "sessions already open keep working" in refused.json()["detail"]
        assert console.get("/console/api/session").status_code == 200
        # One line per limiter and process for the whole outage, however many requests met it.
        down = [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()]
        assert sorted(message.split("until it answers, ")[1] for message in down) == [
            "API requests are counted by each process on its own",
            "API requests are counted by each process on its own",
            "console logins are refused with 503",
        ]

        own_redis_server.restart()  # empty, on the same port

        store = own_redis_server.client()
        stack.callback(store.close)
        wait_for(
            lambda: first.get(UNITS).status_code == 200 and bool(store.keys("*:get_units")),
            "the first server counts in Redis again",
        )
        with httpx.Client(base_url=fleet[0].url) as browser:
            wait_for(lambda: browser.post(LOGIN, json=login).status_code == 200, "logins are accepted again")
        back = [r.getMessage() for r in caplog.records if "answers again" in r.getMessage()]
        assert sorted(back) == [
            "Redis answers again: API requests are counted in Redis again",
            "Redis answers again: console logins are counted in Redis again",
        ]
        assert not [r for r in caplog.records if "unexpected error" in r.getMessage()]
