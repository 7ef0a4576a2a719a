"""A consistent copy of a live SQLite database in one file, made with SQLite's online backup API."""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Callable
from contextlib import closing, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from sqlalchemy.engine import make_url

from opendispatch.errors import DomainError

# Pages copied per step (16 MiB at SQLite's default 4 KiB page): a progress report between steps.
STEP_PAGES = 4096

# (pages copied so far, pages in the database)
Progress = Callable[[int, int], None]


class BackupError(DomainError):
    """The backup cannot be made (not a SQLite database, the file is there already) or did not verify."""


@dataclass(frozen=True)
class BackupResult:
    """The file written, its size in bytes and pages, and the schema revision it holds."""

    path: Path
    bytes: int
    pages: int
    revision: str


def backup_sqlite(
    database_url: str,
    destination: Path,
    *,
    force: bool = False,
    step_pages: int = STEP_PAGES,
    progress: Progress | None = None,
) -> BackupResult:
    """Copy the SQLite database at ``database_url`` to ``destination`` as it is now, while it is in use."""
    source_path = _sqlite_path(database_url)
    destination = destination.absolute()
    _require_free(destination, source_path, force=force)
    # Written beside the destination and renamed over it only once verified: a failed or interrupted
    # backup never leaves a half-written file, nor destroys the backup that --force would replace.
    handle, partial_name = tempfile.mkstemp(
        dir=destination.parent, prefix=f".{destination.name}.", suffix=".tmp"
    )
    os.close(handle)
    partial = Path(partial_name)
    try:
        revision, pages = _copy(source_path, partial, step_pages, progress)
        _verify(partial, revision)
        os.replace(partial, destination)
    except sqlite3.Error as exc:
        raise BackupError(f"database error: {exc}") from exc
    finally:
        for leftover in (partial, Path(f"{partial}-journal")):
            with suppress(FileNotFoundError):
                leftover.unlink()
    _sync_folder(destination.parent)
    return BackupResult(destination, destination.stat().st_size, pages, revision)


def _sqlite_path(database_url: str) -> Path:
    parsed = make_url(database_url)
    if parsed.get_backend_name() != "sqlite":
        raise BackupError("backup copies SQLite files; back up PostgreSQL with pg_dump (see docs/deploy.md)")
    if not parsed.database or parsed.database == ":memory:" or not Path(parsed.database).is_file():
        raise BackupError(f"no SQLite database at {parsed.database or '(memory)'}")
    return Path(parsed.database).absolute()


def _require_free(destination: Path, source: Path, *, force: bool) -> None:
    if not destination.exists():
        return
    if destination.samefile(source):
        raise BackupError(f"{destination} is the database itself")
    if not force:
        raise BackupError(f"{destination} exists; pass --force to replace it")
    # A journal or WAL beside it belongs to a database in use: SQLite would apply it to the new file.
    for sidecar in (Path(f"{destination}-wal"), Path(f"{destination}-journal")):
        if sidecar.exists():
            raise BackupError(f"{sidecar} exists: {destination} looks like a database in use")


def _copy(source_path: Path, partial: Path, step_pages: int, progress: Progress | None) -> tuple[str, int]:
    """Copy the source into ``partial`` page by page from one snapshot; its revision and page count."""
    # mode=rw: a missing source is an error, never a new empty database.
    source = sqlite3.connect(
        f"file:{quote(str(source_path))}?mode=rw", uri=True, timeout=10, isolation_level=None
    )
    with closing(source), closing(sqlite3.connect(partial, isolation_level=None)) as copy:
        # One read transaction across every step. Between steps SQLite's backup would otherwise release
        # its snapshot, and any commit by the server restarts it from the first page: under steady writes
        # it never finishes. In WAL mode a held snapshot does not block the server's writers.
        source.execute("BEGIN")
        revision = _revision(source)
        if revision is None:
            raise BackupError(f"{source_path} holds no OpenDispatch schema (no migration revision)")

        def report(_status: int, remaining: int, total: int) -> None:
            if progress is not None:
                progress(total - remaining, total)

        source.backup(copy, pages=step_pages, progress=report)
        source.execute("COMMIT")
        pages = int(copy.execute("PRAGMA page_count").fetchone()[0])
        # The copy inherits WAL mode; a backup is better as one self-contained file that opens even
        # where it cannot be written. The server turns WAL back on when it opens a restored copy.
        copy.execute("PRAGMA journal_mode=DELETE")
    return revision, pages


def _verify(partial: Path, revision: str) -> None:
    """Check the copy reads back whole and holds the source's schema revision."""
    with closing(sqlite3.connect(f"file:{quote(str(partial))}?mode=ro", uri=True)) as copy:
        problems = [row[0] for row in copy.execute("PRAGMA integrity_check").fetchall()]
        if problems != ["ok"]:
            raise BackupError(f"the copy failed its integrity check: {'; '.join(problems[:3])}")
        copied = _revision(copy)
    if copied != revision:
        raise BackupError(f"the copy holds schema revision {copied}, the database {revision}")


def _revision(connection: sqlite3.Connection) -> str | None:
    try:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:  # no such table: not an OpenDispatch database
        return None
    return str(row[0]) if row else None


def _sync_folder(folder: Path) -> None:
    # The rename is durable only once the folder's entry is on disk.
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
