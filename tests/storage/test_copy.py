"""`opendispatch copy`: a whole installation moved to another database, every row and id kept.

The source is the test's database (SQLite, or PostgreSQL with ``--backend postgresql``), filled through
the services and the HTTP API; the target is a fresh PostgreSQL database or a new SQLite file. Servers
over the source and over the copy must answer alike, and the copy must hand out new ids after the old.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from click.testing import CliRunner, Result
from PIL import Image
from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import NullPool

from opendispatch.accounts import service as accounts
from opendispatch.admin import service as audit
from opendispatch.calls import service as calls
from opendispatch.calls.schemas import NewDispatchTemplate
from opendispatch.cli import main
from opendispatch.communities import service as communities
from opendispatch.events import service as events
from opendispatch.events.models import hub_receivers
from opendispatch.settings import Settings
from opendispatch.storage.backup import backup_sqlite
from opendispatch.storage.copy import CopyRefused, copy_database
from opendispatch.storage.migrate import alembic_config
from opendispatch.storage.tables import metadata
from opendispatch.units.models import account_api_ids
from opendispatch.web import maps
from tests.calls.test_templates import UK_CONTROL_ROOM
from tests.events.receiver import Receiver
from tests.support import (
    Community,
    ManualClock,
    Provisioner,
    Server,
    in_process_server,
    lift_limits,
    new_911,
    new_dispatch,
)
from tests.web.support import Console, dispatcher

S1 = "/v2/emergency/servers/1"


@dataclass
class Installation:
    """A filled database: its communities and the calls whose answers are compared."""

    alpha: Community
    beta: Community
    dispatch_call_ids: list[int]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


@pytest.fixture(params=["postgresql", "sqlite"])
def target_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database to copy into: a fresh PostgreSQL database, or a SQLite file not yet made."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgresql_url"))
    return f"sqlite:///{tmp_path / 'target' / 'copy.db'}"


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 20, 30)).save(out, format="PNG")
    return out.getvalue()


def fill(provision: Provisioner, server: Server, receiver: Receiver) -> Installation:
    """Communities, keys, limits, accounts, units, a map, a console session, calls with notes and units,
    history, and push events delivered to a real receiver (so delivery attempts are logged)."""
    alpha = provision.community("Alpha", servers=2)
    beta = provision.community("Beta", servers=1)
    lift_limits(provision, alpha)
    with provision.db.transaction() as conn:
        spare = communities.create_api_key(conn, community_id=alpha.community_id, now=provision.now())
        maps.set_map(
            conn,
            community_id=alpha.community_id,
            server_id=1,
            image=png(),
            bounds=(-4000, 8000, 4500, -4000),
            now=provision.now(),
        )
    provision.revoke(alpha, spare)
    dispatcher(provision, alpha, "alice", community_user_id="license:alice")
    for number, name in enumerate(["alice", "bob"]):
        account = alpha.accounts.get(name) or provision.account(alpha, name, f"license:{name}")
        provision.unit(alpha, account["uuid"], server_id=1, unit_num=f"1A-0{number}")
    beta_account = provision.account(beta, "carol", "license:carol")
    with provision.db.transaction() as conn:  # an older in-game id of bob's (no API sets one yet)
        conn.execute(
            account_api_ids.insert().values(
                community_id=alpha.community_id,
                api_id="steam:110000100000001",
                account_uuid=alpha.accounts["bob"]["uuid"],
            )
        )
    provision.unit(beta, beta_account["uuid"])
    with provision.db.transaction() as conn:
        # After the units came on duty: their EVENT_UNIT_LOGIN, written at the provisioner's time (later
        # than the server's stopped clock), would never fall due for delivery.
        events.set_push_target(
            conn,
            community_id=alpha.community_id,
            server_id=1,
            now=provision.now(),
            url=receiver.url,
            body_key=alpha.api_key,
        )
    with provision.db.transaction() as conn:  # a dispatch template (the CLI's way in)
        calls.create_template(
            conn,
            community_id=alpha.community_id,
            template=NewDispatchTemplate.model_validate(UK_CONTROL_ROOM),
            now=provision.now(),
        )
        for n in range(3):  # an admin's actions
            audit.record(
                conn,
                community_id=alpha.community_id,
                actor_account_uuid="0" * 36,
                actor_name="root",
                action="key.create",
                target=f"key od_{n}",
                detail={"label": "bot"},
                now=provision.now(),
            )
        accounts.create_invite(  # an invite link not yet used
            conn, community_id=alpha.community_id, roles={"member"}, created_by="0" * 36, now=provision.now()
        )

    console = Console(server, alpha)  # a console session row
    console.close()
    dispatch_call_ids = []
    with server.client(alpha.api_key) as http:
        for number in range(3):
            assert http.post(f"{S1}/calls/911", json=new_911(caller=f"Caller {number}")).status_code == 200
        removed = http.post(f"{S1}/calls/911", json=new_911()).json()["callId"]
        assert http.delete(f"{S1}/calls/911/{removed}").status_code == 200
        assert http.post("/v2/emergency/servers/2/calls/911", json=new_911()).status_code == 200
        for title in ("Armed Robbery", "Traffic Stop", "Fire"):
            call = http.post(f"{S1}/dispatch-calls", json=new_dispatch(title=title)).json()
            dispatch_call_ids.append(call["callId"])
        first, second, third = dispatch_call_ids
        for call_id, users in ((first, ["license:alice", "license:bob"]), (second, ["license:bob"])):
            answer = http.post(f"{S1}/dispatch-calls/{call_id}/attachments", json={"communityUserIds": users})
            assert answer.status_code == 200, answer.text
        for call_id in (first, first, second):
            answer = http.post(f"{S1}/dispatch-calls/{call_id}/notes", json={"note": "Suspect fled north"})
            assert answer.status_code == 200, answer.text
        assert http.post(f"{S1}/dispatch-calls/close", json={"callIds": [third]}).status_code == 200
        postals = [{"code": "100", "x": 425.1, "y": -979.2}, {"code": "101", "x": 0, "y": 0}]
        assert http.put("/v2/general/postals", json={"postals": postals}).status_code == 200
        blip = {"coordinates": {"x": 1, "y": 2}, "data": [{"title": "Lanes", "text": "2"}]}
        assert http.post(f"{S1}/blips", json=blip).status_code == 200
        # A heartbeat, a server's stored configuration and an outstanding link code.
        assert http.post("/v2/general/servers/1/heartbeat", json={"playerCount": 7}).status_code == 200
        assert http.put(f"{S1}/callouts", json={"callouts": [{"id": "a", "data": {}}]}).status_code == 200
        assert http.post("/v2/general/links", json={"communityUserId": "license:dave"}).status_code == 200
    with server.client(beta.api_key) as http:
        assert http.post(f"{S1}/calls/911", json=new_911()).status_code == 200
        assert http.post(f"{S1}/dispatch-calls", json=new_dispatch()).status_code == 200
    delivered(provision)
    return Installation(alpha, beta, dispatch_call_ids)


def delivered(provision: Provisioner, timeout: float = 15) -> None:
    """Wait until the delivery worker has settled every event (delivered, or skipped: no target)."""
    deadline = time.monotonic() + timeout
    while provision.scalar("SELECT count(*) FROM events WHERE state = 'pending'"):
        assert time.monotonic() < deadline, "events were never delivered"
        time.sleep(0.02)
    assert provision.scalar("SELECT count(*) FROM delivery_attempts") > 0


def every_row(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in key order, as the application's types read them."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return {
                table.name: [
                    tuple(row)
                    for row in conn.execute(select(table).order_by(*table.primary_key.columns)).all()
                ]
                for table in metadata.sorted_tables
            }
    finally:
        engine.dispose()


def scalar(url: str, sql: str) -> Any:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()
    finally:
        engine.dispose()


def run_copy(source: str, target: str, *options: str) -> Result:
    return CliRunner().invoke(main, ["copy", "--from", source, "--to", target, *options])


def answers(server: Server, installation: Installation) -> list[Any]:
    """What the API answers over a database: every server's calls, and each dispatch call's history."""
    seen = []
    for community in (installation.alpha, installation.beta):
        with server.client(community.api_key) as http:
            for server_id in community.servers:
                calls = http.get(f"/v2/emergency/servers/{server_id}/calls", params={"closedLimit": 10})
                assert calls.status_code == 200, calls.text
                seen.append(calls.json())
    with server.client(installation.alpha.api_key) as http:
        for call_id in installation.dispatch_call_ids:
            seen.append(http.get(f"{S1}/dispatch-calls/{call_id}/history").json())
        seen.append(http.get("/v2/general/servers").json())
    return seen


def test_copy_keeps_every_row_and_id_and_the_copy_serves_alike(
    server: Server,
    provision: Provisioner,
    receiver: Receiver,
    database_url: str,
    target_url: str,
    clock: ManualClock,
) -> None:
    installation = fill(provision, server, receiver)
    server.stop()  # idle source: the comparison below needs it to stay as copied
    with provision.db.transaction() as conn:  # a game server's hub socket, as a serving process leases it
        conn.execute(
            hub_receivers.insert().values(
                community_id=installation.alpha.community_id, server_id=1, holder="a1b2c3d4", expires_at=1
            )
        )
    source_rows = every_row(database_url)
    assert all(source_rows[name] for name in source_rows), [n for n, rows in source_rows.items() if not rows]

    result = run_copy(database_url, target_url, "--json", "--batch-size", "2")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    report = json.loads(result.stdout)
    assert every_row(target_url) == source_rows
    assert report["tables"] == {name: len(rows) for name, rows in source_rows.items()}
    assert report["rows"] == sum(report["tables"].values())
    assert report["revision"] == scalar(database_url, "SELECT version_num FROM alembic_version")
    assert report["seconds"] >= 0
    if target_url.startswith("postgresql"):
        assert set(report["sequences"]) == {
            "api_keys.id",
            "identifiers.ident_id",
            "call_notes.note_id",
            "call_history.entry_id",
            "events.event_id",
            "delivery_attempts.attempt_id",
            "audit_log.entry_id",
            "account_invites.invite_id",
        }
    else:
        assert set(report["sequences"]) == {"events.event_id"}  # the one AUTOINCREMENT table
    # Progress on stderr: each table's count as it goes (batches of 2), and its total at the end.
    for name, rows in source_rows.items():
        assert f"{name}: {len(rows)}/{len(rows)} rows" in result.stderr
    # The first line comes before its table is done: 2 of the first table's rows (batches of 2).
    first = next(name for name, rows in source_rows.items() if len(rows) > 2)
    assert result.stderr.splitlines()[0] == f"{first}: 2/{len(source_rows[first])} rows", result.stderr

    last = {
        name: scalar(database_url, f"SELECT max({column}) FROM {name}") for name, column in GENERATED.items()
    }
    alpha = installation.alpha
    next_call_id = scalar(
        database_url, f"SELECT last_call_id + 1 FROM communities WHERE community_id = '{alpha.community_id}'"
    )
    over_target = Settings(database_url=target_url, expiry_interval_seconds=0.2)
    with in_process_server(server.settings, clock) as source, in_process_server(over_target, clock) as copy:
        assert answers(copy, installation) == answers(source, installation)
        with copy.client(alpha.api_key) as http:
            created = http.post(f"{S1}/calls/911", json=new_911())
            assert created.status_code == 200, created.text
            assert created.json()["callId"] == next_call_id
            call_id = installation.dispatch_call_ids[0]
            assert http.post(f"{S1}/dispatch-calls/{call_id}/notes", json={"note": "n"}).status_code == 200
        # The new events reach the receiver; wait for their attempts to be logged.
        deadline = time.monotonic() + 10
        while (
            scalar(target_url, "SELECT max(attempt_id) FROM delivery_attempts") == last["delivery_attempts"]
        ):
            assert time.monotonic() < deadline, "no delivery attempt of the new events was logged"
            time.sleep(0.02)
    key = CliRunner().invoke(
        main, ["key", "create", "--community", alpha.community_id, "--database", target_url]
    )
    assert key.exit_code == 0, key.stderr
    for name, column in GENERATED.items():
        # Each id generator continued right after the copied ids (on PostgreSQL: the sequences were set).
        first_new = scalar(target_url, f"SELECT min({column}) FROM {name} WHERE {column} > {last[name]}")
        assert first_new == last[name] + 1, name
    assert scalar(target_url, f"SELECT count(*) FROM call_history WHERE call_id = {next_call_id}") == 1


# Tables whose key the database generates, and that key.
GENERATED = {
    "call_history": "entry_id",
    "events": "event_id",
    "call_notes": "note_id",
    "delivery_attempts": "attempt_id",
    "api_keys": "id",
}


@contextmanager
def provision_on(url: str) -> Iterator[Provisioner]:
    """A provisioner over ``url`` (already migrated), closed on exit."""
    provisioner = Provisioner(url, migrate=False)
    try:
        yield provisioner
    finally:
        provisioner.close()


def test_a_target_holding_rows_is_refused_and_left_as_it_was(
    community: Community, database_url: str, target_url: str
) -> None:
    assert run_copy(database_url, target_url).exit_code == 0
    before = every_row(target_url)
    with provision_on(database_url) as source:
        source.community("Later")  # would be copied by a second run, were it allowed

    result = run_copy(database_url, target_url, "--json")
    assert result.exit_code != 0 and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Error: target already holds rows (in communities, ")
    assert line.endswith("copy only into an empty database")
    assert every_row(target_url) == before


def test_a_target_with_rows_at_an_older_schema_is_refused_before_it_is_migrated(
    community: Community, database_url: str, postgresql_url: str
) -> None:
    command.upgrade(alembic_config(postgresql_url), "0004")
    with provision_on(postgresql_url) as target, target.db.transaction() as conn:
        conn.execute(text("INSERT INTO communities VALUES ('x', 'x', 4, true, 0, 0)"))
    with pytest.raises(CopyRefused, match=r"target already holds rows \(in communities\)"):
        copy_database(database_url, postgresql_url)
    assert scalar(postgresql_url, "SELECT version_num FROM alembic_version") == "0004"


def test_a_failure_half_way_leaves_the_target_without_rows_and_a_second_run_copies(
    community: Community, provision: Provisioner, database_url: str, target_url: str
) -> None:
    provision.account(community, "alice", "license:alice")

    def fail_at_accounts(table: str, _copied: int, _total: int) -> None:
        if table == "accounts":
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        copy_database(database_url, target_url, progress=fail_at_accounts)
    assert scalar(target_url, "SELECT version_num FROM alembic_version") is not None  # migrated
    assert all(not rows for rows in every_row(target_url).values())

    copy_database(database_url, target_url)
    assert every_row(target_url) == every_row(database_url)


@pytest.mark.sqlite_only  # the source is a SQLite file of its own
def test_a_source_behind_the_schema_is_refused_and_nothing_is_written(
    tmp_path: Path, postgresql_url: str
) -> None:
    old = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(alembic_config(old), "0004")
    result = run_copy(old, postgresql_url)
    assert result.exit_code != 0
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Error: source is at schema revision 0004, this version copies revision ")
    assert "opendispatch migrate --database SOURCE" in line
    assert scalar(old, "SELECT version_num FROM alembic_version") == "0004"  # the source was not migrated
    assert (
        scalar(postgresql_url, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")
        == 0
    )


@pytest.mark.sqlite_only  # the source is a SQLite file of its own
def test_the_source_file_is_left_byte_for_byte_as_it_was(
    community: Community, database_url: str, tmp_path: Path, target_url: str
) -> None:
    # A backup: a file in rollback-journal mode, which the server's engine would switch to WAL.
    source = backup_sqlite(database_url, tmp_path / "backup.db").path
    before = source.read_bytes()
    copy_database(f"sqlite:///{source}", target_url)
    assert source.read_bytes() == before
    assert sorted(path.name for path in source.parent.iterdir() if path.name.startswith("backup")) == [
        "backup.db"
    ]


@pytest.mark.sqlite_only  # the source is a SQLite file of its own
def test_a_missing_source_file_is_refused_not_created(tmp_path: Path, postgresql_url: str) -> None:
    missing = tmp_path / "nothing-here.db"
    result = run_copy(f"sqlite:///{missing}", postgresql_url)
    assert result.exit_code != 0
    assert result.stderr.strip() == f"Error: source: no SQLite database at {missing}"
    assert not missing.exists()


def test_a_live_source_copies_as_one_consistent_instant(
    server: Server, community: Community, provision: Provisioner, database_url: str, target_url: str
) -> None:
    lift_limits(provision, community)
    stop = threading.Event()
    created: list[int] = []

    def keep_creating() -> None:
        with server.client(community.api_key) as http:
            while not stop.is_set():
                answer = http.post(f"{S1}/calls/911", json=new_911())
                assert answer.status_code == 200, answer.text
                created.append(answer.json()["callId"])

    writer = threading.Thread(target=keep_creating)
    writer.start()
    try:
        while len(created) < 20:
            time.sleep(0.01)
        acknowledged = len(created)
        copy_database(database_url, target_url, batch_rows=7)
    finally:
        stop.set()
        writer.join()
    copied_calls = scalar(target_url, "SELECT count(*) FROM emergency_calls")
    assert acknowledged <= copied_calls <= len(created)
    # The counters agree with the rows: both were read at the same instant.
    assert scalar(target_url, "SELECT last_call_id FROM communities") == scalar(
        target_url, "SELECT max(call_id) FROM emergency_calls"
    )
    assert scalar(target_url, "SELECT last_event_seq FROM servers WHERE server_id = 1") == scalar(
        target_url, "SELECT max(seq) FROM events WHERE server_id = 1"
    )
    assert scalar(target_url, "SELECT count(*) FROM call_history") == copied_calls
    assert scalar(target_url, "SELECT count(*) FROM events") == copied_calls
