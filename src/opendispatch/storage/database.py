"""The database handle: units of work run on the event loop and commit together.

SQLite allows one writer at a time, and a Python thread hop per request costs more than the statements
themselves, so writes run right on the event loop: each request's work runs in its own savepoint inside
the open transaction, and one commit (and one fsync) covers every request that ran in it (group commit).
The commit itself runs on a helper thread, so the loop keeps serving while the disk syncs, and requests
that arrive meanwhile form the next batch: the busier the server, the more each fsync carries.

A request is answered only after the commit that holds its change, so a 2xx always means stored; one
failing request rolls back alone. Nothing waits for a thread or a pool slot, so a burst of requests
queues on the loop instead of deadlocking.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

from sqlalchemy import ClauseElement, Connection, Engine, RootTransaction, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")
Work = Callable[[Connection], Any]
Job = tuple[Work, "asyncio.Future[Any]"]


class StorageUnavailable(Exception):
    """The database refused a commit (disk full, locked too long); nothing of the request was stored."""


class Prepared:
    """A Core statement compiled once per dialect and run straight on the driver's cursor.

    For the few statements every create runs: SQLAlchemy's execute path costs several times what SQLite
    spends on the statement. Rows come back as plain tuples, with no type processing.
    """

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}

    def run(self, connection: Connection, params: dict[str, Any]) -> Any:
        """Execute with ``params`` and return the DBAPI cursor."""
        dialect = connection.dialect
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            statement = cast(SQLCompiler, self.statement.compile(dialect=dialect))
            order = tuple(statement.positiontup) if statement.positiontup is not None else None
            # Literals in the statement (the 1 of ``x + 1``) are bound parameters with fixed values.
            fixed = {name: value for name, value in statement.params.items() if value is not None}
            compiled = self._compiled[dialect.name] = (str(statement), order, fixed)
        sql, order, fixed = compiled
        values = {**fixed, **params} if fixed else params
        driver = connection.connection.driver_connection
        assert driver is not None
        cursor = driver.cursor()
        cursor.execute(sql, [values[name] for name in order] if order is not None else values)
        return cursor


_TOPICS = "opendispatch.commit_topics"


def announce(connection: Connection, topic: str) -> None:
    """Have the listeners of ``topic`` called once the current transaction has committed."""
    connection.info.setdefault(_TOPICS, set()).add(topic)


def _bind(work: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Callable[[Connection], T]:
    return lambda connection: work(connection, *args, **kwargs)


def create_database_engine(url: str, *, pool_size: int = 5, synchronous: str = "FULL") -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys, a busy timeout and savepoint-safe transactions."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_size=pool_size, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size)

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


class Database:
    """Runs units of work: ``write`` returns once committed, ``read`` runs in a snapshot."""

    def __init__(self, url: str, *, write_batch_size: int = 256) -> None:
        self.url = url
        self.engine = create_database_engine(url, pool_size=3)
        self.write_batch_size = write_batch_size
        self._pending: list[Job] = []
        self._flush_scheduled = False
        self._committing = False
        self._committer = ThreadPoolExecutor(1, thread_name_prefix="opendispatch-commit")
        self._writer: Connection | None = None
        self._reader: Connection | None = None
        self._commit_listeners: dict[str, list[Callable[[], None]]] = {}

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> None:
        """Open the connections the event loop writes and reads through."""
        self._writer = self.engine.connect().execution_options(write=True)
        self._reader = self.engine.connect()

    async def drain(self) -> None:
        """Wait until every queued write has been committed (or failed)."""
        while self._pending or self._committing:
            await asyncio.sleep(0.005)

    def close(self) -> None:
        """Release every connection (call ``drain`` first to finish queued writes)."""
        self._committer.shutdown(wait=True)
        for connection in (self._writer, self._reader):
            if connection is not None:
                connection.close()
        self._writer = self._reader = None
        self.engine.dispose()

    def on_commit(self, topic: str, listener: Callable[[], None]) -> None:
        """Call ``listener`` after each commit of work that raised ``topic`` (see ``announce``)."""
        self._commit_listeners.setdefault(topic, []).append(listener)

    # -- units of work ---------------------------------------------------------------------------------

    async def write(
        self, work: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``work(connection, ...)`` in this turn's write transaction; return once it is committed."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append((_bind(work, args, kwargs), future))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            # Runs after the callbacks already queued for this turn, so their writes join this commit.
            asyncio.get_running_loop().call_soon(self._flush)
        return await future

    async def read(
        self, work: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``work(connection, ...)`` in a read snapshot (WAL readers never wait for the writer)."""
        connection = self._reader
        if connection is None or connection.closed or connection.invalidated:
            connection = self._reader = self.engine.connect()
        with connection.begin():
            return _bind(work, args, kwargs)(connection)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction for synchronous callers (the CLI, tests)."""
        with self.engine.connect() as connection:
            connection = connection.execution_options(write=True)
            try:
                with connection.begin():
                    yield connection
            finally:
                connection.info.pop(_TOPICS, None)  # listeners live in the server process, not here

    # -- group commit ----------------------------------------------------------------------------------

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._committing or not self._pending:
            return  # the commit in flight flushes again when it lands
        batch = [job for job in self._pending[: self.write_batch_size] if not job[1].cancelled()]
        del self._pending[: self.write_batch_size]
        outcomes, transaction = self._run_batch(batch)
        if transaction is None:
            self._connection().info.pop(_TOPICS, None)  # nothing was committed: nobody to tell
            self._settle(batch, outcomes)
            return
        # The commit (and its fsync) runs off the loop; requests arriving meanwhile form the next batch.
        self._committing = True
        landed = asyncio.get_running_loop().run_in_executor(self._committer, transaction.commit)
        landed.add_done_callback(lambda done: self._landed(done, batch, outcomes))

    def _landed(self, done: asyncio.Future[None], batch: list[Job], outcomes: list[tuple[bool, Any]]) -> None:
        self._committing = False
        error = done.exception()
        if error is not None:
            outcomes = self._failed(batch, error)
        self._settle(batch, outcomes)
        topics = self._connection().info.pop(_TOPICS, set())
        if error is None:
            for topic in topics:
                for listener in self._commit_listeners.get(topic, ()):
                    listener()
        self._flush()

    def _connection(self) -> Connection:
        if self._writer is None or self._writer.closed or self._writer.invalidated:
            self._writer = self.engine.connect().execution_options(write=True)
        return self._writer

    def _run_batch(self, batch: list[Job]) -> tuple[list[tuple[bool, Any]], RootTransaction | None]:
        """Run each job in its savepoint; return the outcomes and the transaction left to commit."""
        if not batch:
            return [], None
        outcomes: list[tuple[bool, Any]] = []
        connection = self._connection()
        try:
            transaction = connection.begin()
            # Savepoints straight on the driver: through SQLAlchemy they cost more than the request's
            # own statements. One request alone needs none: its failure is the transaction's failure.
            savepoints = connection.connection.driver_connection if len(batch) > 1 else None
            for work, _future in batch:
                if savepoints is not None:
                    savepoints.execute("SAVEPOINT request")
                try:
                    result = work(connection)
                except Exception as exc:
                    if savepoints is None:
                        transaction.rollback()
                    else:
                        savepoints.execute("ROLLBACK TO SAVEPOINT request")
                        savepoints.execute("RELEASE SAVEPOINT request")
                    outcomes.append((False, exc))
                else:
                    if savepoints is not None:
                        savepoints.execute("RELEASE SAVEPOINT request")
                    outcomes.append((True, result))
        except Exception as exc:  # the transaction itself failed: nothing of this batch is stored
            return self._failed(batch, exc), None
        return outcomes, transaction if transaction.is_active else None

    def _failed(self, batch: list[Job], exc: BaseException) -> list[tuple[bool, Any]]:
        reason = str(exc.orig) if isinstance(exc, DBAPIError) else repr(exc)
        log.error("commit failed; %d request(s) answered with 503: %s", len(batch), reason)
        connection = self._connection()
        try:
            if connection.in_transaction():
                connection.rollback()
        except Exception:
            connection.invalidate()
        return [(False, StorageUnavailable(reason))] * len(batch)

    @staticmethod
    def _settle(batch: list[Job], outcomes: list[tuple[bool, Any]]) -> None:
        for (_work, future), (ok, value) in zip(batch, outcomes, strict=True):
            if future.done():  # the client went away; its change is committed or rolled back all the same
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
