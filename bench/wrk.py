"""The load generator: Debian's ``wrk`` (C, epoll), one thread so it keeps to one core, and its output.

wrk runs in its own process; the bench reads its report (``--latency`` adds the percentiles) and its CPU
time, so every row can show that the load generator was not the bottleneck.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

POST_SCRIPT = Path(__file__).with_name("post.lua")

_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_TIME = r"([\d.]+)(us|ms|s|m|h)"


@dataclass(frozen=True)
class WrkResult:
    """One wrk run: throughput, latency percentiles (seconds), failures and wrk's own CPU time."""

    requests: int
    duration: float
    requests_per_second: float
    p50: float
    p99: float
    non_2xx: int = 0
    socket_errors: dict[str, int] = field(default_factory=dict)
    cpu_seconds: float = 0.0

    @property
    def errors(self) -> int:
        """Answers that were not 2xx/3xx plus socket errors (connect, read, write, timeout)."""
        return self.non_2xx + sum(self.socket_errors.values())

    @property
    def cpu_share(self) -> float:
        """wrk's CPU time over the run's wall time: 1.0 is one core kept busy."""
        return self.cpu_seconds / self.duration if self.duration else 0.0


def _seconds(value: str, unit: str) -> float:
    return float(value) * _SECONDS[unit]


def parse_wrk_output(text: str) -> WrkResult:
    """Read wrk's text report (run with ``--latency``); raise ValueError when a figure is missing."""

    def find(pattern: str) -> re.Match[str]:
        match = re.search(pattern, text, re.MULTILINE)
        if match is None:
            raise ValueError(f"wrk output has no match for {pattern!r}:\n{text}")
        return match

    total = find(rf"^\s*(\d+) requests in {_TIME},")
    percentile = {label: _seconds(*find(rf"^\s*{label}%\s+{_TIME}\s*$").groups()) for label in ("50", "99")}
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text, re.MULTILINE
    )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return WrkResult(
        requests=int(total.group(1)),
        duration=_seconds(total.group(2), total.group(3)),
        requests_per_second=float(find(r"^Requests/sec:\s+([\d.]+)").group(1)),
        p50=percentile["50"],
        p99=percentile["99"],
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=(
            dict(zip(("connect", "read", "write", "timeout"), map(int, socket.groups()), strict=True))
            if socket
            else {}
        ),
    )


def ensure_wrk() -> str:
    """The path of ``wrk``, installed with apt-get (as root) when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk is missing: installing it with apt-get", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "wrk"]):
        subprocess.run(command, check=True, env=env, timeout=900, stdout=subprocess.DEVNULL)
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("apt-get installed wrk but it is not on PATH")
    return found


def run_wrk(
    url: str,
    *,
    connections: int,
    seconds: int,
    headers: dict[str, str] | None = None,
    body: Path | None = None,
    wrk: str = "wrk",
) -> WrkResult:
    """Keep ``connections`` requests in flight for ``seconds``; POST ``body`` when given, else GET."""
    command = [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if body is not None:
        command += ["-s", str(POST_SCRIPT), url, "--", str(body)]
    else:
        command.append(url)
    # wrk is the only child reaped while it runs, so the children's CPU time grows by wrk's alone.
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return replace(parse_wrk_output(done.stdout), cpu_seconds=cpu)
