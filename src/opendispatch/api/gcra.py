"""GCRA, the smooth form of a token bucket: the algorithm, the interface every store of it offers, and its
in-process store (``redis_gcra`` is the store a fleet of processes shares).

A limit of N per minute lets a key burst N requests, then one every 60/N seconds. The wait it reports is
the real one, so a client that sleeps ``Retry-After`` seconds gets through; the official SDKs cap their
sleep at 10 s and retry twice, which a fixed window of a minute would defeat. ``limits`` (fixed, moving and
sliding windows) and ``pyrate-limiter`` (sliding log) offer no GCRA, and GCRA is a handful of lines.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a request may go ahead, and if not, how many whole seconds until it may."""

    allowed: bool
    retry_after: int = 0


class LimiterUnavailable(Exception):
    """The shared store cannot count right now, and this limiter refuses rather than guess."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


class Limiter(Protocol):
    """A GCRA store: the in-process one, or Redis for a fleet; ``create_app`` picks one."""

    async def hit(self, key_id: int, endpoint: str, per_minute: int, now: float, cost: int = 1) -> Decision:
        """Count ``cost`` requests at ``now`` (seconds) against ``per_minute``: all of them or none."""
        ...


_SECOND = 1_000_000_000


def refusal(wait: int, unit: int) -> Decision:
    """The refusal for a wait of ``wait`` (in units of ``unit`` per second), in honest whole seconds."""
    # Rounded up, so a client that waits Retry-After gets through; Retry-After is whole seconds (so at
    # least one) and never more than the window.
    return Decision(False, min(60, max(1, -(-wait // unit))))


class RateLimiter:
    """In-process GCRA state: one theoretical arrival time per (key, endpoint)."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        # Nanoseconds as integers: float sums drift, and a burst of N must get exactly N through.
        self._arrivals: dict[tuple[int, str], int] = {}
        self._lock = threading.Lock()

    async def hit(self, key_id: int, endpoint: str, per_minute: int, now: float, cost: int = 1) -> Decision:
        """Count ``cost`` requests at ``now`` (seconds) against ``per_minute``: all of them or none.

        A cost above ``per_minute`` can never be allowed; callers refuse such a request before asking.
        """
        if not self.enabled:
            return Decision(True)
        if per_minute <= 0:
            return Decision(False, 60)
        interval = 60 * _SECOND // per_minute
        at = round(now * _SECOND)
        slot = (key_id, endpoint)
        with self._lock:
            arrival = max(self._arrivals.get(slot, at), at)
            allowed_from = arrival + (cost - per_minute) * interval
            if at < allowed_from:
                return refusal(allowed_from - at, _SECOND)
            self._arrivals[slot] = arrival + cost * interval
            if len(self._arrivals) > 100_000:
                self._forget_idle(at)
        return Decision(True)

    def _forget_idle(self, at: int) -> None:
        for slot in [slot for slot, arrival in self._arrivals.items() if arrival <= at]:
            del self._arrivals[slot]
