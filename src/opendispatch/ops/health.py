"""Readiness: a short list of named async checks, each bounded by its own timeout.

``/readyz`` runs them all at once and is ready only when every one passes. The database and schema checks
are built here; another part of the service adds its own with ``ReadinessChecks.add`` (the Redis check,
when ``OPENDISPATCH_REDIS_URL`` is set). A check never raises out of ``run``: whatever goes wrong becomes
that check's failure and its reason.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import BaseModel
from redis.asyncio import Redis
from sqlalchemy import Connection, inspect
from sqlalchemy.exc import DBAPIError

from opendispatch.storage.database import Database
from opendispatch.storage.migrate import MIGRATIONS

log = logging.getLogger(__name__)


class NotReady(Exception):
    """A check's failure, with the reason an operator reads in the answer."""


@dataclass(frozen=True, slots=True)
class Check:
    """A named check: ``probe`` answers a short detail, or raises, within ``timeout_seconds``."""

    name: str
    probe: Callable[[], Awaitable[str]]
    timeout_seconds: float = 2.0


class CheckResult(BaseModel):
    """One check's outcome."""

    ok: bool
    detail: str


class Readiness(BaseModel):
    """Every check's outcome, and the names of those that failed."""

    status: Literal["ready", "unavailable"]
    checks: dict[str, CheckResult]
    failed: list[str]


class Liveness(BaseModel):
    """The process answers."""

    status: Literal["alive"] = "alive"


class ReadinessChecks:
    """The checks ``/readyz`` runs; a failure and the recovery after it are each logged once."""

    def __init__(self, checks: Iterable[Check] = ()) -> None:
        self.checks = list(checks)
        self._failing: set[str] = set()

    def add(self, check: Check) -> None:
        """Run ``check`` too from now on."""
        if any(existing.name == check.name for existing in self.checks):
            raise ValueError(f"a readiness check is already named {check.name!r}")
        self.checks.append(check)

    async def run(self) -> Readiness:
        """Run every check at once and gather their outcomes."""
        results = await asyncio.gather(*(_outcome(check) for check in self.checks))
        outcomes = dict(zip((check.name for check in self.checks), results, strict=True))
        failed = [name for name, result in outcomes.items() if not result.ok]
        for name in set(failed) - self._failing:
            log.warning("not ready: the %s check failed: %s", name, outcomes[name].detail)
        for name in self._failing - set(failed):
            log.info("the %s check passes again", name)
        self._failing = set(failed)
        return Readiness(status="unavailable" if failed else "ready", checks=outcomes, failed=failed)


async def _outcome(check: Check) -> CheckResult:
    try:
        async with asyncio.timeout(check.timeout_seconds):  # not wait_for: it can lose a cancellation
            detail = await check.probe()
    except TimeoutError:
        return CheckResult(ok=False, detail=f"no answer within {check.timeout_seconds:g} s")
    except Exception as exc:
        return CheckResult(ok=False, detail=_reason(exc))
    return CheckResult(ok=True, detail=detail)


def _reason(exc: Exception) -> str:
    if isinstance(exc, NotReady):
        return str(exc)
    # The driver's own message: SQLAlchemy's text adds the statement, which says nothing to an operator.
    reason = str(exc.orig) if isinstance(exc, DBAPIError) else f"{type(exc).__name__}: {exc}"
    return reason[:200]


# -- the database and its schema ------------------------------------------------------------------------


def redis_check(client: Redis) -> Check:
    """Redis answers (when one is configured: fleet-wide rate limits and login throttles live there)."""
    return Check("redis", functools.partial(_redis_answers, client))


async def _redis_answers(client: Redis) -> str:
    await client.ping()
    return "answers"


def database_checks(db: Database) -> list[Check]:
    """The database answers, and its schema is the one this version's migrations end at."""
    return [
        Check("database", functools.partial(_database_answers, db)),
        Check("schema", functools.partial(_schema_current, db)),
    ]


async def _database_answers(db: Database) -> str:
    await db.read(_read_catalog)
    return "answers"


def _read_catalog(conn: Connection) -> None:
    # SQLite answers SELECT 1 without reading its file; looking a table up in the catalog does read it.
    inspect(conn).has_table("alembic_version")


@dataclass(frozen=True, slots=True)
class Shipped:
    """The migrations this version ships: where they end, and every revision they know."""

    heads: frozenset[str]
    known: frozenset[str]


@functools.cache
def shipped_migrations() -> Shipped:
    """Read once: the files do not change while the process runs."""
    scripts = ScriptDirectory(str(MIGRATIONS))
    known = frozenset(script.revision for script in scripts.walk_revisions())
    return Shipped(frozenset(scripts.get_heads()), known)


def _current_revisions(conn: Connection) -> tuple[str, ...]:
    return MigrationContext.configure(conn).get_current_heads()


async def _schema_current(db: Database) -> str:
    current = frozenset(await db.read(_current_revisions))
    shipped = shipped_migrations()
    at = _list(current)
    if current == shipped.heads:
        return f"at {at}"
    if not current:
        raise NotReady("the database has no schema yet; run `opendispatch migrate`")
    if current - shipped.known:
        # Another process, of a newer version, migrated it: this one does not know that schema.
        raise NotReady(f"at {at}, which this version does not know (it ends at {_list(shipped.heads)})")
    raise NotReady(f"at {at}, behind {_list(shipped.heads)}; run `opendispatch migrate`")


def _list(revisions: frozenset[str]) -> str:
    return ", ".join(sorted(revisions))
