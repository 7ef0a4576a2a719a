"""Server processes the bench starts on 127.0.0.1: readiness, peak memory, CPU time, and a sure stop.

Every process started here is stopped when its ``with`` block ends, and again (by its id) when the bench
exits any other way, so a run leaves nothing behind.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

HOST = "127.0.0.1"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PF_KTHREAD = 0x00200000  # a kernel thread: journal commits, block I/O, on behalf of whoever wrote
_running: set[Service] = set()


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


class Service:
    """A server process listening on ``HOST:port``, its output in ``log``."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        port: int,
        log: Path,
        env: dict[str, str],
        stop_signal: signal.Signals = signal.SIGTERM,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.port = port
        self.url = f"http://{HOST}:{port}"
        self.log = log
        self.env = env
        self.stop_signal = stop_signal
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Service:
        return self.start()

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    def start(self, ready_within: float = 30.0) -> Service:
        """Start the process and return once it accepts connections."""
        return self.launch().wait_ready(ready_within)

    def launch(self) -> Service:
        """Start the process without waiting for it (``wait_ready`` does), so several can start at once."""
        with self.log.open("ab") as log:
            # A session of its own: a Ctrl-C at the terminal reaches the bench, which then stops it.
            self.process = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
            )
        _running.add(self)
        return self

    def wait_ready(self, ready_within: float = 30.0) -> Service:
        """Return once the launched process accepts connections; stop it if it ends or is late."""
        assert self.process is not None, "not launched"
        deadline = time.monotonic() + ready_within
        while True:
            if self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with socket.create_connection((HOST, self.port), timeout=1):
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"{self.name} not ready in {ready_within}s:\n{self.log_tail()}"
                    ) from None
                time.sleep(0.05)

    def stop(self, grace: float = 15.0) -> None:
        """``stop_signal`` (SIGTERM unless set), then SIGKILL after ``grace`` seconds; idempotent."""
        _running.discard(self)
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(self.stop_signal)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(grace)

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    def peak_rss(self) -> int:
        """Peak resident memory (VmHWM) since the process started or ``reset_peak_rss``, in bytes."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmHWM in /proc status")

    def reset_peak_rss(self) -> None:
        """Start the peak over from the current resident memory (Linux 4.0+, the process's owner)."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")

    def cpu_seconds(self) -> float:
        """User plus system CPU time of the process so far, all threads."""
        fields = _stat_fields(self.pid)
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def running(services: Sequence[Service]) -> Iterator[list[Service]]:
    """Start ``services`` at once (each takes seconds to import and migrate), stop them all at the end."""
    try:
        for service in services:
            service.launch()
        yield [service.wait_ready() for service in services]
    finally:
        for service in services:
            service.stop()


def _stat_fields(pid: int | str) -> list[str]:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2 :].split()  # after the command name, which may hold spaces


def others_cpu_seconds(exclude: set[int], children_of: set[int] | None = None) -> float:
    """CPU time of every user-space process but ``exclude`` (and their reaped children), in seconds.

    Processes whose parent is in ``children_of`` are left out too: PostgreSQL's backends, which come and
    go with connections. Sampled before and after a measured run, it shows whether anything else competed
    for the CPUs.
    """
    parents = children_of or set()
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) in exclude:
            continue
        try:
            fields = _stat_fields(entry.name)
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[6]) & _PF_KTHREAD or int(fields[1]) in parents:
            continue
        total += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return total / _CLOCK_TICKS


def family_cpu_seconds(pid: int) -> float:
    """CPU time of a process, its live children and the children it has reaped, in seconds.

    A child that ends moves its time into its parent's reaped-children fields, so the sum only grows.
    """
    total = sum(int(value) for value in _stat_fields(pid)[11:15])
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat_fields(entry.name)
        except OSError:
            continue
        if int(fields[1]) == pid:
            total += sum(int(value) for value in fields[11:15])
    return total / _CLOCK_TICKS


def stop_all() -> None:
    """Stop every process still running (at exit, on SIGTERM)."""
    for service in list(_running):
        service.stop(grace=5.0)


def _terminate(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def install_cleanup() -> None:
    """Stop our processes however the bench ends: normally, by exception, Ctrl-C, SIGTERM or SIGHUP."""
    atexit.register(stop_all)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _terminate)
