"""`opendispatch serve` and `opendispatch worker` with a metrics listener, as operators run them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from opendispatch.events import service as events
from opendispatch.events.schemas import EventType
from tests.events.receiver import Receiver
from tests.ops.support import point_at_nothing, sample
from tests.support import Community, Provisioner, free_port

NEW_911 = {"isEmergency": True, "caller": "c", "location": "l", "description": "d"}


@contextmanager
def command(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The CLI in a process of its own, stopped with SIGTERM as a service manager stops it."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith("OPENDISPATCH_")}
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "opendispatch.cli", *args],
            env={**clean, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_for(url: str, log: Path) -> httpx.Response:
    """The first answer of ``url`` once something listens there."""
    deadline = time.monotonic() + 20
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)


def test_serve_answers_on_both_ports_and_stops_on_sigterm(
    database_url: str, provision: Provisioner, tmp_path: Path
) -> None:
    api, metrics = free_port(), free_port()
    log = tmp_path / "serve.log"
    env = {"OPENDISPATCH_DATABASE_URL": database_url, "OPENDISPATCH_METRICS_ADDRESS": f"127.0.0.1:{metrics}"}
    with command(["serve", "--port", str(api)], env, log) as process:
        assert wait_for(f"http://127.0.0.1:{api}/readyz", log).status_code == 200
        scraped = wait_for(f"http://127.0.0.1:{metrics}/metrics", log)
        assert scraped.status_code == 200
        assert sample(scraped.text, "opendispatch_stream_subscribers") == 0
        # One SIGTERM stops both listeners: the API's server owns the signal and stops the metrics one.
        process.send_signal(signal.SIGTERM)
        # uvicorn finishes its shutdown, then raises the signal again on itself, as an unhandled one would.
        assert process.wait(timeout=15) in (0, -signal.SIGTERM)
        assert "Application shutdown complete." in log.read_text()
    for port in (api, metrics):
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
        except httpx.ConnectError:
            continue
        raise AssertionError(f"port {port} still answers")


def test_worker_shows_its_delivery_attempts_and_the_outbox_on_its_own_listener(
    database_url: str, provision: Provisioner, community: Community, tmp_path: Path
) -> None:
    point_at_nothing(provision, community, 1)
    with provision.db.transaction() as conn:
        events.emit(
            conn,
            community_id=community.community_id,
            server_id=1,
            type=EventType.EVENT_911,
            data={"call": {"callId": 1}},
            now=provision.now(),
        )
    metrics = free_port()
    log = tmp_path / "worker.log"
    env = {
        "OPENDISPATCH_DATABASE_URL": database_url,
        "OPENDISPATCH_METRICS_ADDRESS": f"127.0.0.1:{metrics}",
        "OPENDISPATCH_PUSH_POLL_SECONDS": "0.05",
    }
    with command(["worker"], env, log):
        url = f"http://127.0.0.1:{metrics}/metrics"
        text = wait_for(url, log).text
        deadline = time.monotonic() + 20
        while not sample(text, "opendispatch_push_delivery_attempts_total", result="unreachable"):
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
            text = httpx.get(url, timeout=2).text
        series = {"community": community.community_id, "server": "1"}
        assert sample(text, "opendispatch_outbox_pending_events", **series) == 1
        assert sample(text, "opendispatch_stream_subscribers") is None  # the worker streams nothing


@pytest.mark.own_database  # it runs on a PostgreSQL database whatever --backend says
def test_worker_on_postgresql_delivers_a_new_event_at_once_not_at_its_next_poll(
    postgresql_url: str, tmp_path: Path
) -> None:
    provision = Provisioner(postgresql_url)
    receiver = Receiver().start()
    try:
        community = provision.community("Alpha")
        with provision.db.transaction() as conn:
            events.set_push_target(
                conn,
                community_id=community.community_id,
                server_id=1,
                now=provision.now(),
                url=receiver.url,
                shape="object",
                body_key=community.api_key,
            )

        def emit(call_id: int) -> None:
            with provision.db.transaction() as conn:
                events.emit(
                    conn,
                    community_id=community.community_id,
                    server_id=1,
                    type=EventType.EVENT_911,
                    data={"call": {"callId": call_id}},
                    now=provision.now(),
                )

        def arrived(count: int, log: Path) -> None:
            deadline = time.monotonic() + 20
            while len(receiver.arrivals) < count:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)

        emit(1)  # waiting before the worker starts: its first round delivers it
        log = tmp_path / "worker.log"
        # A poll far longer than the wait below: only the commit's NOTIFY can bring the second event.
        env = {"OPENDISPATCH_DATABASE_URL": postgresql_url, "OPENDISPATCH_PUSH_POLL_SECONDS": "600"}
        with command(["worker"], env, log):
            arrived(1, log)
            emit(2)
            arrived(2, log)
        assert [arrival.json["data"]["call"]["callId"] for arrival in receiver.arrivals] == [1, 2]
    finally:
        receiver.stop()
        provision.close()
