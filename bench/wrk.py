"""The load generator: Debian's ``wrk`` (C, epoll), one thread so it keeps to one core, and its output.

wrk runs in its own process; the bench reads its report (``--latency`` adds the percentiles) and its CPU
time, so every row can show that the load generator was not the bottleneck. Against several server
processes, one wrk per process runs at once and their reports are combined.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
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


def wrk_command(
    url: str,
    *,
    connections: int,
    seconds: int,
    headers: dict[str, str] | None = None,
    body: Path | None = None,
    wrk: str = "wrk",
) -> list[str]:
    """The command line of one wrk run: one thread, ``connections`` in flight, POST ``body`` if given."""
    command = [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if body is not None:
        command += ["-s", str(POST_SCRIPT), url, "--", str(body)]
    else:
        command.append(url)
    return command


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
    return run_wrk_together(
        [url], connections=connections, seconds=seconds, headers=headers, body=body, wrk=wrk
    )[0]


def run_wrk_together(
    urls: list[str],
    *,
    connections: int,
    seconds: int,
    headers: dict[str, str] | None = None,
    body: Path | None = None,
    wrk: str = "wrk",
) -> list[WrkResult]:
    """One wrk per URL, all at once, each keeping ``connections`` in flight; their reports, in order.

    Each wrk's CPU time comes from its own rusage (wait4), so several can run side by side.
    """
    processes: list[subprocess.Popen[bytes]] = []
    with ExitStack() as files:
        try:
            outputs = []
            for url in urls:
                # A file, not a pipe: nothing to drain while waiting for the processes.
                output = files.enter_context(tempfile.TemporaryFile())
                outputs.append(output)
                command = wrk_command(
                    url, connections=connections, seconds=seconds, headers=headers, body=body, wrk=wrk
                )
                processes.append(subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT))
            deadline = time.monotonic() + seconds + 60
            results = []
            for process, output in zip(processes, outputs, strict=True):
                status, usage = _wait(process, deadline)
                output.seek(0)
                text = output.read().decode(errors="replace")
                if status != 0:
                    raise RuntimeError(f"wrk failed ({status}): {text}")
                cpu = usage.ru_utime + usage.ru_stime
                results.append(replace(parse_wrk_output(text), cpu_seconds=cpu))
            return results
        finally:
            for process in processes:
                if process.returncode is None:  # an error or Ctrl-C left it running
                    process.kill()
                    process.wait()


def _wait(process: subprocess.Popen[bytes], deadline: float) -> tuple[int, resource.struct_rusage]:
    """Reap ``process`` with its own rusage; kill it if it runs past ``deadline``."""
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
            return process.returncode, usage
        if time.monotonic() > deadline:
            raise RuntimeError(f"wrk {process.args!r} ran past its deadline")
        time.sleep(0.02)


def combine(results: list[WrkResult]) -> WrkResult:
    """Runs made side by side against several servers as one load.

    Requests and throughput add up. wrk reports percentiles, not its histogram, so the combined p50 and
    p99 are the largest of the runs': an upper bound (at least 99% of all requests took at most the
    largest p99), and equal to it when the servers answer alike.
    """
    if len(results) == 1:
        return results[0]
    socket_errors: dict[str, int] = {}
    for result in results:
        for kind, count in result.socket_errors.items():
            socket_errors[kind] = socket_errors.get(kind, 0) + count
    return WrkResult(
        requests=sum(result.requests for result in results),
        duration=max(result.duration for result in results),
        requests_per_second=sum(result.requests_per_second for result in results),
        p50=max(result.p50 for result in results),
        p99=max(result.p99 for result in results),
        non_2xx=sum(result.non_2xx for result in results),
        socket_errors=socket_errors,
        cpu_seconds=sum(result.cpu_seconds for result in results),
    )
