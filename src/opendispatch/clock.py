"""Time as the server sees it, injectable so tests can move it without sleeping."""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the wall-clock time, and a monotonic time for measuring waits."""

    def now_ms(self) -> int:
        """Wall-clock time in epoch milliseconds: what is stored and shown."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back: rate limits and caches measure with it."""
        ...


class SystemClock:
    """The real wall clock."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def monotonic(self) -> float:
        return time.monotonic()


def iso_utc(epoch_ms: int) -> str:
    """Render epoch milliseconds the way the reference does: ``2026-04-08T21:31:00Z``."""
    return _iso_second(epoch_ms // 1000)


# Every call and event written in a second shows that second: formatted once (strftime was a tenth of
# a create's Python time on the writer thread).
@functools.lru_cache(maxsize=256)
def _iso_second(epoch_seconds: int) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
