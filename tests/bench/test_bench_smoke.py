"""The bench cannot rot silently: the floor app serves under wrk, and wrk's report is read right; the
event rows' load process, receiver and subscribers work against a real server, and their figures are
matched and judged right; the bare stack and the PostgreSQL rows each run once, briefly, end to end."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from bench.floor import command as floor_command
from bench.listen import RECEIVER_PATH, Arrivals, Subscriber
from bench.listen import command as listen_command
from bench.pace import Paced, run_pace
from bench.processes import Service, free_port
from bench.run import (
    CREATE_911_BODY,
    CREATE_911_PATH,
    Bench,
    EventLoad,
    Row,
    arrival_count,
    bare_stack,
    create_911_postgresql,
    event_load,
    get_calls_postgresql,
    live_stream_across_processes,
    render_table,
    render_targets,
    wait_for_arrivals,
)
from bench.wrk import WrkResult, combine, ensure_wrk, parse_wrk_output, run_wrk

from opendispatch.events import service as events
from opendispatch.settings import Settings
from tests.support import Provisioner, live_server

# wrk 4.1 with --latency against a server answering 500 and closing the connection.
FAILING_REPORT = """\
Running 5s test @ http://127.0.0.1:18080/v2/emergency/servers/1/calls/911
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    91.32ms   21.79ms    1.02s    85.92%
    Req/Sec   331.74     63.05   450.00     86.00%
  Latency Distribution
     50%   88.70ms
     75%   93.70ms
     90%  105.42ms
     99%    1.02s
  1653 requests in 5.00s, 576.29KB read
  Socket errors: connect 0, read 1652, write 0, timeout 3
  Non-2xx or 3xx responses: 1653
Requests/sec:    330.27
Transfer/sec:    115.14KB
"""


def test_parser_reads_throughput_percentiles_and_failures() -> None:
    report = parse_wrk_output(FAILING_REPORT)
    assert report.requests == 1653
    assert report.duration == pytest.approx(5.0)
    assert report.requests_per_second == pytest.approx(330.27)
    assert report.p50 == pytest.approx(0.0887)
    assert report.p99 == pytest.approx(1.02)
    assert report.socket_errors == {"connect": 0, "read": 1652, "write": 0, "timeout": 3}
    assert report.non_2xx == 1653
    assert report.errors == 1653 + 1655


def test_parser_refuses_a_report_without_percentiles() -> None:
    with pytest.raises(ValueError, match="50%"):
        parse_wrk_output(FAILING_REPORT.replace("     50%   88.70ms\n", ""))


def test_floor_app_under_wrk_and_the_table(tmp_path: Path) -> None:
    database = tmp_path / "floor.db"
    body = tmp_path / "body.json"
    body.write_text('{"caller": "smoke test"}')
    port = free_port()
    service = Service(
        "floor", floor_command(port, database), port=port, log=tmp_path / "floor.log", env=dict(os.environ)
    )
    with service as floor:
        floor.reset_peak_rss()
        load = run_wrk(f"{floor.url}/anything", connections=4, seconds=1, body=body, wrk=ensure_wrk())
        peak = floor.peak_rss()
        cpu = floor.cpu_seconds()
    assert load.requests > 0
    assert load.errors == 0
    assert load.p50 <= load.p99
    assert 0 < load.cpu_share < 2
    assert peak > 1_000_000 and cpu > 0
    connection = sqlite3.connect(database)
    try:
        stored, sample = connection.execute("SELECT count(*), max(body) FROM requests").fetchone()
    finally:
        connection.close()
    assert stored >= load.requests  # every answered request was committed; the warm-up adds none here
    assert sample == '{"caller": "smoke test"}'

    rows = [
        Row("1. create 911 call", "32 clients", load=load, peak_rss=peak, server_cpu=0.9),
        Row("2. get calls", "not available yet"),
        Row("5. floor", "32 clients", load=load, peak_rss=peak, server_cpu=0.5),
    ]
    table = render_table(rows)
    assert "| 1. create 911 call | 32 clients |" in table and "1.00×" in table
    assert "| 2. get calls | not available yet | — |" in table
    targets = render_targets(rows)
    assert "create 911 call at 32 clients ≥ 0.7 × floor: 1.00 × → met" in targets
    assert "create 911 call p99 at 32 clients ≤ 2 × the floor's p99: " in targets


def _listener(tmp_path: Path, mode: str, **options: object) -> Service:
    port = free_port()
    argv = listen_command(mode, port, **options)  # type: ignore[arg-type]
    return Service(mode, argv, port=port, log=tmp_path / f"{mode}.log", env=dict(os.environ))


def test_event_rows_against_a_real_server(tmp_path: Path, provision: Provisioner) -> None:
    community = provision.community("Bench")
    body = tmp_path / "911.json"
    body.write_text(json.dumps(CREATE_911_BODY))
    settings = Settings(database_url=provision.database_url, rate_limits_enabled=False)
    with _listener(tmp_path, "receiver") as receiver, live_server(settings) as server:
        with provision.db.transaction() as conn:
            events.set_push_target(
                conn,
                community_id=community.community_id,
                server_id=1,
                now=provision.now(),
                url=receiver.url + RECEIVER_PATH,
                shape="object",
                body_key=community.api_key,
            )
        options = {"server": server.url, "key": community.api_key, "subscribers": 3}
        with _listener(tmp_path, "stream", **options) as streams:
            paced = run_pace(server.url + CREATE_911_PATH, community.api_key, body, rate=50, seconds=0.2)
            assert paced.sent == 10 and len(paced.answers) == 10 and not paced.failures
            assert paced.cpu_seconds > 0 and 0 < paced.api_p50 <= paced.api_p99
            span = min(paced.answers), max(paced.answers)
            pushed = event_load(paced, wait_for_arrivals(receiver, *span, expected=10, within=10), 0.0)
            streamed = event_load(paced, wait_for_arrivals(streams, *span, expected=30, within=10), 0.0)
            assert (arrival_count(receiver), arrival_count(streams)) == (10, 30)
    assert (pushed.subscribers, len(pushed.latencies), pushed.missing) == (1, 10, 0)
    assert (streamed.subscribers, len(streamed.latencies), streamed.missing) == (3, 30, 0)
    for load in (pushed, streamed):
        assert load.duplicates == load.out_of_order == load.reopened == 0
        # Arrival follows the answer by well under a second; a little before it is possible (the answer
        # and the event leave the server together), far before it would mean mismatched clocks.
        assert -0.05 < load.latencies[0] <= load.p50 <= load.p99 < 1.0

    rows = [
        Row("3. push delivery", "50 events/s, 1 receiver", load=pushed, peak_rss=90_000_000, server_cpu=0.2),
        Row("4. live stream", "50 events/s, 3 subscribers", load=streamed, peak_rss=90_000_000),
    ]
    table = render_table(rows)
    assert "| 3. push delivery | 50 events/s, 1 receiver |" in table
    targets = render_targets(rows)
    assert "- push delivery p99 < 100 ms: " in targets and "10 of 10 arrived → met" in targets
    assert "30 of 30 arrived → met" in targets


def test_a_missing_event_fails_the_row_and_its_target() -> None:
    paced = Paced(sent=3, answers={7: 1_000_000_000, 8: 1_010_000_000, 9: 1_020_000_000}, duration=0.03)
    reports = [
        {"arrivals": {"7": 1_001_000_000, "8": 1_012_000_000, "9": 1_020_500_000}, "duplicates": 0,
         "outOfOrder": 0, "reopened": 0},
        {"arrivals": {"7": 1_004_000_000, "9": 1_021_000_000}, "duplicates": 1, "outOfOrder": 0,
         "reopened": 1},
    ]  # fmt: skip
    load = event_load(paced, reports, listener_cpu_seconds=0.0)
    assert load.latencies == pytest.approx([0.0005, 0.001, 0.001, 0.002, 0.004])
    assert (load.missing, load.errors, load.duplicates, load.reopened) == (1, 1, 1, 1)
    assert load.p50 == pytest.approx(0.001) and load.p99 == pytest.approx(0.004)
    targets = render_targets([Row("4. live stream", "2 subscribers", load=load)])
    assert "live stream at 200 subscribers p99 < 250 ms: 4.00 ms, 5 of 6 arrived → not met" in targets


def test_subscriber_reads_a_chunked_stream_however_it_is_split() -> None:
    messages = [
        b": ping\n\n",
        b'event: EVENT_911\ndata: {"call":{"callId":41},"metaData":{}}\nid: 5\n\n',
        b'event: EVENT_DISPATCH_NEW\ndata: {"dispatch":{"callId":2}}\nid: 6\n\n',
        b'event: EVENT_911\ndata: {"call":{"callId":42}}\nid: 7\n\n',
    ]
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    wire = head + b"".join(b"%x\r\n%s\r\n" % (len(m), m) for m in messages) + b"0\r\n\r\n"
    loop = asyncio.new_event_loop()
    try:
        arrivals = Arrivals()
        subscriber = Subscriber(b"", arrivals, loop.create_future())

        class Transport:
            closed = False

            def write(self, data: bytes) -> None:
                pass

            def close(self) -> None:
                self.closed = True

        transport = Transport()
        subscriber.connection_made(transport)  # type: ignore[arg-type]
        for n in range(len(wire)):  # one byte at a time: every split a network could make
            subscriber.data_received(wire[n : n + 1])
    finally:
        loop.close()
    assert sorted(arrivals.first) == [41, 42]
    assert arrivals.last_event_id == 7 and arrivals.duplicates == arrivals.out_of_order == 0
    assert transport.closed  # the last chunk ends the stream


def _wrk(rate: float, p99: float, requests: int = 1000) -> WrkResult:
    return WrkResult(
        requests=requests, duration=requests / rate, requests_per_second=rate, p50=p99 / 2, p99=p99
    )


def test_runs_side_by_side_combine_into_one_load() -> None:
    first = WrkResult(1000, 2.0, 500.0, 0.004, 0.020, non_2xx=1, socket_errors={"read": 2}, cpu_seconds=0.1)
    second = WrkResult(
        900, 2.1, 450.0, 0.005, 0.015, socket_errors={"read": 1, "timeout": 1}, cpu_seconds=0.2
    )
    both = combine([first, second])
    assert (both.requests, both.duration, both.requests_per_second) == (1900, 2.1, 950.0)
    assert (both.p50, both.p99) == (0.005, 0.020)  # the larger: an upper bound of the combined figure
    assert both.non_2xx == 1 and both.socket_errors == {"read": 3, "timeout": 1}
    assert both.cpu_seconds == pytest.approx(0.3)


def test_targets_of_the_bare_stack_and_postgresql_rows() -> None:
    rows = [
        Row("1. create 911 call", "32 clients", load=_wrk(4000, 0.030), server_cpu=1.0),
        Row("5. floor", "32 clients", load=_wrk(5000, 0.010)),
        Row("6. bare stack", "32 clients", load=_wrk(6000, 0.008), server_cpu=1.0),
        Row("7. create 911 call, PostgreSQL", "32 clients, 1 process", load=_wrk(1800, 0.05),
            server_cpu=0.9, postgres_cpu=0.4),
        Row("7. create 911 call, PostgreSQL", "32 clients, 2 processes", load=_wrk(2400, 0.04),
            server_cpu=1.5, postgres_cpu=0.6),
        Row("8. get calls, PostgreSQL", "10 closed calls, 4 clients", load=_wrk(900, 0.010)),
        Row("8. get calls, PostgreSQL", "100 000 closed calls, 4 clients", load=_wrk(50, 0.100)),
    ]  # fmt: skip
    targets = render_targets(rows)
    assert (
        "create 911 call p99 at 32 clients ≤ 2 × the floor's p99: 30.0 ms / 10.0 ms = 3.00 × → not met"
        in targets
    )
    assert (
        "CPU per request at 32 clients ≤ 1.3 × the bare stack's: 0.250 ms / 0.167 ms = 1.50 × → not met"
        in targets
    )
    assert (
        "on PostgreSQL, 1 process, ≥ 0.5 × on SQLite (row 1): 1,800 / 4,000 req/s = 0.45 × → not met"
        in targets
    )
    assert (
        "on PostgreSQL, 2 processes, ≥ 0.5 × on SQLite (row 1): 2,400 / 4,000 req/s = 0.60 × → met" in targets
    )
    assert (
        "get calls on PostgreSQL p99 at 100 000 closed ≤ 1.5 × p99 at 10 closed: 100 ms / 10.0 ms" in targets
    )
    table = render_table(rows)
    assert "| 7. create 911 call, PostgreSQL | 32 clients, 2 processes | 2,400 |" in table
    assert "| 90% + PG 40% |" in table and "| 150% + PG 60% |" in table  # two processes' CPU adds up


@pytest.fixture
def tiny_bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bench]:
    """A bench of 1 s runs without warm-up, a slow event rate and few subscribers: each row once, briefly."""
    monkeypatch.setattr("bench.run.SETTLE_SECONDS", 0.0)
    monkeypatch.setattr("bench.run.EVENT_RATE", 20)
    monkeypatch.setattr("bench.run.STREAM_SUBSCRIBERS", 3)
    # Two processes: that path covers the one-process one.
    monkeypatch.setattr("bench.run.POSTGRES_PROCESSES", (2,))
    monkeypatch.setattr("bench.run.POSTGRES_CLOSED_CALLS", (100,))
    bench = Bench(tmp_path, ensure_wrk(), seconds=1, warmup=0)
    yield bench
    bench.close()


def test_bare_stack_and_postgresql_rows_at_tiny_size(tiny_bench: Bench) -> None:
    rows = [
        *bare_stack(tiny_bench),
        *create_911_postgresql(tiny_bench),
        *get_calls_postgresql(tiny_bench),
        *live_stream_across_processes(tiny_bench),
    ]
    assert [(row.scenario[:2], row.case) for row in rows] == [
        ("6.", "32 clients"),
        ("7.", "32 clients, 2 processes"),
        ("8.", "100 closed calls, 4 clients"),
        ("9.", "20 events/s, 3 subscribers"),
    ]
    for row in rows:
        assert row.load is not None and row.load.requests > 0, row
        assert not row.note and not row.load.errors, row
        assert row.server_cpu and row.peak_rss and row.startup_rss, row
        assert (row.postgres_cpu is not None) == (not row.scenario.startswith("6.")), row
    bare, two_processes, _listing, across = rows
    assert bare.postgres_cpu is None and two_processes.postgres_cpu and two_processes.postgres_cpu > 0
    assert isinstance(across.load, EventLoad) and across.load.subscribers == 3 and not across.load.missing
    assert "- live stream across processes (PostgreSQL) p99 < 250 ms: " in render_targets(rows)
    assert "| 7. create 911 call, PostgreSQL | 32 clients, 2 processes |" in render_table(rows)


def test_the_hub_row_times_positions_from_the_socket_to_the_streams(tmp_path: Path) -> None:
    from bench.hub import PLAYERS, measure, render

    [step] = measure(tmp_path, [2], [], seconds=2, warmup=0.5)
    assert step.calls >= 2 * 8  # two game servers, five calls a second each
    # On a busy machine a call the server handled late can make the next look early: rare, counted.
    assert step.refused <= step.calls // 10
    # Every position heard came from a call of this run: two followed servers, 25 players each.
    assert len(step.latencies) >= PLAYERS * 2
    assert all(0 <= latency < 5 for latency in step.latencies)
    assert len(step.creates) >= 15 and step.create_failures == 0
    assert step.server_cpu > 0 and step.peak_rss > 0
    assert render([step]).splitlines()[-1].startswith("| 2 | ")


def test_the_hostile_row_fills_a_call_to_its_bound_and_times_a_normal_client(tmp_path: Path) -> None:
    from bench.hostile import RSS_TARGET, measure, render

    row = measure(tmp_path, seconds=2)
    assert row.notes_stored >= 1 and row.edits > 0  # filled until refused, then edited
    assert len(row.normal) >= 15 and row.normal_failures == 0
    assert "20 readers that never read" in render(row)
    # The memory budget holds: events of a call at its bound, readers that never read (issue #14).
    assert 0 < row.peak_rss < RSS_TARGET
