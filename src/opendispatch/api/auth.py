"""Who is calling: every door turns its credentials into one ``Caller``.

v2 sends the community API key as ``Authorization: Bearer``; the console sends its session cookie (and,
for a change, the session's CSRF token). Either way a route gets the same ``Caller``: the community every
query is scoped to, the actor the history names, and the database and clock the request works with.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.security import HTTPBearer
from sqlalchemy.exc import DBAPIError

from opendispatch.api.limits import DEFAULT_LIMITS, charge
from opendispatch.api.state import AppState, app_state
from opendispatch.clock import Clock
from opendispatch.communities.schemas import Principal
from opendispatch.communities.service import TOUCH_EVERY_MS, authenticate, touch_api_key
from opendispatch.errors import Forbidden, NotAuthenticated
from opendispatch.history.schemas import Actor
from opendispatch.storage.database import Database, StorageUnavailable
from opendispatch.web.schemas import ConsoleUser
from opendispatch.web.sessions import session_user

T = TypeVar("T")
log = logging.getLogger(__name__)

API_NOT_ENABLED = "The API is not enabled for this community."
SESSION_COOKIE = "od_console"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller: one per request, whatever door it came through."""

    community_id: str
    actor: Actor
    db: Database
    clock: Clock
    key: Principal | None = None  # the API key behind the request
    session: ConsoleUser | None = None  # or the console session

    def now(self) -> int:
        """The wall-clock time a change is stamped with."""
        return self.clock.now_ms()

    async def read(self, work: Callable[..., T], /, **kwargs: Any) -> T:
        """Run a read of the caller's community in a snapshot."""
        return await self.db.read(work, community_id=self.community_id, **kwargs)

    async def write(self, work: Callable[..., T], /, **kwargs: Any) -> T:
        """Run a change of the caller's community; return once it is committed."""
        return await self.db.write(work, community_id=self.community_id, **kwargs)


async def lookup_key(state: AppState, api_key: str) -> Principal | None:
    """The principal behind a key, from the short-lived cache or the database."""
    now = state.clock.monotonic()
    found, principal = state.keys.get(api_key, now)
    if not found:
        principal = await state.db.read(authenticate, api_key)
        state.keys.put(api_key, principal, now)
        # Only after a database lookup, and at most once a minute per key: "last used" for the operator
        # costs one small write a minute, never one per request.
        wall = state.clock.now_ms()
        if principal is not None and (
            principal.last_used_at is None or principal.last_used_at <= wall - TOUCH_EVERY_MS
        ):
            try:
                await state.db.write(touch_api_key, key_id=principal.key_id, now=wall)
            except (StorageUnavailable, DBAPIError) as exc:
                # A read must not fail for want of its bookkeeping; the next minute tries again.
                log.warning("could not record the use of key#%s: %s", principal.key_id, exc)
    return principal


def key_caller(state: AppState, principal: Principal) -> Caller:
    """The caller behind a checked API key."""
    return Caller(principal.community_id, principal.actor, state.db, state.clock, key=principal)


async def bearer_key(request: Request) -> Principal:
    """The principal of ``Authorization: Bearer <key>``, or a 401."""
    scheme, _, api_key = request.headers.get("authorization", "").partition(" ")
    api_key = api_key.strip()
    if scheme.lower() != "bearer" or not api_key:
        raise NotAuthenticated("Send the community API key as 'Authorization: Bearer <key>'.")
    principal = await lookup_key(app_state(request), api_key)
    if principal is None:
        raise NotAuthenticated("The API key is unknown or has been revoked.")
    return principal


class ApiCaller(HTTPBearer):
    """The caller of a v2 operation: an API key, charged against ``operation``'s per-key limit if named.

    With ``console=True`` a dispatcher's console session may call it too (no key sent, the session cookie
    instead): the console's buttons go through the very routes the API documents. Being an
    ``HTTPBearer`` keeps the scheme in the OpenAPI document; being one dependency (not a chain) keeps it
    cheap.
    """

    def __init__(self, operation: str | None = None, *, console: bool = False) -> None:
        super().__init__(auto_error=False, scheme_name="bearerAuth", description="The community's API key.")
        if operation is not None and operation not in DEFAULT_LIMITS:  # fail at import, not on a request
            raise KeyError(operation)
        self.operation = operation
        self.console = console

    async def __call__(self, request: Request) -> Caller:  # type: ignore[override]
        if self.console and "authorization" not in request.headers and SESSION_COOKIE in request.cookies:
            # The console's buttons: a dispatcher's (a member's session reaches only its own page).
            return require_role(await console_caller(request), "dispatcher")
        principal = await bearer_key(request)
        if not principal.api_enabled:
            raise Forbidden(API_NOT_ENABLED)
        state = app_state(request)
        if self.operation is not None:
            await charge(state.limiter, state.clock, principal, self.operation)
        return key_caller(state, principal)


class ConsoleSession:
    """The caller behind a console session cookie; a change must come from the console's own pages.

    With ``role``, the session's account must hold it (admin, dispatcher or member): 403 otherwise.
    """

    def __init__(self, role: str | None = None) -> None:
        self.role = role

    async def __call__(self, request: Request) -> Caller:
        caller = await console_caller(request)
        return caller if self.role is None else require_role(caller, self.role)


def require_role(caller: Caller, role: str) -> Caller:
    """The console caller, if its account holds ``role``; a 403 otherwise."""
    assert caller.session is not None
    if role not in caller.session.roles:
        raise Forbidden(f"This needs the {role} role.")
    return caller


async def console_caller(request: Request) -> Caller:
    """The dispatcher behind the session cookie as a caller, or a 401; a change also needs CSRF proof."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise NotAuthenticated("Log in to the console first.")
    state = app_state(request)
    user = await state.db.read(session_user, token=token, now=state.clock.now_ms())
    if user is None:
        raise NotAuthenticated("The console session has ended; log in again.")
    if request.method not in _SAFE_METHODS:
        require_same_origin(request)
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), user.csrf_token.encode()):
            raise Forbidden(f"A console change needs the session's {CSRF_HEADER} header.")
    return Caller(user.community_id, user.actor, state.db, state.clock, session=user)


def require_same_origin(request: Request) -> None:
    """Refuse a change sent from a page on another site, before any token is looked at."""
    # Browsers send Origin with every state-changing request.
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        raise Forbidden("The console accepts changes only from its own pages.")
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise Forbidden("The console accepts changes only from its own pages.")


def api_caller(operation: str | None = None, *, console: bool = False) -> Any:
    """The dependency of a v2 route: its caller, charged against ``operation`` (see ``ApiCaller``)."""
    return Depends(ApiCaller(operation, console=console))


def console_session(role: str | None = None) -> Any:
    """The dependency of a console route: the account behind the session cookie (holding ``role``)."""
    return Depends(ConsoleSession(role))
