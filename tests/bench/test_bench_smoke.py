"""The bench cannot rot silently: the floor app serves under wrk, wrk's report is read right, and so is
a live stream, however the network splits it."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import pytest
from bench.floor import command as floor_command
from bench.listen import Arrivals, Subscriber
from bench.processes import Service, free_port
from bench.run import Row, render_table, render_targets
from bench.wrk import ensure_wrk, parse_wrk_output, run_wrk

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
        Row("4. live stream", "not available yet"),
        Row("5. floor", "32 clients", load=load, peak_rss=peak, server_cpu=0.5),
    ]
    table = render_table(rows)
    assert "| 1. create 911 call | 32 clients |" in table and "1.00×" in table
    assert "| 4. live stream | not available yet | — |" in table
    assert "create 911 call at 32 clients ≥ 0.7 × floor: 1.00 × → met" in render_targets(rows)


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
