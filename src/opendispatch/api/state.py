"""The application's shared state: built once by ``create_app``, reached by every request."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection

from opendispatch.api.gcra import Limiter
from opendispatch.clock import Clock
from opendispatch.communities.service import KeyCache
from opendispatch.settings import Settings
from opendispatch.storage.database import Database


@dataclass(slots=True)
class AppState:
    """Everything a request handler needs, built once by ``create_app``."""

    settings: Settings
    db: Database
    clock: Clock
    limiter: Limiter  # the API's per-key limits
    login_limiter: Limiter  # the console's login throttle
    keys: KeyCache


def app_state(connection: HTTPConnection) -> AppState:
    """The state ``create_app`` attached to the application."""
    state: AppState = connection.app.state.opendispatch
    return state
