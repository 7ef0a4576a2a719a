"""The event load: 911 calls created at a steady rate, open loop, and when each answer arrived.

Request ``n`` is sent at ``start + n / rate`` whether or not the earlier ones were answered (open loop: a
slow server does not slow the load down, as it would with wrk's closed loop). For each 200 the process
notes the call id and the time the answer arrived, on CLOCK_MONOTONIC: one clock for every process of the
machine, which never steps, so the receiver and the subscribers (bench/listen.py) read the same clock.

Run it with ``python -P bench/pace.py --url URL --key KEY --body FILE --rate R --seconds S`` (``command``
builds that line); it prints one JSON object (``Paced``) on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# The longest a request may take; the run ends at most this long after its last request is sent.
REQUEST_TIMEOUT = 30.0
# Connections the client may open; beyond them requests wait for one (the run reports that lag).
MAX_CONNECTIONS = 64


def now_ns() -> int:
    """The clock every bench process stamps events with."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


@dataclasses.dataclass(frozen=True)
class Paced:
    """One paced run: the answers (call id → arrival, ns), what failed, and how steady the pace was."""

    sent: int
    answers: dict[int, int]
    duration: float  # from the first request sent to the last answer, seconds
    failures: list[str] = dataclasses.field(default_factory=list)
    max_send_lag: float = 0.0  # the latest a request left after its scheduled time, seconds
    api_p50: float = 0.0  # the API's own latency (send → answer), seconds
    api_p99: float = 0.0
    cpu_seconds: float = 0.0  # this process's CPU time from the first request sent to the end

    @property
    def rate(self) -> float:
        """Answered creates per second over the run."""
        return len(self.answers) / self.duration if self.duration else 0.0


def percentile(values: list[int] | list[float], share: float) -> float:
    """Nearest-rank percentile of ``values`` (``share`` 0.5 is the median); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))])


async def pace(url: str, key: str, body: bytes, *, rate: float, seconds: float) -> Paced:
    import httpx  # imported here: the bench's own process only needs ``command`` and ``run_pace``

    count = max(1, round(rate * seconds))
    interval_ns = int(1e9 / rate)
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    limits = httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS)
    answers: dict[int, int] = {}
    api_ns: list[int] = []
    failures: list[str] = []
    lag_ns = 0

    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT, limits=limits) as client:

        async def create() -> None:
            sent = now_ns()
            try:
                answer = await client.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                failures.append(f"{type(exc).__name__}: {exc}")
                return
            answered = now_ns()
            if answer.status_code != 200:
                failures.append(f"HTTP {answer.status_code}: {answer.text[:200]}")
                return
            answers[int(answer.json()["callId"])] = answered
            api_ns.append(answered - sent)

        # A first connection before the clock starts, so request 0 does not pay for the connect (a GET
        # on the create path is a 405: it creates nothing).
        await client.get(url)
        cpu_started = time.process_time()
        tasks = []
        start = now_ns() + 10_000_000
        for n in range(count):
            due = start + n * interval_ns
            wait = due - now_ns()
            if wait > 0:
                await asyncio.sleep(wait / 1e9)
            lag_ns = max(lag_ns, now_ns() - due)
            tasks.append(asyncio.create_task(create()))
        await asyncio.gather(*tasks)
        finished = max(answers.values(), default=now_ns())
        cpu_seconds = time.process_time() - cpu_started
    return Paced(
        sent=count,
        answers=answers,
        duration=max(finished - start, 1) / 1e9,
        failures=failures,
        max_send_lag=lag_ns / 1e9,
        api_p50=percentile(api_ns, 0.50) / 1e9,
        api_p99=percentile(api_ns, 0.99) / 1e9,
        cpu_seconds=cpu_seconds,
    )


def command(url: str, key: str, body: Path, *, rate: float, seconds: float) -> list[str]:
    """The command line of one paced run: this file as a script (``-P``: bench/ stays off sys.path)."""
    return [
        sys.executable,
        "-P",
        str(Path(__file__).resolve()),
        *("--url", url, "--key", key, "--body", str(body)),
        *("--rate", str(rate), "--seconds", str(seconds)),
    ]


def run_pace(url: str, key: str, body: Path, *, rate: float, seconds: float) -> Paced:
    """Run the load process to its end; its answers."""
    done = subprocess.run(
        command(url, key, body, rate=rate, seconds=seconds),
        capture_output=True,
        text=True,
        timeout=seconds + REQUEST_TIMEOUT + 60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the load process failed ({done.returncode}): {done.stderr.strip()}")
    report: dict[str, Any] = json.loads(done.stdout)
    report["answers"] = {int(call_id): at for call_id, at in report["answers"].items()}
    return Paced(**report)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="The create endpoint, e.g. …/calls/911.")
    parser.add_argument("--key", required=True, help="API key.")
    parser.add_argument("--body", required=True, type=Path, help="JSON file sent as each body.")
    parser.add_argument("--rate", required=True, type=float, help="Requests per second.")
    parser.add_argument("--seconds", required=True, type=float, help="How long to send.")
    args = parser.parse_args(argv)
    import uvloop

    paced = uvloop.run(pace(args.url, args.key, args.body.read_bytes(), rate=args.rate, seconds=args.seconds))
    json.dump(dataclasses.asdict(paced), sys.stdout)


if __name__ == "__main__":
    main()
