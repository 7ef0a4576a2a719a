"""Each units and identifiers operation's default per-key limit is the one its docs page states."""

from __future__ import annotations

import pytest

from opendispatch.api.limits import DEFAULT_LIMITS

# Operation: (requests per minute, the docs pages under sonoran-docs/v2/emergency/ that state it).
STATED = {
    "get_units": (3, "units/get-active-units"),
    "account_units": (10, "units/get-account-units"),
    "unit_status": (30, "units/set-unit-status"),
    "unit_panic": (20, "units/set-unit-panic"),
    "unit_locations": (12, "units/update-unit-locations"),
    "kick_unit": (20, "units/kick-unit"),
    "identifiers": (10, "identifiers/{get,create,update,delete}-identifier(s), set-selected-identifier"),
    "identifier_group": (10, "identifiers/set-identifier-group"),
}


@pytest.mark.parametrize("operation", list(STATED))
def test_the_default_limit_is_the_docs_pages(operation: str) -> None:
    per_minute, page = STATED[operation]
    assert DEFAULT_LIMITS[operation] == per_minute, page
