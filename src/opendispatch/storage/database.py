"""The database handle: units of work run off the event loop, and writes commit together.

No database call runs on the event loop: a lock held by another process may delay writes, never the
server's other work (reads, the API docs, the live streams).

One writer thread owns the write connection and runs the queued units of work as a batch inside one
transaction, then commits once: one commit (one fsync) covers every request in the batch (group commit),
and requests arriving meanwhile form the next batch, which may wait a few milliseconds for the clients
the last commit answered (``write_gather_seconds``), so the busier the server, the more each commit
carries. A batch runs first without savepoints; if a unit of work fails, the batch (nothing of it stored)
runs again with a savepoint per unit, so the failure rolls back alone. Reads run on reader threads, each
with its own connection.

- **SQLite** allows one writer at a time, and WAL readers never wait for it.
- **PostgreSQL** takes row locks: a create holds its community's call-id row and its server's event
  number row until the commit, so one transaction per request would make a community's creates wait for
  each other's commits (a fifth of SQLite's rate, measured). Batched, the locks are taken once per commit.
  Batches of two processes may lock two communities in opposite orders; PostgreSQL then aborts one, and
  that batch is run again (nothing of it was stored). A batch runs in psycopg's pipeline mode: a
  statement is sent without waiting for the one before, and the writer waits only where a unit of work
  reads a result; NOTIFYs go in one statement per batch.
- **Counters** (call ids, event numbers): a batch without savepoints takes each counter's row once and
  counts on in memory, writing the row before the commit (storage.counters): on PostgreSQL a batch then
  waits for one round trip, not one per create, and on SQLite a create runs three statements, not five.

A request is answered only after the commit that holds its change, so a 2xx always means stored; one
failing request rolls back alone. A database that is down or full answers ``StorageUnavailable``.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import psycopg
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from opendispatch.storage import counters, statements

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")
Work = Callable[[Connection], Any]
Job = tuple[Work, "asyncio.Future[Any]"]
# A batch's result: each job's (succeeded, result or error), and the commit topics with their keys.
BatchResult = tuple[list[tuple[bool, Any]], dict[str, set[Any]]]


class StorageUnavailable(Exception):
    """The database refused a commit (disk full, locked too long, down); nothing of the request was stored."""


# What a driver raises itself, past SQLAlchemy (the prepared statements run on its cursor), when the
# database cannot store or cannot be reached: a disk full, an I/O error, a lock held too long, a lost
# connection. Answered as StorageUnavailable, like SQLAlchemy's own OperationalError.
_DRIVER_OUTAGES = (sqlite3.OperationalError, psycopg.OperationalError)


def _as_unavailable(exc: BaseException) -> BaseException:
    """``exc`` as StorageUnavailable if it says the database cannot store or be reached, else itself."""
    if isinstance(exc, OperationalError):
        reason = str(exc.orig)
    elif isinstance(exc, _DRIVER_OUTAGES):
        reason = str(exc)
    else:
        return exc
    unavailable = StorageUnavailable(reason)
    unavailable.__cause__ = exc
    return unavailable


_TOPICS = "opendispatch.commit_topics"
_NOTIFIES = "opendispatch.notifies"
_PIPELINE = "opendispatch.pipeline"


Listener = Callable[[set[Any]], None]


def announce(connection: Connection, topic: str, key: Any = None) -> None:
    """Have the listeners of ``topic`` called once the current transaction has committed.

    Listeners get the set of ``key``s announced (say, which servers have new events).
    """
    connection.info.setdefault(_TOPICS, {}).setdefault(topic, set()).add(key)


def notify(connection: Connection, channel: str, payload: str) -> None:
    """On PostgreSQL, have ``payload`` sent on ``channel`` to every listening process at the commit.

    Collected and sent in one statement per transaction (a batch of many requests), each distinct
    payload once: PostgreSQL folds a transaction's duplicates anyway. Elsewhere it does nothing.
    """
    if connection.dialect.name == "postgresql":
        connection.info.setdefault(_NOTIFIES, set()).add((channel, payload))


def _send_notifies(driver: Any, notifies: set[tuple[str, str]]) -> None:
    """Queue one statement that sends every collected notification (at the commit, by PostgreSQL)."""
    if notifies:
        channels, payloads = zip(*sorted(notifies), strict=True)
        driver.execute(
            "SELECT pg_notify(c, p) FROM unnest(%s::text[], %s::text[]) AS n(c, p)",
            [list(channels), list(payloads)],
        )


class _Pipelined:
    """The write connection's open pipeline, and whether any statement of the batch failed in it."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline
        self.failed = False


class _Replay(Exception):
    """A statement failed inside a pipelined batch: run the batch again, one request at a time."""


class _RequestFailed(Exception):
    """A request of a batch run without savepoints failed: run the batch again with them."""


def _bind(work: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Callable[[Connection], T]:
    return lambda connection: work(connection, *args, **kwargs)


def create_database_engine(url: str, *, pool_size: int = 5, synchronous: str = "FULL") -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys, a busy timeout and savepoint-safe transactions."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # Each database thread keeps its own connection (see Database): no overflow, and no ping on every
        # checkout; a connection that broke is replaced on its thread's next unit of work.
        engine = create_engine(url, pool_size=pool_size, max_overflow=0)
        _deferred_rows_first(engine)

        @event.listens_for(engine, "after_cursor_execute")
        def _wait_in_pipeline(connection: Connection, *_args: Any) -> None:
            # SQLAlchemy reads a statement's result (its columns, its row count) right after executing
            # it; in a pipeline that result must first be waited for.
            pipelined: _Pipelined | None = connection.info.get(_PIPELINE)
            if pipelined is not None:
                try:
                    pipelined.pipeline.sync()
                except Exception:
                    pipelined.failed = True  # even if the unit of work catches it: the batch runs again
                    raise

        return engine
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size)
    _deferred_rows_first(engine)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own implicit BEGIN breaks SAVEPOINT; we issue BEGIN ourselves below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # IMMEDIATE takes the write lock up front, so a writer never fails half-way on SQLITE_BUSY.
        immediate = connection.get_execution_options().get("write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _deferred_rows_first(engine: Engine) -> None:
    """Run the rows a batch held back (``Prepared.defer``) before any statement that might read them,
    and write its held counters before a savepoint (storage.counters)."""

    @event.listens_for(engine, "before_cursor_execute")
    def _run_deferred(connection: Connection, *_args: Any) -> None:
        if connection.info.get(statements.DEFERRED):
            statements.run_deferred(connection)

    @event.listens_for(engine, "savepoint")
    def _store_counters(connection: Connection, _name: str) -> None:
        counters.before_savepoint(connection)


READER_THREADS = 4
DEADLOCK_RETRIES = 3
# After a request failed in a batch without savepoints, how many batches run with them.
SAVEPOINT_BATCHES = 16


class Database:
    """Runs units of work off the event loop: ``write`` returns once committed, ``read`` in a snapshot."""

    def __init__(
        self,
        url: str,
        *,
        write_batch_size: int = 256,
        write_gather_seconds: float = 0.0,
        pool_size: int = 10,
    ) -> None:
        self.url = url
        self.is_sqlite = make_url(url).get_backend_name() == "sqlite"
        # The writer's connection and one per reader thread.
        readers = READER_THREADS if self.is_sqlite else pool_size
        connections = readers + 1
        self.engine = create_database_engine(url, pool_size=connections)
        self.write_batch_size = write_batch_size
        self.write_gather_seconds = write_gather_seconds
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[Job] = []
        self._batch_scheduled = False
        self._committing = False
        # Gathering the next batch (see _next_batch): how many jobs it waits for, until when, and its timer.
        self._gather_count = 0
        self._gather_until = 0.0
        self._gather_timer: asyncio.TimerHandle | None = None
        self._workers = ThreadPoolExecutor(readers, thread_name_prefix="opendispatch-db")
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="opendispatch-writer")
        self._local = threading.local()  # each thread's own connection (SQLite)
        self._connections: list[Connection] = []
        self._connections_lock = threading.Lock()
        self._commit_listeners: dict[str, list[Listener]] = {}
        self._savepoint_batches = 0  # writer thread only

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> None:
        """Remember the event loop that awaits the units of work (call from it)."""
        self._loop = asyncio.get_running_loop()

    async def drain(self) -> None:
        """Wait until every queued write has been committed (or failed)."""
        while self._pending or self._committing or self._batch_scheduled:
            await asyncio.sleep(0.005)

    def close(self) -> None:
        """Release every connection (call ``drain`` first to finish queued writes)."""
        self._writer.shutdown(wait=True)
        self._workers.shutdown(wait=True)
        with self._connections_lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self.engine.dispose()

    def on_commit(self, topic: str, listener: Listener) -> None:
        """Call ``listener`` on the event loop after each commit of work that raised ``topic``."""
        self._commit_listeners.setdefault(topic, []).append(listener)

    # -- units of work ---------------------------------------------------------------------------------

    async def write(
        self, work: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``work(connection, ...)`` in a write transaction; return once it is committed."""
        job = _bind(work, args, kwargs)
        loop = self._event_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._pending.append((job, future))
        if self._gather_timer is not None and len(self._pending) >= self._gather_count:
            # Everyone the batch waited for is here: no reason to wait out the timer.
            self._gather_timer.cancel()
            self._gather_timer = None
            loop.call_soon(self._next_batch)
        elif not self._batch_scheduled and not self._committing:
            self._batch_scheduled = True
            # After the callbacks already queued for this turn, so their writes join this batch.
            loop.call_soon(self._next_batch)
        return await future

    async def read(
        self, work: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``work(connection, ...)`` in a read snapshot on a reader thread."""
        job = _bind(work, args, kwargs)
        return await self._event_loop().run_in_executor(self._workers, self._run_read, job)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction for synchronous callers (the CLI, tests)."""
        with self.engine.connect() as connection:
            connection = connection.execution_options(write=True)
            try:
                with connection.begin():
                    yield connection
                    _send_notifies(
                        connection.connection.driver_connection, connection.info.pop(_NOTIFIES, set())
                    )
            finally:
                connection.info.pop(_TOPICS, None)  # listeners live in the server process, not here
                connection.info.pop(_NOTIFIES, None)

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    # -- on the database threads -----------------------------------------------------------------------

    def _thread_connection(self, *, write: bool = False) -> Connection:
        """This thread's own connection, opened on first use and again after it broke.

        Each database thread keeps one connection, so a unit of work never waits for the pool, and the
        pool is never asked for more connections than there are threads.
        """
        connection: Connection | None = getattr(self._local, "connection", None)
        if connection is None or connection.closed or connection.invalidated:
            connection = self.engine.connect()
            if write:
                connection = connection.execution_options(write=True)
            self._local.connection = connection
            with self._connections_lock:
                self._connections.append(connection)
        return connection

    def _run_read(self, job: Work) -> Any:
        try:
            connection = self._thread_connection()
        except OperationalError as exc:  # the database is down: a 503, as for a failed statement
            raise StorageUnavailable(str(exc.orig)) from exc
        with connection.begin():
            return _storage_errors(job, connection)

    def _run_batch(self, batch: list[Job]) -> BatchResult:
        """Run a batch of jobs in one transaction and commit once (on the writer thread).

        A savepoint per job costs statements (on PostgreSQL about a quarter of a create, measured), and
        only a failing job needs one: so a batch first runs without, and if a job fails (not found,
        invalid input, a statement refused), the batch runs again with one per job, as do the next few
        batches. Nothing of a batch that runs again was stored.
        """
        if self._savepoint_batches:
            self._savepoint_batches -= 1
        else:
            try:
                if self.is_sqlite:
                    return self._run_without_savepoints(batch)
                return self._run_pipelined(batch, savepoints=False)
            except _RequestFailed:
                self._savepoint_batches = SAVEPOINT_BATCHES
            except _Replay:
                return self._run_in_savepoints(batch)
        if not self.is_sqlite:
            try:
                return self._run_pipelined(batch, savepoints=True)
            except _Replay:
                pass
        return self._run_in_savepoints(batch)

    def _run_without_savepoints(self, batch: list[Job]) -> BatchResult:
        """Run a batch on SQLite with no savepoints; ``_RequestFailed`` if a job of several failed."""
        connection = self._thread_connection(write=True)
        outcomes: list[tuple[bool, Any]] = []
        try:
            transaction = connection.begin()
            _begin_batch(connection)
            try:
                for work, _future in batch:
                    outcomes.append((True, work(connection)))
                    statements.raise_if_refused(connection)
                _end_batch(connection)
            except Exception as exc:
                transaction.rollback()
                if len(batch) == 1:  # alone in its transaction: its rollback was all it needed
                    connection.info.pop(_TOPICS, None)  # nothing it announced was committed
                    return [(False, exc)], {}
                raise _RequestFailed from exc
            transaction.commit()
        except _RequestFailed:
            connection.info.pop(_TOPICS, None)
            raise
        except Exception as exc:  # the transaction itself failed: nothing of this batch is stored
            return self._failed(connection, batch, exc), {}
        finally:
            _discard_batch(connection)
            connection.info.pop(_NOTIFIES, None)
        return outcomes, connection.info.pop(_TOPICS, {})

    def _run_in_savepoints(self, batch: list[Job]) -> BatchResult:
        """Run each job in its own savepoint, one statement at a time: each error stays with its job."""
        connection = self._thread_connection(write=True)
        outcomes: list[tuple[bool, Any]] = []
        notifies: set[tuple[str, str]] = set()
        try:
            transaction = connection.begin()
            # Savepoints straight on the driver: through SQLAlchemy they cost more than the request's
            # own statements. A job that deadlocked is run again.
            driver = connection.connection.driver_connection
            for work, _future in batch:
                outcomes.append(_in_savepoint(driver, work, connection))
                # A request rolled back sends no notification.
                if outcomes[-1][0]:
                    notifies.update(connection.info.pop(_NOTIFIES, ()))
                else:
                    connection.info.pop(_NOTIFIES, None)
            if transaction.is_active:
                _send_notifies(driver, notifies)
                transaction.commit()
        except Exception as exc:  # the transaction itself failed: nothing of this batch is stored
            return self._failed(connection, batch, exc), {}
        finally:
            topics = connection.info.pop(_TOPICS, {})
            connection.info.pop(_NOTIFIES, None)
        return outcomes, topics

    def _run_pipelined(self, batch: list[Job], *, savepoints: bool) -> BatchResult:
        """Run a batch on PostgreSQL in pipeline mode; ``_RequestFailed``/``_Replay`` if it must run again.

        A statement whose result no one reads (an insert, a savepoint) is sent without waiting, so a
        request costs a round trip only where its code reads a result (a RETURNING). A statement that
        fails in a pipeline makes PostgreSQL skip every later one until the next sync, and its error may
        surface in a later request: so the first such error rolls the whole batch back, and the caller
        runs it again one statement at a time, where each error belongs to its own request (and a
        deadlock is retried). Errors a request raises itself (not found, invalid input) need neither.
        """
        connection = self._thread_connection(write=True)
        driver = connection.connection.driver_connection
        assert driver is not None
        outcomes: list[tuple[bool, Any]] = []
        notifies: set[tuple[str, str]] = set()
        transaction = connection.begin()
        try:
            try:
                with driver.pipeline() as pipeline:
                    pipelined = connection.info[_PIPELINE] = _Pipelined(pipeline)
                    if not savepoints:
                        _begin_batch(connection)
                    for work, _future in batch:
                        if savepoints:
                            driver.execute("SAVEPOINT request")
                        try:
                            result = work(connection)
                        except Exception as exc:
                            if pipelined.failed or isinstance(exc, (DBAPIError, psycopg.Error)):
                                raise _Replay from exc
                            if not savepoints:
                                raise _RequestFailed from exc
                            driver.execute("ROLLBACK TO SAVEPOINT request")
                            driver.execute("RELEASE SAVEPOINT request")
                            connection.info.pop(_NOTIFIES, None)  # a request rolled back notifies no one
                            outcomes.append((False, exc))
                            continue
                        if pipelined.failed or connection.info.get(statements.REFUSED):
                            raise _Replay
                        if savepoints:
                            driver.execute("RELEASE SAVEPOINT request")
                        notifies.update(connection.info.pop(_NOTIFIES, ()))
                        outcomes.append((True, result))
                    _end_batch(connection)
                    _send_notifies(driver, notifies)
                    # Every statement's outcome before the COMMIT: an error now is a request's, and
                    # nothing is committed; one from the commit itself is the transaction's (below).
                    pipeline.sync()
            finally:
                connection.info.pop(_PIPELINE, None)
                _discard_batch(connection)
        except Exception as exc:
            if not isinstance(exc, _RequestFailed):
                cause = exc.__cause__ if isinstance(exc, _Replay) and exc.__cause__ is not None else exc
                log.info("a statement failed in a pipelined batch; running it request by request: %r", cause)
            connection.info.pop(_TOPICS, None)
            connection.info.pop(_NOTIFIES, None)
            try:
                transaction.rollback()
            except Exception:
                connection.invalidate()
            if isinstance(exc, _RequestFailed):
                if len(batch) == 1:  # alone in its transaction: its rollback was all it needed
                    return [(False, exc.__cause__)], {}
                raise
            raise _Replay from exc
        try:
            transaction.commit()
        except Exception as exc:  # the commit failed: nothing of this batch is stored
            return self._failed(connection, batch, exc), {}
        finally:
            topics = connection.info.pop(_TOPICS, {})
        return outcomes, topics

    def _failed(self, connection: Connection, batch: list[Job], exc: BaseException) -> list[tuple[bool, Any]]:
        reason = str(exc.orig) if isinstance(exc, DBAPIError) else repr(exc)
        log.error("commit failed; %d request(s) answered with 503: %s", len(batch), reason)
        try:
            if connection.in_transaction():
                connection.rollback()
        except Exception:
            connection.invalidate()
        return [(False, StorageUnavailable(reason))] * len(batch)

    def _unreachable(self, batch: list[Job], exc: BaseException) -> list[tuple[bool, Any]]:
        reason = str(exc.orig) if isinstance(exc, DBAPIError) else repr(exc)
        log.error("database unreachable; %d request(s) answered with 503: %s", len(batch), reason)
        return [(False, StorageUnavailable(reason))] * len(batch)

    def _tell(self, topics: dict[str, set[Any]]) -> None:
        """Call the listeners of ``topics`` on the event loop, each with its topic's keys."""
        if not topics or self._loop is None:
            return
        for topic, keys in topics.items():
            for listener in self._commit_listeners.get(topic, ()):
                self._loop.call_soon(listener, keys)

    # -- group commit (SQLite) -------------------------------------------------------------------------

    def _next_batch(self) -> None:
        """Start the next batch on the writer thread, unless one is in flight or worth waiting for.

        After a batch lands, the clients it answered usually come straight back with their next write.
        Started at once, the next batch would hold only the requests that queued during the last commit
        (half of the clients, under steady load), and each commit, each thread hand-off and each set of
        statements would serve half as many requests. So the next batch waits, at most
        ``write_gather_seconds`` after the landing, until as many jobs are queued as the landed batch
        and the queue held together: PostgreSQL's ``commit_delay``, with the number of requests in flight
        for its ``commit_siblings``. After a batch of one job (a lone client), the next starts at once.
        """
        self._batch_scheduled = False
        self._gather_timer = None
        if self._committing or not self._pending:
            return  # the batch in flight starts the next one when it lands
        loop = self._event_loop()
        if len(self._pending) < self._gather_count and loop.time() < self._gather_until:
            self._batch_scheduled = True
            self._gather_timer = loop.call_at(self._gather_until, self._next_batch)
            return
        batch = [job for job in self._pending[: self.write_batch_size] if not job[1].cancelled()]
        del self._pending[: self.write_batch_size]
        if not batch:
            self._next_batch()
            return
        self._committing = True
        landed = self._writer.submit(self._run_batch, batch)
        loop = self._event_loop()
        landed.add_done_callback(lambda done: loop.call_soon_threadsafe(self._landed, done, batch))

    def _landed(
        self, done: Future[tuple[list[tuple[bool, Any]], dict[str, set[Any]]]], batch: list[Job]
    ) -> None:
        self._committing = False
        if self.write_gather_seconds:
            self._gather_count = min(self.write_batch_size, len(batch) + len(self._pending))
            self._gather_until = self._event_loop().time() + self.write_gather_seconds
        try:
            outcomes, topics = done.result()
        except Exception as exc:  # no connection could even be opened: nothing of the batch was stored
            outcomes, topics = self._unreachable(batch, exc), {}
        for (_work, future), (ok, value) in zip(batch, outcomes, strict=True):
            if future.done():  # the client went away; its change is committed or rolled back all the same
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(_as_unavailable(value))
        self._tell(topics)
        self._next_batch()


def _begin_batch(connection: Connection) -> None:
    """A batch without savepoints: counters continue in memory, inserts wait to go together."""
    counters.begin(connection)
    statements.defer_until_read(connection)


def _end_batch(connection: Connection) -> None:
    """Write what the batch held back, before its commit; an error here fails the batch as a request's."""
    counters.flush(connection)
    statements.run_deferred(connection)


def _discard_batch(connection: Connection) -> None:
    counters.discard(connection)
    statements.stop_deferring(connection)


def _in_savepoint(driver: Any, work: Work, connection: Connection) -> tuple[bool, Any]:
    """Run one job in a savepoint: rolled back alone if it fails, and run again if it deadlocked."""
    for attempt in range(1, DEADLOCK_RETRIES + 1):
        driver.execute("SAVEPOINT request")
        try:
            result = work(connection)
        except Exception as exc:
            driver.execute("ROLLBACK TO SAVEPOINT request")
            driver.execute("RELEASE SAVEPOINT request")
            if attempt < DEADLOCK_RETRIES and _deadlocked(exc):
                log.warning("a write deadlocked with another process's; running it again")
                continue
            return False, exc
        driver.execute("RELEASE SAVEPOINT request")
        return True, result
    raise AssertionError("unreachable")


def _deadlocked(error: Any) -> bool:
    """Whether PostgreSQL aborted the transaction to break a deadlock (nothing of it was stored)."""
    original = getattr(error, "orig", None)
    return getattr(original, "sqlstate", None) == "40P01" or "deadlock detected" in str(error)


def _storage_errors(job: Work, connection: Connection) -> Any:
    """Run ``job``; a database that is down or cannot store answers StorageUnavailable (a 503)."""
    try:
        return job(connection)
    except Exception as exc:
        unavailable = _as_unavailable(exc)
        if unavailable is exc:
            raise
        raise unavailable from exc
