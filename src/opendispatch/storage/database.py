"""The database handle: a writer thread that commits requests in batches, and reader threads.

SQLite allows one writer at a time, so every change goes through one thread. Requests that arrive while a
transaction is open wait in a queue and are committed together in the next one (group commit): each keeps
its own savepoint, so one failing request rolls back alone, and the single commit (and fsync) is shared.
A request is answered only after the commit that holds its change, so a 2xx always means stored.
Nothing here holds a thread while waiting for a connection, so a burst of requests queues instead of
deadlocking a thread pool against a connection pool.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")
Work = Callable[[Connection], Any]


class StorageUnavailable(Exception):
    """The database refused a commit (disk full, locked too long); nothing of the request was stored."""


@dataclass(slots=True)
class _Job:
    work: Work
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    outcome: tuple[bool, Any] = field(default=(False, None))


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():  # the client went away; its change is committed or rolled back all the same
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


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

    def __init__(self, url: str, *, write_batch_size: int = 64, read_threads: int = 2) -> None:
        self.url = url
        self.engine = create_database_engine(url, pool_size=read_threads + 2)
        self.write_batch_size = write_batch_size
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._readers = ThreadPoolExecutor(read_threads, thread_name_prefix="opendispatch-read")
        self._commit_listeners: list[Callable[[], None]] = []

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread."""
        if self._writer is None:
            self._writer = threading.Thread(
                target=self._write_forever, name="opendispatch-write", daemon=True
            )
            self._writer.start()

    def close(self) -> None:
        """Finish queued writes, then release every connection."""
        if self._writer is not None:
            self._jobs.put(None)
            self._writer.join()
            self._writer = None
        self._readers.shutdown(wait=True)
        self.engine.dispose()

    def on_commit(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` on the writer's event loop after every commit (wakes event delivery)."""
        self._commit_listeners.append(listener)

    # -- units of work ---------------------------------------------------------------------------------

    async def write(
        self, work: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``work(connection, ...)`` in the next write transaction and return once it is committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put(_Job(_bind(work, args, kwargs), loop, future))
        return await future

    async def read(
        self, work: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``work(connection, ...)`` in a read-only snapshot on a reader thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._read_now, _bind(work, args, kwargs))

    def _read_now(self, work: Callable[[Connection], T]) -> T:
        with self.engine.connect() as connection, connection.begin():
            return work(connection)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction for synchronous callers (the CLI, migrations of data, tests)."""
        with self.engine.connect() as connection:
            connection = connection.execution_options(write=True)
            with connection.begin():
                yield connection

    # -- the writer thread -----------------------------------------------------------------------------

    def _write_forever(self) -> None:
        connection: Connection | None = None
        stopping = False
        while not stopping:
            job = self._jobs.get()
            if job is None:
                break
            batch = [job]
            while len(batch) < self.write_batch_size:
                try:
                    following = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if following is None:
                    stopping = True
                    break
                batch.append(following)
            if connection is None or connection.invalidated or connection.closed:
                connection = self.engine.connect().execution_options(write=True)
            self._commit_batch(connection, batch)
            for job in batch:
                try:
                    job.loop.call_soon_threadsafe(_settle, job.future, *job.outcome)
                except RuntimeError:  # that event loop has closed; nobody waits for this answer
                    pass
            if self._commit_listeners:
                with suppress(RuntimeError):
                    batch[-1].loop.call_soon_threadsafe(self._notify_commit)
        if connection is not None:
            connection.close()

    def _notify_commit(self) -> None:
        for listener in self._commit_listeners:
            listener()

    def _commit_batch(self, connection: Connection, batch: list[_Job]) -> None:
        pending = [job for job in batch if not job.future.cancelled()]
        try:
            transaction = connection.begin()
            if len(pending) == 1:
                # One request alone needs no savepoint: its failure is the transaction's failure.
                job = pending[0]
                try:
                    job.outcome = (True, job.work(connection))
                except Exception as exc:
                    transaction.rollback()
                    job.outcome = (False, exc)
                    return
            else:
                for job in pending:
                    savepoint = connection.begin_nested()
                    try:
                        result = job.work(connection)
                    except Exception as exc:
                        savepoint.rollback()
                        job.outcome = (False, exc)
                    else:
                        savepoint.commit()
                        job.outcome = (True, result)
            transaction.commit()
        except Exception as exc:  # the commit itself failed: nothing of this batch is stored
            reason = str(exc.orig) if isinstance(exc, DBAPIError) else repr(exc)
            log.error("commit failed; %d request(s) answered with 503: %s", len(pending), reason)
            try:
                if connection.in_transaction():
                    connection.rollback()
            except Exception:
                connection.invalidate()
            failure = StorageUnavailable(reason)
            for job in pending:
                job.outcome = (False, failure)
        for job in batch:
            if job.future.cancelled():
                job.outcome = (False, asyncio.CancelledError())
