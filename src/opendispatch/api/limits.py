"""The rate-limit policy: each operation's default per-key limit, and charging a caller against it.

The algorithm and its store are in ``gcra``; this module only decides what is counted against what.
"""

from __future__ import annotations

from opendispatch.api.gcra import Limiter
from opendispatch.clock import Clock
from opendispatch.communities.schemas import Principal
from opendispatch.ops.metrics import rate_limit_refused

# Per-key requests per minute. The first three are the reference's; the units and identifier figures are
# their docs pages' (reference/sonoran-docs/v2/emergency/units, identifiers); the rest are set for a busy
# community. Operators override any of them per
# community with `opendispatch limits set`.
DEFAULT_LIMITS: dict[str, int] = {
    "create_911": 10,
    "create_dispatch": 20,
    "get_calls": 3,
    "remove_911": 60,
    "update_dispatch": 60,
    "attach_units": 60,
    "detach_units": 60,
    "add_note": 60,
    "close_calls": 60,
    "set_postal": 60,
    "set_primary": 60,
    "call_history": 30,
    "get_units": 3,
    "unit_status": 30,
    "unit_panic": 20,
    "unit_locations": 12,
    "identifiers": 10,
    "account_units": 10,
    "kick_unit": 20,
    "identifier_group": 10,
    "links": 60,
    # The console's two v2 endpoints; a snapshot renders a PNG, so it costs more than a read.
    "snapshot": 30,
    "nearest_units": 60,
}


class RateLimited(Exception):
    """The key has used up this endpoint's limit; ``retry_after`` whole seconds until it may retry."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


def limit_of(principal: Principal, endpoint: str) -> int:
    """The key's requests per minute on ``endpoint``: its community's override, or the default."""
    return principal.limits.get(endpoint, DEFAULT_LIMITS[endpoint])


async def charge(limiter: Limiter, clock: Clock, principal: Principal, endpoint: str, cost: int = 1) -> None:
    """Count ``cost`` requests of the key against ``endpoint``'s limit, all or none; RateLimited if over."""
    per_minute = limit_of(principal, endpoint)
    decision = await limiter.hit(principal.key_id, endpoint, per_minute, clock.monotonic(), cost)
    if not decision.allowed:
        rate_limit_refused(endpoint)
        raise RateLimited(decision.retry_after)
