"""Dispatcher logins: passwords hashed with argon2id, sessions stored only as a hash, and the login flow
with its throttle.

Password hashing is CPU work: ``log_in`` runs it on ``PASSWORD_THREAD``, off the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, delete, insert, or_, select, update

from opendispatch.accounts.schemas import ROLES
from opendispatch.api.gcra import Limiter
from opendispatch.clock import Clock, iso_utc
from opendispatch.communities.models import communities
from opendispatch.communities.service import list_servers
from opendispatch.errors import InvalidInput, NotAuthenticated, NotFound
from opendispatch.storage.database import Database
from opendispatch.units.models import accounts
from opendispatch.web.models import console_sessions
from opendispatch.web.schemas import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    ConsoleUser,
    Dispatcher,
    Login,
    LoginOptions,
    SessionInfo,
)

SESSION_MS = 12 * 60 * 60 * 1000  # a dispatcher's shift; then they log in again


# -- passwords -------------------------------------------------------------------------------------------

# argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): the library's default of 64 MiB
# per check would take the server past its 150 MB memory budget with a single login. Hashes made with
# other parameters still verify, and are rehashed with these at the next login.
_hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
# Verified against when the username is unknown, so a wrong username costs the same time as a wrong
# password and timing tells nobody which usernames exist. The hash of a random password thrown away,
# with the parameters above; written out so importing costs no hashing.
_DUMMY_HASH = (
    "$argon2id$v=19$m=19456,t=2,p=1$CRUH0rAe4WAjpEVnzt+wPw$Eqe39iam5WyMwYxrcUA/gLj8URnOrB7X3q+k9R0H6WM"
)
# Every check runs on this one thread: one at a time, and the memory each check frees stays in one
# allocator arena for the next, instead of one arena per pool thread (6 concurrent logins on the shared
# pool took the server from 92 MB to 172 MB; on one thread it stays near 113 MB).
PASSWORD_THREAD = ThreadPoolExecutor(1, thread_name_prefix="opendispatch-password")


def check_password_rules(password: str) -> None:
    """Raise InvalidInput unless the password is long enough (and not absurdly long)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"A dispatcher password needs at least {MIN_PASSWORD_LENGTH} characters.",
            {"password": f"at least {MIN_PASSWORD_LENGTH} characters"},
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            f"A password is at most {MAX_PASSWORD_LENGTH} characters.",
            {"password": f"at most {MAX_PASSWORD_LENGTH} characters"},
        )


def hash_password(password: str) -> str:
    """An argon2id hash of a password (CPU work: ~30 ms); check the rules first for a new one."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> tuple[bool, bool]:
    """(matches, needs rehash); an account without a password never matches, in the same time."""
    try:
        _hasher.verify(password_hash or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False, False
    if password_hash is None:
        return False, False
    return True, _hasher.check_needs_rehash(password_hash)


def set_password(conn: Connection, *, community_id: str, username: str, password_hash: str) -> str:
    """Set an account's console password; its open sessions end. Returns its uuid.

    An account holding neither the admin nor the dispatcher role becomes a dispatcher, as every account
    given a password did before roles existed.
    """
    row = conn.execute(
        select(accounts.c.account_uuid, accounts.c.is_admin, accounts.c.is_dispatcher).where(
            accounts.c.community_id == community_id, accounts.c.username == username.strip()
        )
    ).first()
    if row is None:
        raise NotFound(f"Account {username!r} does not exist in this community.")
    account_uuid = row.account_uuid
    conn.execute(
        update(accounts)
        .where(accounts.c.community_id == community_id, accounts.c.account_uuid == account_uuid)
        .values(password_hash=password_hash, is_dispatcher=row.is_dispatcher or not row.is_admin)
    )
    conn.execute(delete(console_sessions).where(console_sessions.c.account_uuid == account_uuid))
    return str(account_uuid)


# -- sessions --------------------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def csrf_token(token: str) -> str:
    """The CSRF token bound to a session: derived from its cookie, which pages can never read."""
    return hmac.new(token.encode("utf-8"), b"opendispatch-console-csrf", hashlib.sha256).hexdigest()


def find_dispatcher(conn: Connection, *, community_id: str, username: str) -> Dispatcher | None:
    """The account that may log in with this username, or None: unknown, no password set, no role at all,
    or the account or its community disabled. Each route then checks the role it needs (a member reaches
    only its own page)."""
    row = conn.execute(
        select(
            accounts.c.account_uuid,
            accounts.c.community_id,
            accounts.c.username,
            accounts.c.community_user_id,
            accounts.c.password_hash,
        )
        .join(communities, communities.c.community_id == accounts.c.community_id)
        .where(
            accounts.c.community_id == community_id,
            accounts.c.username == username.strip(),
            accounts.c.disabled_at.is_(None),
            communities.c.disabled_at.is_(None),
            or_(accounts.c.is_admin, accounts.c.is_dispatcher, accounts.c.is_member),
        )
    ).first()
    if row is None or row.password_hash is None:
        return None
    return Dispatcher(
        account_uuid=row.account_uuid,
        community_id=row.community_id,
        username=row.username,
        community_user_id=row.community_user_id,
        password_hash=row.password_hash,
    )


def open_session(
    conn: Connection, *, dispatcher: Dispatcher, now: int, new_hash: str | None = None
) -> tuple[str, int]:
    """Start a session for a dispatcher whose password checked out; returns (cookie token, expiry).

    The dispatcher's expired sessions are dropped, and ``new_hash`` (a stronger hash of the same
    password) replaces the stored one.
    """
    token = secrets.token_urlsafe(32)
    expires_at = now + SESSION_MS
    conn.execute(
        delete(console_sessions).where(
            console_sessions.c.account_uuid == dispatcher.account_uuid, console_sessions.c.expires_at <= now
        )
    )
    conn.execute(
        insert(console_sessions).values(
            token_hash=_token_hash(token),
            community_id=dispatcher.community_id,
            account_uuid=dispatcher.account_uuid,
            created_at=now,
            expires_at=expires_at,
        )
    )
    if new_hash is not None:
        conn.execute(
            update(accounts)
            .where(accounts.c.account_uuid == dispatcher.account_uuid)
            .values(password_hash=new_hash)
        )
    return token, expires_at


def session_user(conn: Connection, *, token: str, now: int) -> ConsoleUser | None:
    """The dispatcher behind a session token, or None when it is unknown, ended or expired."""
    digest = _token_hash(token)
    row = conn.execute(
        select(
            console_sessions.c.token_hash,
            console_sessions.c.community_id,
            console_sessions.c.expires_at,
            accounts.c.account_uuid,
            accounts.c.username,
            accounts.c.community_user_id,
            accounts.c.password_hash,
            accounts.c.disabled_at,
            *(getattr(accounts.c, f"is_{role}") for role in ROLES),
        )
        .join(accounts, accounts.c.account_uuid == console_sessions.c.account_uuid)
        .where(console_sessions.c.token_hash == digest)
    ).first()
    # Disabling ends an account's sessions; the check here covers one opened in the same instant.
    if row is None or row.expires_at <= now or row.password_hash is None or row.disabled_at is not None:
        return None
    if not hmac.compare_digest(row.token_hash, digest):
        return None
    return ConsoleUser(
        community_id=row.community_id,
        account_uuid=row.account_uuid,
        username=row.username,
        community_user_id=row.community_user_id,
        token_hash=row.token_hash,
        csrf_token=csrf_token(token),
        expires_at=row.expires_at,
        roles=frozenset(role for role in ROLES if getattr(row, f"is_{role}")),
    )


def close_session(conn: Connection, *, token_hash: str) -> None:
    """End a session (logout)."""
    conn.execute(delete(console_sessions).where(console_sessions.c.token_hash == token_hash))


def session_info(conn: Connection, *, user: ConsoleUser) -> SessionInfo:
    """Who is logged in and the servers of their community."""
    name = conn.execute(
        select(communities.c.name).where(communities.c.community_id == user.community_id)
    ).scalar_one()
    return SessionInfo(
        username=user.username,
        communityId=user.community_id,
        communityName=name,
        communityUserId=user.community_user_id,
        csrfToken=user.csrf_token,
        expires=iso_utc(user.expires_at),
        servers=list_servers(conn, user.community_id),
        roles=sorted(user.roles),
        accountUuid=user.account_uuid,
    )


# -- logging in ------------------------------------------------------------------------------------------

LOGIN_PER_MINUTE_PER_USER = 10
LOGIN_PER_MINUTE_PER_ADDRESS = 60


def login_options(conn: Connection) -> LoginOptions:
    """Whether the login form needs a community id: not while the server holds a single community."""
    rows = conn.execute(select(communities.c.community_id, communities.c.name).limit(2)).all()
    if len(rows) == 1:
        return LoginOptions(
            communityId=rows[0].community_id, communityName=rows[0].name, askCommunityId=False
        )
    return LoginOptions(communityId=None, communityName=None, askCommunityId=True)


def login_community(conn: Connection, community_id: str | None) -> str:
    """The community a login is for: the one named, or the server's only community."""
    if community_id is not None:
        return community_id
    sole = login_options(conn).communityId
    if sole is None:
        raise InvalidInput(
            "This server holds several communities: give your community id.",
            {"communityId": "required when the server holds several communities"},
        )
    return sole


class LoginThrottle:
    """Slows password guessing: a few tries a minute per username from one client address, more per
    address whatever the username.

    Never per username alone: then anyone could lock a dispatcher out by guessing wrong from elsewhere.
    """

    def __init__(self, limiter: Limiter, clock: Clock) -> None:
        self.clock = clock
        # Never switched off with the API's limits: it guards passwords, not throughput. Shared by the
        # fleet when create_app chose Redis, so a guesser gains nothing by spreading tries over processes.
        self._limiter = limiter

    async def check(self, community_id: str | None, username: str, address: str) -> int:
        """Count one try; the whole seconds to wait when over the limit, else 0.

        LimiterUnavailable when the shared count cannot be reached: the try is refused, not let through.
        """
        now = self.clock.monotonic()
        for slot, per_minute in (
            (f"user:{community_id}:{username.strip().lower()}:{address}", LOGIN_PER_MINUTE_PER_USER),
            (f"address:{address}", LOGIN_PER_MINUTE_PER_ADDRESS),
        ):
            decision = await self._limiter.hit(0, slot, per_minute, now)
            if not decision.allowed:
                return decision.retry_after
        return 0


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session just opened: the cookie token (given to the browser only), its expiry, and who it is."""

    token: str
    expires_at: int
    info: SessionInfo


async def log_in(db: Database, clock: Clock, login: Login) -> NewSession:
    """Check a dispatcher's password (off the event loop) and open a session; a 401 names no detail."""
    community_id = await db.read(login_community, login.communityId)
    dispatcher = await db.read(find_dispatcher, community_id=community_id, username=login.username)
    loop = asyncio.get_running_loop()
    matches, rehash = await loop.run_in_executor(
        PASSWORD_THREAD, verify_password, dispatcher.password_hash if dispatcher else None, login.password
    )
    if dispatcher is None or not matches:
        raise NotAuthenticated("Wrong community id, username or password.")
    new_hash = await loop.run_in_executor(PASSWORD_THREAD, hash_password, login.password) if rehash else None
    now = clock.now_ms()
    token, expires_at = await db.write(open_session, dispatcher=dispatcher, now=now, new_hash=new_hash)
    user = await db.read(session_user, token=token, now=now)
    assert user is not None  # just written
    return NewSession(token, expires_at, await db.read(session_info, user=user))


def prune_sessions(conn: Connection, *, now: int) -> int:
    """Delete the console sessions that have ended (a session past its end is refused anyway)."""
    return conn.execute(delete(console_sessions).where(console_sessions.c.expires_at <= now)).rowcount
