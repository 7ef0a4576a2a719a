"""Statements compiled once and run straight on the driver: the few every create runs.

SQLAlchemy's execute path costs several times what SQLite spends on such a statement, so these skip it:
compiled once per dialect, executed on the DBAPI cursor, rows back as plain tuples.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import ClauseElement, Connection, Table, bindparam, insert
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert

DEFERRED = "opendispatch.deferred"
REFUSED = "opendispatch.deferred_refused"


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
        if connection.info.get(DEFERRED):
            run_deferred(connection)
        sql, order, fixed = self._compile(connection)
        values = {**fixed, **params} if fixed else params
        driver = connection.connection.driver_connection
        assert driver is not None
        cursor = driver.cursor()
        cursor.execute(sql, [values[name] for name in order] if order is not None else values)
        return cursor

    def defer(self, connection: Connection, params: dict[str, Any]) -> None:
        """Run it later with ``params`` (an INSERT whose result no one reads), or now outside a batch.

        In a batch (``defer_until_read``) the rows wait until the connection's next statement or the
        commit, and go in one ``executemany`` per statement, in the order the first of each was deferred.
        """
        deferred: dict[Prepared, list[dict[str, Any]]] | None = connection.info.get(DEFERRED)
        if deferred is None:
            self.run(connection, params)
        elif self in deferred:
            deferred[self].append(params)
        else:
            deferred[self] = [params]

    def _compile(self, connection: Connection) -> tuple[str, tuple[str, ...] | None, dict[str, Any]]:
        dialect = connection.dialect
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            statement = cast(SQLCompiler, self.statement.compile(dialect=dialect))
            order = tuple(statement.positiontup) if statement.positiontup is not None else None
            # Literals in the statement (the 1 of ``x + 1``) are bound parameters with fixed values.
            fixed = {name: value for name, value in statement.params.items() if value is not None}
            compiled = self._compiled[dialect.name] = (str(statement), order, fixed)
        return compiled

    def _run_many(self, connection: Connection, rows: list[dict[str, Any]]) -> None:
        sql, order, fixed = self._compile(connection)
        if fixed:
            rows = [{**fixed, **params} for params in rows]
        driver = connection.connection.driver_connection
        assert driver is not None
        cursor = driver.cursor()
        if order is None:
            cursor.executemany(sql, rows)
            return
        # SQLite: a few multi-row INSERTs instead of a statement per row. Each step of sqlite3 lets go of
        # the GIL, and each time the event loop takes it, which costs both threads a context switch.
        # Only for a plain INSERT ... VALUES (?, ...); anything else (and PostgreSQL) goes row by row.
        head, values, row = sql.partition(" VALUES ")
        plain = row == "(" + ", ".join(["?"] * len(order)) + ")"
        if connection.dialect.name != "sqlite" or not plain:
            cursor.executemany(sql, [[params[name] for name in order] for params in rows])
            return
        start = 0
        for size in _chunk_sizes(len(rows)):
            flat = [params[name] for params in rows[start : start + size] for name in order]
            cursor.execute(head + values + ", ".join([row] * size) if size > 1 else sql, flat)
            start += size

    def returning(self, connection: Connection, params: dict[str, Any]) -> Returning:
        """Execute with ``params``; the RETURNING row is read when first asked for."""
        return Returning(self.run(connection, params))


class Returning:
    """The one row a statement's RETURNING gives (or None), read on first use.

    On PostgreSQL's pipeline, reading waits for the database: statements sent before the first read all
    travel in that one round trip.
    """

    __slots__ = ("_cursor", "_row")

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor
        self._row: Any = _UNREAD

    def row(self) -> Any:
        """The row as a tuple, or None if the statement changed no row."""
        if self._row is _UNREAD:
            self._row = self._cursor.fetchone()
            self._cursor.close()  # SQLite: a statement's RETURNING rows are read and closed before COMMIT
        return self._row


_UNREAD = object()


def insert_row(table: Table) -> Insert:
    """An INSERT of every column but an autoincrementing key, which the database assigns.

    Passing NULL for such a key works on SQLite only; PostgreSQL refuses it.
    """
    generated = table.autoincrement_column
    columns = [column.name for column in table.columns if column is not generated]
    return insert(table).values({name: bindparam(name) for name in columns})


# Rows per multi-row INSERT: powers of two, so each statement has a few texts (each prepared once and
# cached by sqlite3) and stays far below SQLite's 32,766 bound parameters.
_LARGEST_CHUNK = 64


def _chunk_sizes(count: int) -> list[int]:
    """Split ``count`` rows into powers of two, largest first (23 -> 16, 4, 2, 1)."""
    sizes = [_LARGEST_CHUNK] * (count // _LARGEST_CHUNK)
    rest = count % _LARGEST_CHUNK
    size = _LARGEST_CHUNK // 2
    while rest:
        if rest >= size:
            sizes.append(size)
            rest -= size
        size //= 2
    return sizes


def defer_until_read(connection: Connection) -> None:
    """Let ``Prepared.defer`` hold rows back until the connection's next statement (a batch's writes)."""
    connection.info[DEFERRED] = {}


def run_deferred(connection: Connection) -> None:
    """Run the rows held back now, one ``executemany`` per statement (before any other statement)."""
    deferred: dict[Prepared, list[dict[str, Any]]] | None = connection.info.get(DEFERRED)
    if not deferred:
        return
    connection.info[DEFERRED] = {}
    try:
        for prepared, rows in deferred.items():
            prepared._run_many(connection, rows)
    except Exception as exc:
        # Remembered: the request whose statement sent these rows may catch the error as its own.
        connection.info[REFUSED] = exc
        raise


def raise_if_refused(connection: Connection) -> None:
    """Raise the error of held rows the database refused, even if a unit of work caught it."""
    refused: Exception | None = connection.info.get(REFUSED)
    if refused is not None:
        raise refused


def stop_deferring(connection: Connection) -> None:
    """Stop holding rows back; what was held is dropped (its batch was rolled back)."""
    connection.info.pop(DEFERRED, None)
    connection.info.pop(REFUSED, None)
