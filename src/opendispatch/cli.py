"""The ``opendispatch`` command line: serve, and provision communities, keys, servers, accounts and units."""

from __future__ import annotations

import functools
import gc
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import click
from pydantic import ValidationError
from sqlalchemy import Connection
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from opendispatch.calls import service as calls
from opendispatch.calls.schemas import NewDispatchTemplate
from opendispatch.communities import service as communities
from opendispatch.communities.schemas import Plan
from opendispatch.errors import DomainError, InvalidInput
from opendispatch.events import service as events
from opendispatch.settings import Settings
from opendispatch.storage.backup import backup_sqlite
from opendispatch.storage.copy import BATCH_ROWS, copy_database
from opendispatch.storage.database import Database
from opendispatch.storage.migrate import upgrade
from opendispatch.units import service as units
from opendispatch.web import maps, sessions, tiles

F = TypeVar("F", bound=Callable[..., Any])


def _now() -> int:
    return time.time_ns() // 1_000_000


def _settings(database: str | None) -> Settings:
    settings = Settings()
    if database:
        settings = settings.model_copy(update={"database_url": database})
    return settings


@contextmanager
def _transaction(database: str | None) -> Iterator[Connection]:
    db = Database(_settings(database).database_url)
    try:
        upgrade(db.engine)
        with db.transaction() as conn:
            yield conn
    finally:
        db.close()


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def _database_option(func: F) -> F:
    return click.option(
        "--database",
        metavar="URL",
        default=None,
        help="Database URL (default: $OPENDISPATCH_DATABASE_URL or sqlite:///opendispatch.db).",
    )(func)


def _json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")(func)


def _emit(as_json: bool, payload: dict[str, Any], human: str) -> None:
    click.echo(json.dumps(payload) if as_json else human)


def _one_line_errors(func: F) -> F:
    # Operators' scripts read stderr: one clear line and a non-zero exit, never a traceback.
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DomainError as exc:
            raise click.ClickException(exc.detail) from None
        except DBAPIError as exc:
            raise click.ClickException(f"database error: {exc.orig}") from None
        except OSError as exc:
            raise click.ClickException(str(exc)) from None
        except Exception as exc:
            raise click.ClickException(f"unexpected error: {exc!r}") from None

    return wrapper  # type: ignore[return-value]


@click.group()
@click.version_option(package_name="opendispatch")
def main() -> None:
    """OpenDispatch: a self-hosted dispatch server speaking the Sonoran CAD API."""


@main.command()
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port to listen on (default 8080).")
@_database_option
@_one_line_errors
def serve(host: str | None, port: int | None, database: str | None) -> None:
    """Apply migrations, then serve the API."""
    import uvicorn

    from opendispatch.app import create_app

    settings = _settings(database)
    settings = settings.model_copy(update={"host": host or settings.host, "port": port or settings.port})
    with _transaction(settings.database_url) as conn:
        first = None
        if not communities.has_communities(conn):
            first = communities.create_community(conn, name="Default", now=_now())
    if first is not None:
        click.echo("First start: created community 'Default' with server 1.")
        click.echo(f"  communityId: {first.community_id}")
        click.echo(f"  apiKey:      {first.api_key}")
        click.echo("The key is shown only this once; keep it. Make more with `opendispatch key create`.")
    app = create_app(settings)
    # Everything loaded so far (the modules, the app) lives as long as the process: out of the collector's
    # full passes it goes. Those passes walked it all and held requests for tens of milliseconds: create
    # 911's p99 at 32 clients was 85 ms with them, 13 ms without (docs/benchmarks.md).
    gc.collect()
    gc.freeze()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=settings.access_log,
        proxy_headers=settings.proxy_headers,
        # Live streams never end by themselves; give them a moment, then stop.
        timeout_graceful_shutdown=5,
    )


@main.command()
@_database_option
@_one_line_errors
def migrate(database: str | None) -> None:
    """Apply database migrations and exit."""
    with _transaction(database):
        pass
    click.echo("Database is up to date.")


def _progress_lines(unit: str) -> Callable[[str, int, int], None]:
    """Progress on stderr: a line at most once a second, and one as each task is done."""
    last_line = 0.0

    def show(task: str, done: int, total: int) -> None:
        nonlocal last_line
        now = time.monotonic()
        if done >= total or now - last_line >= 1.0:
            last_line = now
            click.echo(f"{task}: {done}/{total} {unit}", err=True)

    return show


@main.command("copy")
@click.option("--from", "source", required=True, metavar="URL", help="Database to copy (read only).")
@click.option("--to", "target", required=True, metavar="URL", help="Empty database to copy into.")
@click.option("--batch-size", default=BATCH_ROWS, show_default=True, type=click.IntRange(min=1))
@_json_option
@_one_line_errors
def copy_command(source: str, target: str, batch_size: int, as_json: bool) -> None:
    """Copy a whole installation into an empty database (e.g. SQLite to PostgreSQL), keeping every id."""
    result = copy_database(source, target, batch_rows=batch_size, progress=_progress_lines("rows"))
    rows = sum(result.tables.values())
    _emit(
        as_json,
        {
            "tables": result.tables,
            "rows": rows,
            "sequences": result.sequences,
            "revision": result.revision,
            "seconds": round(result.seconds, 3),
        },
        f"Copied {rows} rows of {len(result.tables)} tables (schema {result.revision}) "
        f"to {make_url(target).render_as_string(hide_password=True)} in {result.seconds:.1f} s.",
    )


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@_database_option
@_json_option
@_one_line_errors
def backup(file: Path, force: bool, database: str | None, as_json: bool) -> None:
    """Copy the SQLite database to FILE while the server runs (PostgreSQL: use pg_dump)."""
    progress = _progress_lines("pages")
    result = backup_sqlite(
        _settings(database).database_url,
        file,
        force=force,
        progress=lambda done, total: progress("backup", done, total),
    )
    _emit(
        as_json,
        {"path": str(result.path), "bytes": result.bytes, "pages": result.pages, "revision": result.revision},
        f"Wrote {result.path}: {result.bytes} bytes, {result.pages} pages, schema {result.revision}, "
        "integrity ok.",
    )


@main.group()
def community() -> None:
    """Communities."""


@community.command("create")
@click.option("--name", required=True, help="Community name.")
@click.option("--servers", "servers_count", default=1, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--plan",
    default="PRO",
    show_default=True,
    type=click.Choice([plan.name for plan in Plan], case_sensitive=False),
)
@_database_option
@_json_option
@_one_line_errors
def community_create(name: str, servers_count: int, plan: str, database: str | None, as_json: bool) -> None:
    """Create a community with its servers and first API key."""
    with _transaction(database) as conn:
        created = communities.create_community(
            conn, name=name, now=_now(), servers_count=servers_count, plan=Plan[plan.upper()]
        )
    link = console_link(created.community_id)
    _emit(
        as_json,
        {
            "communityId": created.community_id,
            "apiKey": created.api_key,
            "servers": created.servers,
            "consolePath": link,
        },
        f"communityId: {created.community_id}\napiKey:      {created.api_key}\n"
        f"servers:     {', '.join(map(str, created.servers))}\n"
        f"console:     {link}  (after this server's address: the login form fills in the community)",
    )


def console_link(community_id: str) -> str:
    """The console path a host hands a community's dispatchers: its login form has the id filled in."""
    return f"/console?{urlencode({'community': community_id})}"


@main.group()
def key() -> None:
    """API keys."""


@key.command("create")
@click.option("--community", "community_id", required=True, help="Community id.")
@_database_option
@_json_option
@_one_line_errors
def key_create(community_id: str, database: str | None, as_json: bool) -> None:
    """Issue another API key for a community (for rotation)."""
    with _transaction(database) as conn:
        api_key = communities.create_api_key(conn, community_id=community_id, now=_now())
    _emit(as_json, {"apiKey": api_key}, api_key)


@key.command("revoke")
@click.option("--community", "community_id", required=True, help="Community id.")
@click.option("--key", "api_key", required=True, help="The key to revoke.")
@_database_option
@_json_option
@_one_line_errors
def key_revoke(community_id: str, api_key: str, database: str | None, as_json: bool) -> None:
    """Revoke an API key; requests with it get 401."""
    with _transaction(database) as conn:
        communities.revoke_api_key(conn, community_id=community_id, api_key=api_key, now=_now())
        events.forget_body_key(conn, community_id=community_id, api_key=api_key)
    _emit(as_json, {"revoked": True}, "Key revoked.")


@main.group()
def server() -> None:
    """Servers of a community."""


@server.command("add")
@click.option("--community", "community_id", required=True, help="Community id.")
@click.option("--name", default=None, help="Server name (default 'Server N').")
@_database_option
@_json_option
@_one_line_errors
def server_add(community_id: str, name: str | None, database: str | None, as_json: bool) -> None:
    """Add the community's next server."""
    with _transaction(database) as conn:
        server_id = communities.add_server(conn, community_id=community_id, now=_now(), name=name)
    _emit(as_json, {"serverId": server_id}, f"serverId: {server_id}")


@server.command("list")
@click.option("--community", "community_id", required=True, help="Community id.")
@_database_option
@_json_option
@_one_line_errors
def server_list(community_id: str, database: str | None, as_json: bool) -> None:
    """List the community's servers with their last heartbeat."""
    with _transaction(database) as conn:
        communities.require_community(conn, community_id)
        listed = events.server_settings(conn, community_id).servers
        beats = {
            one.id: communities.server_heartbeat(conn, community_id=community_id, server_id=one.id)
            for one in listed
        }
    rows = [
        {**one.model_dump(), "heartbeat": beat.model_dump() if (beat := beats[one.id]) else None}
        for one in listed
    ]
    human = "\n".join(
        f"server {row['id']}: {row['name']} ({_heartbeat_text(beats[row['id']])})" for row in rows
    )
    _emit(as_json, {"communityId": community_id, "servers": rows}, human or "No servers.")


def _heartbeat_text(beat: Any) -> str:
    return f"{beat.playerCount} players at {beat.receivedAtUtc}" if beat else "no heartbeat yet"


@server.command("show")
@click.option("--community", "community_id", required=True, help="Community id.")
@click.option("--server", "server_id", type=int, required=True, help="Server id.")
@_database_option
@_json_option
@_one_line_errors
def server_show(community_id: str, server_id: int, database: str | None, as_json: bool) -> None:
    """Show a server's settings, its last heartbeat and the configuration the in-game resource stored."""
    with _transaction(database) as conn:
        communities.require_community(conn, community_id)
        communities.require_server(conn, community_id, server_id)
        [settings] = [
            one for one in events.server_settings(conn, community_id).servers if one.id == server_id
        ]
        beat = communities.server_heartbeat(conn, community_id=community_id, server_id=server_id)
        config = communities.server_configuration(conn, community_id=community_id, server_id=server_id)
    payload = {
        "communityId": community_id,
        "server": settings.model_dump(),
        "heartbeat": beat.model_dump() if beat else None,
        "configuration": config.model_dump(),
    }
    lines = [f"server {settings.id}: {settings.name}", f"heartbeat: {_heartbeat_text(beat)}"]
    lines += [
        f"  {name}: {value}" for name, value in settings.model_dump().items() if name not in ("id", "name")
    ]
    stations = config.stations or {}
    lines += [
        f"stations: {len(stations.get('locations', []))} locations" if config.stations else "stations: none",
        f"callouts: {len(config.callouts)}" if config.callouts is not None else "callouts: none",
        f"street signs: {len(config.streetSigns)}"
        if config.streetSigns is not None
        else "street signs: none",
        f"pager: {len(config.pager.get('nodes', []))} nodes" if config.pager else "pager: none",
    ]
    _emit(as_json, payload, "\n".join(lines))


@main.group()
def account() -> None:
    """Accounts of a community."""


@account.command("create")
@click.option("--community", "community_id", required=True, help="Community id.")
@click.option("--username", required=True, help="Account username.")
@click.option("--community-user-id", default=None, help="Linked in-game identifier, e.g. license:abc123.")
@click.option("--discord", default=None, help="The account's Discord user id (digits).")
@click.option("--roblox", default=None, help="The account's Roblox user id (digits).")
@click.option(
    "--dispatcher",
    is_flag=True,
    help="May log in to the console; the password is read from stdin (asked twice at a terminal).",
)
@_database_option
@_json_option
@_one_line_errors
def account_create(
    community_id: str,
    username: str,
    community_user_id: str | None,
    discord: str | None,
    roblox: str | None,
    dispatcher: bool,
    database: str | None,
    as_json: bool,
) -> None:
    """Create an account; its secret uuid is shown once."""
    password_hash = _new_password_hash() if dispatcher else None
    with _transaction(database) as conn:
        created = units.create_account(
            conn,
            community_id=community_id,
            username=username,
            now=_now(),
            community_user_id=community_user_id,
            discord=discord,
            roblox=roblox,
        )
        if password_hash is not None:
            sessions.set_password(
                conn, community_id=community_id, username=username, password_hash=password_hash
            )
    payload: dict[str, Any] = {"accountUuid": created.account_uuid, "secretUuid": created.secret_uuid}
    human = f"accountUuid: {created.account_uuid}\nsecretUuid:  {created.secret_uuid}"
    if dispatcher:
        payload["dispatcher"] = True
        human += "\ndispatcher:  yes (log in at /console)"
    _emit(as_json, payload, human)


def _new_password_hash() -> str:
    # Never an option or an argument: those end up in shell history and `ps`. Piped: the first line.
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    sessions.check_password_rules(password)
    return sessions.hash_password(password)


@account.command("password")
@click.option("--community", "community_id", required=True, help="Community id.")
@click.option("--username", required=True, help="Account username.")
@_database_option
@_json_option
@_one_line_errors
def account_password(community_id: str, username: str, database: str | None, as_json: bool) -> None:
    """Set an account's console password (read from stdin); it becomes a dispatcher, its sessions end."""
    password_hash = _new_password_hash()
    with _transaction(database) as conn:
        account_uuid = sessions.set_password(
            conn, community_id=community_id, username=username, password_hash=password_hash
        )
    _emit(as_json, {"accountUuid": account_uuid, "dispatcher": True}, "Password set; open sessions ended.")


@main.group()
def unit() -> None:
    """Units (identifiers) of accounts."""


@unit.command("create")
@click.option("--community", "community_id", required=True, help="Community id.")
@click.option("--account", "account_uuid", required=True, help="Account uuid.")
@click.option("--server", "server_id", required=True, type=int, help="Server id.")
@click.option("--unit-num", default="", help="Unit number, e.g. 1A-01.")
@click.option("--name", default="", help="Unit name.")
@_database_option
@_json_option
@_one_line_errors
def unit_create(
    community_id: str,
    account_uuid: str,
    server_id: int,
    unit_num: str,
    name: str,
    database: str | None,
    as_json: bool,
) -> None:
    """Create a unit and make it the account's selected unit on the server."""
    with _transaction(database) as conn:
        ident_id = units.create_unit(
            conn,
            community_id=community_id,
            account_uuid=account_uuid,
            server_id=server_id,
            now=_now(),
            unit_num=unit_num,
            name=name,
        )
    _emit(as_json, {"identId": ident_id}, f"identId: {ident_id}")


@main.group()
def template() -> None:
    """Dispatch templates: the layouts of custom dispatch calls."""


@template.command("create")
@click.option("--community", "community_id", required=True, help="Community id.")
@click.option(
    "--file",
    "layout_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path, allow_dash=True),
    help="JSON file {name, isDefault?, statusOptions, sections} ('-' reads stdin).",
)
@_database_option
@_json_option
@_one_line_errors
def template_create(community_id: str, layout_file: Path, database: str | None, as_json: bool) -> None:
    """Add a dispatch template to the community; the first one is its default."""
    raw = sys.stdin.read() if str(layout_file) == "-" else layout_file.read_text(encoding="utf-8")
    try:
        new = NewDispatchTemplate.model_validate_json(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'template'}: {error['msg']}"
            for error in exc.errors()
        )
        raise click.ClickException(f"not a valid template: {problems}") from None
    with _transaction(database) as conn:
        created = calls.create_template(conn, community_id=community_id, template=new, now=_now())
    _emit(
        as_json,
        created.model_dump(),
        f"templateId: {created.templateId}{' (default)' if created.isDefault else ''}",
    )


@template.command("list")
@click.option("--community", "community_id", required=True, help="Community id.")
@_database_option
@_json_option
@_one_line_errors
def template_list(community_id: str, database: str | None, as_json: bool) -> None:
    """List the community's dispatch templates."""
    with _transaction(database) as conn:
        communities.require_community(conn, community_id)
        found = calls.list_templates(conn, community_id=community_id)
    _emit(
        as_json,
        {"communityId": community_id, "templates": found.model_dump()},
        "\n".join(
            f"{t.templateId}: {t.name} (version {t.version}{', default' if t.isDefault else ''})"
            for t in found.root
        )
        or "no templates",
    )


@main.group()
def limits() -> None:
    """Per-key rate limits."""


@limits.command("set")
@click.option("--community", "community_id", required=True, help="Community id.")
@click.option("--endpoint", required=True, help="Endpoint name, e.g. create_911.")
@click.option("--per-minute", required=True, type=int, help="Requests per minute per API key.")
@_database_option
@_json_option
@_one_line_errors
def limits_set(
    community_id: str, endpoint: str, per_minute: int, database: str | None, as_json: bool
) -> None:
    """Change one endpoint's rate limit for a community's keys."""
    with _transaction(database) as conn:
        communities.set_rate_limit(conn, community_id=community_id, endpoint=endpoint, per_minute=per_minute)
    _emit(
        as_json,
        {"communityId": community_id, "endpoint": endpoint, "perMinute": per_minute},
        f"{endpoint}: {per_minute} per minute",
    )


@limits.command("show")
@click.option("--community", "community_id", default=None, help="Community id (default: the defaults).")
@_database_option
@_json_option
@_one_line_errors
def limits_show(community_id: str | None, database: str | None, as_json: bool) -> None:
    """List each endpoint's per-minute limit."""
    with _transaction(database) as conn:
        effective = communities.effective_limits(conn, community_id)
    _emit(
        as_json,
        {"communityId": community_id, "limits": effective},
        "\n".join(f"{name}: {per_minute} per minute" for name, per_minute in sorted(effective.items())),
    )


@main.group()
def push() -> None:
    """Push targets, the delivery log and redelivery."""


@push.command("set")
@click.option("--community", "community_id", required=True, help="Community id.")
@click.option("--server", "server_id", required=True, type=int, help="Server id.")
@click.option("--url", default=None, help="Receiver URL, e.g. http://10.0.0.5:3232/sonorancad/event.")
@click.option(
    "--shape",
    type=click.Choice(["array", "object"]),
    default=None,
    help="data as a list of one object (documented) or the bare object (in-game receiver). Default array.",
)
@click.option(
    "--key", "body_key", default=None, help="API key sent as `key` in each body (default: a new one)."
)
@click.option("--enable/--disable", "enabled", default=None, help="Turn delivery on or off.")
@_database_option
@_json_option
@_one_line_errors
def push_set(
    community_id: str,
    server_id: int,
    url: str | None,
    shape: str | None,
    body_key: str | None,
    enabled: bool | None,
    database: str | None,
    as_json: bool,
) -> None:
    """Create or change a server's push target."""
    issued = None
    with _transaction(database) as conn:
        if body_key is not None:
            communities.require_active_key(conn, community_id=community_id, api_key=body_key)
        elif not any(
            target.serverId == server_id and has_key for target, _s, has_key in _targets(conn, community_id)
        ):
            # The receiver checks the body's key against its own API key: issue one for it.
            body_key = issued = communities.create_api_key(conn, community_id=community_id, now=_now())
        target, secret = events.set_push_target(
            conn,
            community_id=community_id,
            server_id=server_id,
            now=_now(),
            url=url,
            shape=shape,  # type: ignore[arg-type]
            enabled=enabled,
            body_key=body_key,
        )
    payload: dict[str, Any] = {**target.model_dump(), "signingSecret": secret}
    if issued:
        payload["apiKey"] = issued
    human = (
        f"server {target.serverId}: {target.url} ({target.shape}, {'on' if target.enabled else 'off'})\n"
        f"signing secret: {secret}"
    )
    if issued:
        human += f"\nnew API key for the receiver (shown once): {issued}"
    _emit(as_json, payload, human)


def _targets(conn: Connection, community_id: str) -> list[tuple[Any, str, bool]]:
    communities.require_community(conn, community_id)
    return events.push_targets_with_keys(conn, community_id)


@push.command("show")
@click.option("--community", "community_id", required=True, help="Community id.")
@_database_option
@_json_option
@_one_line_errors
def push_show(community_id: str, database: str | None, as_json: bool) -> None:
    """List the community's push targets with their signing secrets."""
    with _transaction(database) as conn:
        targets = _targets(conn, community_id)
    rows = [
        {**target.model_dump(), "signingSecret": secret, "hasKey": has_key}
        for target, secret, has_key in targets
    ]
    human = "\n".join(
        f"server {row['serverId']}: {row['url']} ({row['shape']}, {'on' if row['enabled'] else 'off'}) "
        f"secret {row['signingSecret']}"
        for row in rows
    )
    _emit(as_json, {"communityId": community_id, "targets": rows}, human or "No push targets.")


@push.command("log")
@click.option("--community", "community_id", required=True, help="Community id.")
@click.option("--server", "server_id", type=int, default=None, help="Only this server.")
@click.option("--event", "event_id", type=int, default=None, help="Only this event.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@_database_option
@_json_option
@_one_line_errors
def push_log(
    community_id: str,
    server_id: int | None,
    event_id: int | None,
    limit: int,
    database: str | None,
    as_json: bool,
) -> None:
    """Show delivery attempts, newest first."""
    with _transaction(database) as conn:
        communities.require_community(conn, community_id)
        attempts = events.delivery_log(
            conn, community_id=community_id, server_id=server_id, event_id=event_id, limit=limit
        )
    human = "\n".join(
        f"{a.time} event {a.eventId} {a.eventType} server {a.serverId} -> "
        f"{a.statusCode if a.statusCode is not None else '-'} {a.latencyMs}ms {a.state}"
        + (f" ({a.error})" if a.error else "")
        for a in attempts
    )
    _emit(as_json, {"attempts": [a.model_dump() for a in attempts]}, human or "No delivery attempts.")


@push.command("redeliver")
@click.argument("event_id", type=int, required=False)
@click.option("--community", "community_id", required=True, help="Community id.")
@click.option("--server", "server_id", type=int, default=None, help="With --dead: the server.")
@click.option("--dead", is_flag=True, help="Send every dead event of --server again.")
@_database_option
@_json_option
@_one_line_errors
def push_redeliver(
    event_id: int | None,
    community_id: str,
    server_id: int | None,
    dead: bool,
    database: str | None,
    as_json: bool,
) -> None:
    """Queue an event (or all dead events of a server) for delivery again."""
    if (event_id is None) == (not dead or server_id is None):
        raise click.UsageError("give either EVENT_ID, or --dead with --server N")
    settings = _settings(database)
    with _transaction(database) as conn:
        queued = events.redeliver(
            conn,
            community_id=community_id,
            now=_now(),
            max_age_ms=int(settings.push_max_age_seconds * 1000),
            event_id=event_id,
            server_id=server_id if dead else None,
        )
    _emit(as_json, {"eventIds": queued}, f"queued {len(queued)} event(s) for delivery")


@main.group("map")
def map_group() -> None:
    """Map images of servers, drawn under the console's map and the location snapshots."""


@map_group.command("set")
@click.option("--community", "community_id", required=True, help="Community id.")
@click.option("--server", "server_id", required=True, type=int, help="Server id.")
@click.option(
    "--image",
    "image_path",
    required=True,
    type=click.Path(exists=True, readable=True),
    help="PNG, JPEG or WebP file, at most 8192 pixels a side; or a folder holding the six GTA V map tiles "
    "minimap_sea_{0..2}_{0..1} (.png, .webp, .jpg, .jpeg or .dds), composed into one image.",
)
@click.option(
    "--bounds",
    default=None,
    metavar="X1,Y1,X2,Y2",
    help="Game coordinates of the image's top-left (X1,Y1) and bottom-right (X2,Y2) corners. Required "
    "for a file; for a tile folder the game's own tile grid, -4140,8400,4860,-5100, unless given.",
)
@_database_option
@_json_option
@_one_line_errors
def map_set(
    community_id: str,
    server_id: int,
    image_path: str,
    bounds: str | None,
    database: str | None,
    as_json: bool,
) -> None:
    """Give a server its map image (a file, or a folder of the game's six map tiles) and the game
    coordinates of its corners."""
    source = Path(image_path)
    if source.is_dir():
        corners = tiles.TILE_SET_BOUNDS if bounds is None else maps.parse_bounds(bounds)
        image = tiles.compose_tile_set(tiles.read_tile_set(source))
    else:
        if bounds is None:
            raise InvalidInput(
                "--bounds X1,Y1,X2,Y2 is required for an image file (only a minimap_sea tile folder has "
                "default corners).",
                {"bounds": "missing"},
            )
        corners = maps.parse_bounds(bounds)
        image = source.read_bytes()
    with _transaction(database) as conn:
        info = maps.set_map(
            conn, community_id=community_id, server_id=server_id, image=image, bounds=corners, now=_now()
        )
    _emit(
        as_json,
        {"serverId": server_id, "width": info.width, "height": info.height, "bounds": info.bounds},
        f"server {server_id}: {info.width}×{info.height} image"
        + (" composed of the six minimap_sea tiles" if source.is_dir() else "")
        + f", corners {info.bounds}",
    )


@map_group.command("clear")
@click.option("--community", "community_id", required=True, help="Community id.")
@click.option("--server", "server_id", required=True, type=int, help="Server id.")
@_database_option
@_json_option
@_one_line_errors
def map_clear(community_id: str, server_id: int, database: str | None, as_json: bool) -> None:
    """Take a server's map image away (the console draws a plain grid)."""
    with _transaction(database) as conn:
        maps.clear_map(conn, community_id=community_id, server_id=server_id)
    _emit(as_json, {"serverId": server_id, "cleared": True}, f"server {server_id}: map image cleared")


@main.command()
@_database_option
@_one_line_errors
def worker(database: str | None) -> None:
    """Deliver push events without serving the API (run `serve` with OPENDISPATCH_PUSH_WORKER=false)."""
    import asyncio

    from opendispatch.app import delivery_policy
    from opendispatch.clock import SystemClock
    from opendispatch.events.tasks import DeliveryWorker, listen_for_other_processes
    from opendispatch.ops.listener import metrics_listener

    settings = _settings(database)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    async def deliver() -> None:
        db = Database(settings.database_url)
        upgrade(db.engine)
        db.start()
        # Its delivery attempts are counted here, not in `serve`: this process shows them.
        metrics = metrics_listener(settings, db, SystemClock())
        if metrics is not None:
            await metrics.start()
        delivery = DeliveryWorker(db, SystemClock(), delivery_policy(settings))
        # On PostgreSQL the serving processes' commits wake this worker at once (NOTIFY), not its next poll.
        listening = (
            None
            if db.is_sqlite
            else asyncio.create_task(listen_for_other_processes(settings.database_url, None, delivery))
        )
        try:
            await delivery.run_forever()
        finally:
            if listening is not None:
                listening.cancel()
                with suppress(asyncio.CancelledError):
                    await listening
            if metrics is not None:
                await metrics.stop()
            await db.drain()
            db.close()

    click.echo("Delivering push events; Ctrl+C stops.")
    with suppress(KeyboardInterrupt):
        asyncio.run(deliver())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
