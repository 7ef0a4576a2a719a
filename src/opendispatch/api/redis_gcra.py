"""GCRA over Redis: one Lua script per request, so every process of a fleet counts against the same state.

The algorithm is ``gcra``'s, in microseconds: Lua numbers are doubles, exact for integers only up to 2**53,
which is 104 days in nanoseconds but 285 years in microseconds (and a Unix time in microseconds fits).
"""

from __future__ import annotations

import logging
import time
from enum import Enum

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from opendispatch.api.gcra import Decision, LimiterUnavailable, RateLimiter, refusal

log = logging.getLogger(__name__)

_SECOND_US = 1_000_000

# KEYS[1]: the (key, endpoint) slot. ARGV: interval (µs), per-minute limit, cost, now (µs, or "" for the
# Redis server's own clock). Answers 0 when allowed, else the wait in µs. Atomic: Redis runs a script alone.
# Reading TIME before a write is allowed: Redis (5 and later) replicates a script's writes, not the script.
GCRA_SCRIPT = """
local interval = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
if now == nil then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000000 + tonumber(time[2])
end
local arrival = tonumber(redis.call('GET', KEYS[1])) or now
if arrival < now then
  arrival = now
end
local allowed_from = arrival + (cost - limit) * interval
if now < allowed_from then
  return allowed_from - now
end
arrival = arrival + cost * interval
-- Once the arrival time has passed, the state means no more than no state: it expires then, so memory
-- holds only the keys that are in the middle of a burst.
-- Formatted here: how Redis itself would turn a Lua number into an argument has changed between versions.
local ttl_ms = math.ceil((arrival - now) / 1000)
redis.call('SET', KEYS[1], string.format('%d', arrival), 'PX', string.format('%d', ttl_ms))
return 0
"""

# How long a limiter that found Redis unreachable answers without asking it again: requests during an
# outage neither pay a connection timeout each nor log a line each.
OUTAGE_RECHECK_SECONDS = 1.0


class WhenDown(Enum):
    """What a limiter does while Redis cannot be reached."""

    # Count in this process alone: each process enforces the limit, so a fleet of P lets through at most
    # P times it. For the API: its requests are the dispatch work itself, from authenticated, revocable keys.
    COUNT_LOCALLY = "count locally"
    # Refuse (LimiterUnavailable, a 503): for logins, where a guess let through is the risk.
    REFUSE = "refuse"


def connect(url: str) -> Redis:
    """A client of the Redis at ``url`` that fails fast: a limiter asks it on every request."""
    return Redis.from_url(
        url,
        socket_timeout=0.5,
        socket_connect_timeout=0.5,
        # One immediate retry: a pooled connection Redis closed (a restart) fails once, then reconnects.
        retry=Retry(NoBackoff(), 1),
    )


class RedisLimiter:
    """GCRA state in Redis, shared by every process given the same Redis and prefix."""

    def __init__(
        self, client: Redis, prefix: str, *, when_down: WhenDown, server_time: bool, what: str
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._script = client.register_script(GCRA_SCRIPT)
        self.when_down = when_down
        # The Redis server's clock, not the caller's: processes on several machines share no monotonic
        # clock, and their wall clocks differ by however well NTP keeps them (and jump when it steps them);
        # one clock read inside the script judges every process's request on one time line, at no extra
        # round trip. A backward step of it only delays requests (the stored arrival time wins). Tests
        # inject a clock they move by hand, and then their `now` is used instead.
        self.server_time = server_time
        self._what = what  # what it limits, for the log: "API requests", "console logins"
        self._local = RateLimiter()
        self._down_until = 0.0  # on time.monotonic(): outages are real time, whatever clock is injected
        self._down = False

    async def hit(self, key_id: int, endpoint: str, per_minute: int, now: float, cost: int = 1) -> Decision:
        """Count ``cost`` requests against ``per_minute`` in Redis (while it is down: see ``when_down``)."""
        if per_minute <= 0:
            return Decision(False, 60)
        if time.monotonic() < self._down_until:
            return await self._without_redis(key_id, endpoint, per_minute, now, cost)
        at = "" if self.server_time else str(round(now * _SECOND_US))
        args: list[int | str] = [60 * _SECOND_US // per_minute, per_minute, cost, at]
        try:
            wait = int(await self._script(keys=[f"{self._prefix}{key_id}:{endpoint}"], args=args))
        except (RedisError, OSError) as exc:
            self._outage(exc)
            return await self._without_redis(key_id, endpoint, per_minute, now, cost)
        if self._down:
            self._down = False
            log.warning("Redis answers again: %s are counted in Redis again", self._what)
        return Decision(True) if wait == 0 else refusal(wait, _SECOND_US)

    def _outage(self, exc: Exception) -> None:
        self._down_until = time.monotonic() + OUTAGE_RECHECK_SECONDS
        if not self._down:  # once per outage, not once per request
            self._down = True
            meanwhile = (
                "counted by each process on its own"
                if self.when_down is WhenDown.COUNT_LOCALLY
                else "refused with 503"
            )
            log.error("Redis is unreachable (%s): until it answers, %s are %s", exc, self._what, meanwhile)

    async def _without_redis(
        self, key_id: int, endpoint: str, per_minute: int, now: float, cost: int
    ) -> Decision:
        if self.when_down is WhenDown.REFUSE:
            raise LimiterUnavailable(max(1, round(OUTAGE_RECHECK_SECONDS)))
        return await self._local.hit(key_id, endpoint, per_minute, now, cost)
