"""Copy a whole installation into an empty database: every table, every id, in one transaction.

The source is read in one snapshot (a REPEATABLE READ transaction on PostgreSQL, one read transaction on
SQLite), so a live database copies as it was at one instant, and is never written to. The target gets
the current schema first, then every row in foreign-key order, in one transaction: a failure leaves it
with the schema and no rows, ready for another try.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    LargeBinary,
    Table,
    create_engine,
    event,
    func,
    insert,
    inspect,
    literal,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from opendispatch.errors import DomainError
from opendispatch.storage.database import create_database_engine
from opendispatch.storage.migrate import MIGRATIONS, upgrade
from opendispatch.storage.tables import metadata

# Rows read and inserted at a time: memory stays bounded whatever the size of the tables.
BATCH_ROWS = 1000
# A map image may be 32 MiB: tables with binary columns go a row at a time.
BINARY_BATCH_ROWS = 1

# (table, rows copied so far, rows in the table)
Progress = Callable[[str, int, int], None]


class CopyRefused(DomainError):
    """The copy cannot start: the source is not at the current schema, or the target is not empty."""


@dataclass(frozen=True)
class CopyResult:
    """What a copy did: the schema revision, rows per table, where each id sequence continues, the time."""

    revision: str
    tables: dict[str, int]
    sequences: dict[str, int]
    seconds: float


def copy_database(
    source_url: str, target_url: str, *, batch_rows: int = BATCH_ROWS, progress: Progress | None = None
) -> CopyResult:
    """Copy every row of ``source_url`` into the empty database at ``target_url``, keeping every id."""
    started = time.monotonic()
    source = _source_engine(source_url)
    target = create_database_engine(target_url, pool_size=1)
    try:
        with _snapshot(source) as reading:
            revision = _require_current(reading)
            # Checked before migrating too: a refused target is left exactly as it was.
            with target.connect() as probe:
                _require_empty(probe)
            upgrade(target)
            with target.connect() as writing, writing.execution_options(write=True).begin():
                _keep_others_out(writing)
                _require_empty(writing)  # again, now that no one else can write
                totals = {table.name: _count(reading, table) for table in metadata.sorted_tables}
                copied = {
                    table.name: _copy_table(reading, writing, table, totals[table.name], batch_rows, progress)
                    for table in metadata.sorted_tables
                }
                sequences = _continue_ids(reading, writing)
    finally:
        source.dispose()
        target.dispose()
    return CopyResult(revision, copied, sequences, time.monotonic() - started)


def _source_engine(url: str) -> Engine:
    """An engine on the source that cannot write: PostgreSQL reads in a read-only transaction (below)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_database_engine(url, pool_size=1)
    # Connecting to a SQLite path that does not exist would create an empty database there.
    if not (parsed.database and Path(parsed.database).is_file()):
        raise CopyRefused(f"source: no SQLite database at {parsed.database or '(memory)'}")
    engine = create_engine(url, poolclass=NullPool)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Not the server's engine: that one switches the file to WAL, and a backup file should stay as
        # it is. query_only has SQLite itself refuse any write.
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA busy_timeout=10000")
        dbapi_connection.execute("PRAGMA query_only=ON")

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # With the driver's own transaction handling off, this BEGIN is what makes every table read from
        # the same instant; otherwise each SELECT would see its own.
        connection.exec_driver_sql("BEGIN")

    return engine


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction on ``engine`` that sees one instant of the database throughout."""
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        # SQLite: the engine begins a deferred transaction; its first read fixes the snapshot (WAL).
        with connection.begin():
            yield connection


def _require_current(reading: Connection) -> str:
    """The source's schema revision, which must be this version's newest."""
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None
    current = MigrationContext.configure(reading).get_current_revision()
    if current == head:
        return head
    if current is None:
        raise CopyRefused("source holds no OpenDispatch schema (no migration revision)")
    # Migrating here would change a database that may still be serving, perhaps under an older version
    # that cannot run the newer schema: that is the operator's decision, one command away.
    raise CopyRefused(
        f"source is at schema revision {current}, this version copies revision {head}: "
        "run `opendispatch migrate --database SOURCE` first (with the version that matches it if newer)"
    )


def _require_empty(connection: Connection) -> None:
    present = set(inspect(connection).get_table_names())
    holding = [
        table.name
        for table in metadata.sorted_tables
        if table.name in present
        and connection.execute(select(literal(1)).select_from(table).limit(1)).first() is not None
    ]
    if holding:
        raise CopyRefused(
            f"target already holds rows (in {', '.join(holding)}): copy only into an empty database"
        )


def _keep_others_out(writing: Connection) -> None:
    """Stop any other writer (a server started too early) until the copy commits.

    SQLite's write transaction (BEGIN IMMEDIATE) already holds the only write lock; PostgreSQL's tables
    are locked against writes, reads still go on.
    """
    if writing.dialect.name == "postgresql":
        names = ", ".join(writing.dialect.identifier_preparer.format_table(t) for t in metadata.sorted_tables)
        writing.exec_driver_sql(f"LOCK TABLE {names} IN EXCLUSIVE MODE")


def _count(connection: Connection, table: Table) -> int:
    return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def _copy_table(
    reading: Connection,
    writing: Connection,
    table: Table,
    total: int,
    batch_rows: int,
    progress: Progress | None,
) -> int:
    """Stream ``table``'s rows from the snapshot into the target in batches; how many were copied."""
    if any(isinstance(column.type, LargeBinary) for column in table.columns):
        batch_rows = min(batch_rows, BINARY_BATCH_ROWS)
    rows = reading.execute(
        select(table).order_by(*table.primary_key.columns), execution_options={"yield_per": batch_rows}
    )
    copied = 0
    for batch in rows.partitions():
        writing.execute(insert(table), [row._asdict() for row in batch])
        copied += len(batch)
        if progress is not None:
            progress(table.name, copied, total)
    if progress is not None and copied == 0:
        progress(table.name, 0, total)
    return copied


def _continue_ids(reading: Connection, writing: Connection) -> dict[str, int]:
    """Make each generated key of the target continue after the source's last id; what was set.

    Rows were inserted with their ids, which a PostgreSQL sequence never sees: without this the next
    insert would be handed id 1 and collide. The source's own high-water mark counts too, so an id it
    handed out and then deleted is not handed out again.
    """
    sequences: dict[str, int] = {}
    for table in metadata.sorted_tables:
        column = table.autoincrement_column
        if column is None:
            continue
        last_id = max(_last_id(reading, column), _last_id(writing, column))
        set_to = _continue_after(writing, column, last_id)
        if set_to is not None:
            sequences[f"{table.name}.{column.name}"] = set_to
    return sequences


def _serial_sequence(connection: Connection, column: Column[int]) -> str | None:
    """The PostgreSQL sequence behind a serial or identity column, if any."""
    name: str | None = connection.execute(
        text("SELECT pg_get_serial_sequence(quote_ident(:table), :column)"),
        {"table": column.table.name, "column": column.name},
    ).scalar_one()
    return name


def _sqlite_autoincrement(column: Column[int]) -> bool:
    # Only AUTOINCREMENT tables remember their highest id, in sqlite_sequence; the others take max + 1.
    return bool(column.table.dialect_options["sqlite"]["autoincrement"])


def _last_id(connection: Connection, column: Column[int]) -> int:
    """The highest id ``column`` has had: its largest row's, or beyond that what its generator handed out."""
    last = int(connection.execute(select(func.max(column))).scalar_one() or 0)
    if connection.dialect.name == "postgresql":
        sequence = _serial_sequence(connection, column)
        if sequence is not None:
            handed_out = connection.execute(
                text("SELECT pg_sequence_last_value(CAST(:sequence AS regclass))"), {"sequence": sequence}
            ).scalar_one()
            last = max(last, int(handed_out or 0))
    elif _sqlite_autoincrement(column):
        remembered = connection.execute(
            text("SELECT seq FROM sqlite_sequence WHERE name = :table"), {"table": column.table.name}
        ).scalar_one_or_none()
        last = max(last, int(remembered or 0))
    return last


def _continue_after(writing: Connection, column: Column[int], last_id: int) -> int | None:
    """Have the target hand out ids after ``last_id``; the next id it will hand out, if it was set."""
    if writing.dialect.name == "postgresql":
        sequence = _serial_sequence(writing, column)
        if sequence is None:
            return None
        # is_called false: the next nextval() returns exactly this value (1 for an empty table).
        writing.execute(
            text("SELECT setval(CAST(:sequence AS regclass), :next, false)"),
            {"sequence": sequence, "next": last_id + 1},
        )
        return last_id + 1
    if not _sqlite_autoincrement(column):
        return None
    params = {"table": column.table.name, "last": last_id}
    writing.execute(
        text("UPDATE sqlite_sequence SET seq = :last WHERE name = :table AND seq < :last"), params
    )
    writing.execute(
        text(
            "INSERT INTO sqlite_sequence (name, seq) SELECT :table, :last "
            "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = :table)"
        ),
        params,
    )
    return last_id + 1
