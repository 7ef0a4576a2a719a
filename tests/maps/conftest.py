"""Fixtures of the map tests: a dispatcher of the `community` fixture's community."""

from __future__ import annotations

import pytest

from tests.support import Community, Provisioner
from tests.web.support import dispatcher


@pytest.fixture
def alice(provision: Provisioner, community: Community) -> dict[str, str]:
    """A dispatcher who may log in to the console."""
    return dispatcher(provision, community, "alice")
