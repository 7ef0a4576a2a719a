"""The rate-limit policy: each operation's default per-key limit, and charging a caller against it.

The algorithm and its store are in ``gcra``; this module only decides what is counted against what.
"""

from __future__ import annotations

from opendispatch.api.gcra import Limiter
from opendispatch.clock import Clock
from opendispatch.communities.schemas import Principal
from opendispatch.ops.metrics import rate_limit_refused

# Per-key requests per minute. Create 911, create dispatch and get calls are the seed pages' figures (the
# current docs say 5 for get calls; the seed page wins); every other operation with a docs page has that
# page's figure. Where a page is silent (dispatch templates, custom dispatch calls, call history, and the
# rest), the figure is set for a busy community (location feeds report often). Operators override any of
# them per community with `opendispatch limits set`.
DEFAULT_LIMITS: dict[str, int] = {
    "create_911": 10,
    "create_dispatch": 20,
    "get_calls": 3,
    "remove_911": 10,
    "update_dispatch": 10,
    "attach_units": 10,
    "detach_units": 10,
    "add_note": 60,
    "close_calls": 20,
    "set_postal": 20,
    "set_primary": 10,
    "current_call": 10,
    "dispatch_templates": 30,  # the docs page states none
    "create_custom_dispatch": 20,  # the docs page states none: as create dispatch
    "call_history": 30,
    "get_units": 3,
    "unit_status": 30,
    "unit_panic": 20,
    "unit_locations": 12,
    "identifiers": 10,
    "account_units": 10,
    "kick_unit": 20,
    "identifier_group": 10,
    "links": 30,
    # The general operations, at the figures of their docs pages.
    "accounts": 10,
    "api_ids": 10,
    "verify_secret": 10,
    "info": 10,
    "version": 10,
    "link_codes": 30,
    "get_servers": 10,
    "set_servers": 10,
    "heartbeat": 10,
    "stations": 2,
    "callouts": 2,
    "street_sign_config": 2,
    "street_signs": 10,
    "get_pager_config": 2,
    "set_pager_config": 2,
    # The console's two v2 endpoints; a snapshot renders a PNG, so it costs more than a read.
    "snapshot": 30,
    "nearest_units": 60,
    # The map's, as their docs pages state.
    "set_postals": 10,
    "get_blips": 10,
    "create_blip": 30,
    "update_blip": 30,
    "delete_blips": 30,
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
