"""Every table of every domain, imported in one place so Alembic compares the whole schema."""

from __future__ import annotations

from opendispatch.accounts import models as accounts_models
from opendispatch.admin import models as admin_models
from opendispatch.calls import models as calls_models
from opendispatch.communities import models as communities_models
from opendispatch.events import models as events_models
from opendispatch.history import models as history_models
from opendispatch.maps import models as maps_models
from opendispatch.storage.metadata import metadata
from opendispatch.units import models as units_models
from opendispatch.web import models as web_models

__all__ = [
    "accounts_models",
    "admin_models",
    "calls_models",
    "communities_models",
    "events_models",
    "history_models",
    "maps_models",
    "metadata",
    "units_models",
    "web_models",
]
