"""The metrics listener: off unless configured, and then its own port, showing what the service did."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import suppress
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from opendispatch.app import create_app
from opendispatch.settings import Settings, split_address
from tests.ops.support import listening_ports, metrics_url, point_at_nothing, running, sample
from tests.support import Community, ManualClock, Provisioner, live_server

NEW_911 = {"isEmergency": True, "caller": "c", "location": "l", "description": "d"}
S1 = "/v2/emergency/servers/1"


@pytest.fixture
def with_metrics(settings: Settings, provision: Provisioner) -> Settings:
    """Settings with a metrics listener on any free loopback port, over a migrated database."""
    return settings.model_copy(update={"metrics_address": "127.0.0.1:0"})


async def scrape(http: httpx.AsyncClient, url: str) -> str:
    answer = await http.get(url)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return answer.text


def test_the_listener_is_off_by_default_and_nothing_listens(
    settings: Settings, provision: Provisioner
) -> None:
    assert Settings().metrics_address == ""

    async def probe() -> None:
        before = listening_ports()
        async with running(settings) as (app, http):
            assert listening_ports() == before
            assert app.state.metrics is None
            assert (await http.get("/metrics")).status_code == 404  # nor is it on the API

    asyncio.run(probe())


def test_when_configured_it_listens_on_its_own_port_and_only_serves_metrics(with_metrics: Settings) -> None:
    async def probe() -> None:
        before = listening_ports()
        async with running(with_metrics) as (app, http), httpx.AsyncClient() as scraper:
            port = app.state.metrics.port
            assert listening_ports() == before | {port}
            assert (await http.get("/metrics")).status_code == 404  # never on the API port
            assert (await scraper.get(f"http://127.0.0.1:{port}/healthz")).status_code == 404
            text = await scrape(scraper, metrics_url(app))
            # Each database thread keeps the connection it opened: the writer and the readers used so far.
            in_use = sample(text, "opendispatch_db_pool_connections", state="checked_out")
            assert in_use is not None and 1 <= in_use <= (sample(text, "opendispatch_db_pool_size") or 0)
            assert sample(text, "opendispatch_stream_subscribers") == 0
            assert sample(text, "opendispatch_outbox_backlog_events") == 0
            assert sample(text, "process_resident_memory_bytes") is not None
        assert port not in listening_ports()  # stopped with the application

    asyncio.run(probe())


def test_a_taken_address_fails_the_start(with_metrics: Settings) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        settings = with_metrics.model_copy(update={"metrics_address": f"127.0.0.1:{port}"})

        async def start() -> None:
            async with running(settings):
                pass

        with pytest.raises(OSError):
            asyncio.run(start())


@pytest.mark.parametrize("address", ["9100", "localhost", "host:port", ":9100", "::1:9100", "1.2.3.4:70000"])
def test_an_address_that_is_not_host_and_port_is_refused_with_the_settings(address: str) -> None:
    with pytest.raises(ValidationError, match="host:port"):
        Settings(metrics_address=address)


def test_ipv6_addresses_go_in_brackets() -> None:
    assert split_address("[::1]:9100") == ("::1", 9100)
    assert split_address("0.0.0.0:9100") == ("0.0.0.0", 9100)


def routes(found: Iterable[Any]) -> Iterator[Any]:
    """Every route, those of included routers too."""
    for route in found:
        included = getattr(route, "original_router", None)
        yield from routes(included.routes) if included is not None else [route]


def test_every_route_has_a_name_of_its_own(settings: Settings) -> None:
    # The latency histogram is labelled by route name: two routes of one name would share their series.
    names = [route.name for route in routes(create_app(settings).router.routes)]
    assert len(names) > 50
    assert sorted(name for name in set(names) if names.count(name) > 1) == []


def test_requests_show_in_the_histogram_by_operation_and_a_429_in_the_refusals(
    with_metrics: Settings, community: Community
) -> None:
    # The instruments count for the whole process (other tests' apps too): compare before and after.
    def seen(text: str, status_class: str) -> float:
        found = sample(
            text,
            "opendispatch_http_request_duration_seconds_count",
            operation="get_calls",
            status_class=status_class,
        )
        return found or 0.0

    async def probe() -> None:
        async with running(with_metrics) as (app, http), httpx.AsyncClient() as scraper:
            before = await scrape(scraper, metrics_url(app))
            headers = {"Authorization": f"Bearer {community.api_key}"}
            statuses = [(await http.get(f"{S1}/calls", headers=headers)).status_code for _ in range(4)]
            assert statuses == [200, 200, 200, 429]  # get calls: 3 a minute
            after = await scrape(scraper, metrics_url(app))
            assert seen(after, "2xx") - seen(before, "2xx") == 3
            assert seen(after, "4xx") - seen(before, "4xx") == 1
            refused = [
                sample(text, "opendispatch_rate_limit_refusals_total", operation="get_calls")
                for text in (before, after)
            ]
            assert refused[0] is not None and refused[1] == refused[0] + 1
            # Labelled by the route, not the path: no series names a server or a call id.
            assert "/v2/" not in after

    asyncio.run(probe())


def test_the_outbox_shows_a_pending_event_of_a_server_whose_receiver_does_not_answer(
    with_metrics: Settings, provision: Provisioner, community: Community
) -> None:
    point_at_nothing(provision, community, 1)
    clock = ManualClock()
    series = {"community": community.community_id, "server": "1"}
    settings = with_metrics.model_copy(update={"push_poll_seconds": 0.05})

    async def probe() -> None:
        async with running(settings, clock) as (app, http), httpx.AsyncClient() as scraper:
            before = await scrape(scraper, metrics_url(app))
            unreachable = sample(before, "opendispatch_push_delivery_attempts_total", result="unreachable")
            assert sample(before, "opendispatch_outbox_pending_events", **series) is None
            headers = {"Authorization": f"Bearer {community.api_key}"}
            assert (await http.post(f"{S1}/calls/911", json=NEW_911, headers=headers)).status_code == 200
            text = ""

            async def attempted() -> bool:
                nonlocal text
                text = await scrape(scraper, metrics_url(app))
                tried = sample(text, "opendispatch_push_delivery_attempts_total", result="unreachable")
                return tried is not None and unreachable is not None and tried > unreachable

            deadline = time.monotonic() + 10
            while not await attempted():
                assert time.monotonic() < deadline, "the worker never tried the receiver"
                await asyncio.sleep(0.02)
            assert sample(text, "opendispatch_outbox_pending_events", **series) == 1
            assert sample(text, "opendispatch_outbox_oldest_pending_age_seconds", **series) == 0
            clock.advance(seconds=90)
            text = await scrape(scraper, metrics_url(app))
            assert sample(text, "opendispatch_outbox_oldest_pending_age_seconds", **series) == 90
            assert sample(text, "opendispatch_outbox_backlog_servers") == 1
            assert sample(text, "opendispatch_outbox_backlog_events") == 1

    asyncio.run(probe())


def test_only_the_servers_waiting_longest_get_series_of_their_own(
    with_metrics: Settings, provision: Provisioner, community: Community
) -> None:
    for server_id in (1, 2):
        point_at_nothing(provision, community, server_id)
    clock = ManualClock()
    # The worker stays away, so what is pending stays pending.
    settings = with_metrics.model_copy(update={"metrics_outbox_servers": 1, "push_worker": False})

    async def probe() -> None:
        async with running(settings, clock) as (app, http), httpx.AsyncClient() as scraper:
            headers = {"Authorization": f"Bearer {community.api_key}"}
            for server_id in (2, 1, 1):
                answer = await http.post(
                    f"/v2/emergency/servers/{server_id}/calls/911", json=NEW_911, headers=headers
                )
                assert answer.status_code == 200
                clock.advance(seconds=10)
            text = await scrape(scraper, metrics_url(app))
            assert sample(text, "opendispatch_outbox_backlog_events") == 3
            assert sample(text, "opendispatch_outbox_backlog_servers") == 2
            oldest = {"community": community.community_id, "server": "2"}
            assert sample(text, "opendispatch_outbox_pending_events", **oldest) == 1
            assert sample(text, "opendispatch_outbox_oldest_pending_age_seconds", **oldest) == 30
            assert 'server="1"' not in text  # past the bound: counted in the totals only

    asyncio.run(probe())


class Subscriber:
    """An SSE stream held open in a thread until ``close``."""

    def __init__(self, url: str, api_key: str) -> None:
        self.opened = threading.Event()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._hold, args=(url, api_key), daemon=True)
        self._thread.start()
        assert self.opened.wait(10)

    def _hold(self, url: str, api_key: str) -> None:
        headers = {"Authorization": f"Bearer {api_key}"}
        with (
            httpx.Client(timeout=httpx.Timeout(10, read=None)) as client,
            client.stream("GET", url, headers=headers) as answer,
        ):
            assert answer.status_code == 200
            self._answer = answer
            self.opened.set()
            with suppress(httpx.HTTPError, RuntimeError):
                for _chunk in answer.iter_raw():
                    if self._closing.is_set():
                        return

    def close(self) -> None:
        self._closing.set()
        stream = self._answer.extensions["network_stream"]
        stream.get_extra_info("socket").shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)


def test_the_subscriber_gauge_counts_open_live_streams(with_metrics: Settings, community: Community) -> None:
    def subscribers(url: str) -> float | None:
        answer = httpx.get(url, timeout=10)
        return sample(answer.text, "opendispatch_stream_subscribers")

    def wait_for(url: str, count: int) -> None:
        deadline = time.monotonic() + 10
        while subscribers(url) != count:
            assert time.monotonic() < deadline, subscribers(url)
            time.sleep(0.02)

    with live_server(with_metrics) as server:
        url = metrics_url(server.app)
        assert subscribers(url) == 0
        streams = [Subscriber(f"{server.url}{S1}/events", community.api_key) for _ in range(2)]
        wait_for(url, 2)
        for stream in streams:
            stream.close()
        wait_for(url, 0)
