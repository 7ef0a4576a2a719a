"""`opendispatch backup`: a consistent copy of the SQLite database while the server writes to it."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from PIL import Image

from opendispatch.cli import main
from opendispatch.settings import Settings
from opendispatch.storage.backup import backup_sqlite
from opendispatch.web import maps
from tests.support import (
    Community,
    ManualClock,
    Provisioner,
    Server,
    in_process_server,
    lift_limits,
    new_911,
    sqlite_file,
)

pytestmark = pytest.mark.sqlite_only

S1 = "/v2/emergency/servers/1"


def run_backup(database_url: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["backup", *args, "--database", database_url])


def one_error_line(result: Result) -> str:
    assert result.exit_code != 0 and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    return line


@contextmanager
def creating_calls(server: Server, community: Community) -> Iterator[list[int]]:
    """911 calls created one after another while the block runs; the ids acknowledged so far."""
    acknowledged: list[int] = []
    stop = threading.Event()

    def keep_creating() -> None:
        with server.client(community.api_key) as http:
            while not stop.is_set():
                answer = http.post(f"{S1}/calls/911", json=new_911())
                assert answer.status_code == 200, answer.text
                acknowledged.append(answer.json()["callId"])

    writer = threading.Thread(target=keep_creating)
    writer.start()
    try:
        while len(acknowledged) < 20:
            time.sleep(0.01)
        yield acknowledged
    finally:
        stop.set()
        writer.join()


def noise_png(side: int) -> bytes:
    """A PNG that does not compress: ``side`` × ``side`` × 3 bytes of noise."""
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, format="PNG")
    return out.getvalue()


def stored(path: Path, sql: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return conn.execute(sql).fetchall()


def test_a_backup_taken_while_the_server_writes_holds_every_acknowledged_call(
    server: Server, community: Community, provision: Provisioner, database_url: str, tmp_path: Path
) -> None:
    lift_limits(provision, community)
    with provision.db.transaction() as conn:  # a few megabytes: the backup takes many steps
        maps.set_map(
            conn,
            community_id=community.community_id,
            server_id=1,
            image=noise_png(1000),
            bounds=(0, 0, 1, 1),
            now=provision.now(),
        )
    target = tmp_path / "backups" / "opendispatch-backup.db"
    target.parent.mkdir()
    steps: list[tuple[int, int]] = []
    with creating_calls(server, community) as acknowledged:
        before = list(acknowledged)
        # One page a step: hundreds of steps while the server commits between them. SQLite restarts a
        # paged backup whenever the database changes between steps, unless it holds its snapshot.
        result = backup_sqlite(database_url, target, step_pages=1, progress=lambda *step: steps.append(step))
        during = len(acknowledged) - len(before)
    assert during > 0, "the server wrote nothing while the backup ran"
    # It never started over (a restart shows as progress going back), and reported every page.
    done = [copied for copied, _total in steps]
    assert done == sorted(done) and steps[-1] == (result.pages, result.pages) and result.pages > 700
    assert result.path == target and result.bytes == target.stat().st_size
    assert stored(target, "PRAGMA integrity_check") == [("ok",)]
    assert stored(target, "PRAGMA journal_mode") == [("delete",)]  # one self-contained file
    copied = [
        call_id for (call_id,) in stored(target, "SELECT call_id FROM emergency_calls ORDER BY call_id")
    ]
    assert set(before) <= set(copied)
    # One instant: the counter and the history agree with the calls it holds.
    assert stored(target, "SELECT last_call_id FROM communities") == [(max(copied),)]
    assert stored(target, "SELECT count(*) FROM call_history") == [(len(copied),)]
    assert not list(tmp_path.joinpath("backups").glob(".*"))  # no partial file left beside it


def test_the_command_prints_what_it_wrote_and_the_backup_serves(
    server: Server, community: Community, database_url: str, tmp_path: Path, clock: ManualClock
) -> None:
    with server.client(community.api_key) as http:
        call_id = http.post(f"{S1}/calls/911", json=new_911(caller="Before the backup")).json()["callId"]
    target = tmp_path / "backup.db"
    result = run_backup(database_url, str(target), "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    pages = stored(target, "PRAGMA page_count")[0][0]
    assert report == {
        "path": str(target),
        "bytes": target.stat().st_size,
        "pages": pages,
        "revision": stored(Path(sqlite_file(database_url)), "SELECT version_num FROM alembic_version")[0][0],
    }
    assert f"backup: {pages}/{pages} pages" in result.stderr

    # Restoring is pointing a server at the file.
    restored = Settings(database_url=f"sqlite:///{target}")
    with in_process_server(restored, clock) as running, running.client(community.api_key) as http:
        calls = http.get(f"{S1}/calls").json()
    assert [call["callId"] for call in calls["emergencyCalls"]] == [call_id]


def test_an_existing_file_is_kept_unless_forced(
    community: Community, database_url: str, tmp_path: Path
) -> None:
    target = tmp_path / "backup.db"
    target.write_bytes(b"an older backup")
    line = one_error_line(run_backup(database_url, str(target)))
    assert line == f"Error: {target} exists; pass --force to replace it"
    assert target.read_bytes() == b"an older backup"

    assert run_backup(database_url, str(target), "--force").exit_code == 0
    assert stored(target, "SELECT community_id FROM communities") == [(community.community_id,)]


def test_the_database_itself_and_a_file_in_use_are_never_replaced(
    community: Community, database_url: str, tmp_path: Path
) -> None:
    database = Path(sqlite_file(database_url))
    line = one_error_line(run_backup(database_url, str(database), "--force"))
    assert line == f"Error: {database} is the database itself"

    in_use = tmp_path / "other.db"
    in_use.write_bytes(b"a database")
    Path(f"{in_use}-wal").write_bytes(b"its log")
    line = one_error_line(run_backup(database_url, str(in_use), "--force"))
    assert line == f"Error: {in_use}-wal exists: {in_use} looks like a database in use"
    assert in_use.read_bytes() == b"a database"


def test_a_postgresql_database_is_refused_with_a_pointer_to_pg_dump(tmp_path: Path) -> None:
    target = tmp_path / "backup.db"
    line = one_error_line(run_backup("postgresql+psycopg://dispatch@127.0.0.1:1/opendispatch", str(target)))
    assert line == "Error: backup copies SQLite files; back up PostgreSQL with pg_dump (see docs/deploy.md)"
    assert not target.exists()


def test_a_missing_database_is_refused_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    line = one_error_line(run_backup(f"sqlite:///{missing}", str(tmp_path / "backup.db")))
    assert line == f"Error: no SQLite database at {missing}"
    assert not missing.exists()
