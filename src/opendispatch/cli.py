"""The ``opendispatch`` command line: serve, and provision, list, change and disable communities, keys,
servers, accounts and units."""

from __future__ import annotations

import functools
import gc
import importlib.metadata
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

from opendispatch.accounts import service as accounts
from opendispatch.accounts.schemas import CONSOLE_ROLES, ROLES, AccountLookup, AccountSummary
from opendispatch.calls import service as calls
from opendispatch.calls.schemas import NewDispatchTemplate
from opendispatch.communities import service as communities
from opendispatch.communities.schemas import CommunitySummary, Plan
from opendispatch.errors import DomainError, InvalidInput
from opendispatch.events import service as events
from opendispatch.events.schemas import ServerChange, ServerChanges
from opendispatch.settings import Settings
from opendispatch.storage.backup import backup_sqlite
from opendispatch.storage.copy import BATCH_ROWS, copy_database
from opendispatch.storage.database import Database
from opendispatch.storage.migrate import schema_revision, upgrade
from opendispatch.units import service as units
from opendispatch.units.schemas import IdentifierChanges, UnitRecord
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


def _not_valid(exc: ValidationError, what: str) -> click.ClickException:
    problems = "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or what}: {error['msg']}" for error in exc.errors()
    )
    return click.ClickException(f"not a valid {what}: {problems}")


def _key_from_stdin(value: str) -> str:
    # A key given as an argument stays in shell history and in `ps`: only "-" (read stdin) is taken.
    if value != "-":
        raise click.ClickException(
            "an API key is never taken as an argument: give --key - and pipe the key on stdin"
        )
    api_key = sys.stdin.readline().strip()
    if not api_key:
        raise click.ClickException("no API key on stdin")
    return api_key


def _one_line_errors(func: F) -> F:
    # Operators' scripts read stderr: one clear line and a non-zero exit, never a traceback.
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except click.ClickException:
            raise  # already one line
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
    run_app(create_app(settings), settings)


def run_app(app: Any, settings: Settings) -> None:
    """Serve ``app`` with uvicorn as ``opendispatch serve`` does (the bench's bare stack runs it too)."""
    import uvicorn

    from opendispatch.ops.connections import guarded_protocol

    # Everything loaded so far (the modules, the app) lives as long as the process: out of the collector's
    # full passes it goes. Those passes walked it all and held requests for tens of milliseconds: create
    # 911's p99 at 32 clients was 85 ms with them, 13 ms without (docs/benchmarks.md).
    gc.collect()
    gc.freeze()
    # A young-generation pass every 700 objects more alive than freed ran about 680 times a second under
    # load, each walking the requests in flight and moving them on to older generations: 6 % of a core
    # (11 us a create at 32 clients, measured with gc.callbacks). At 10,000 it did not run at all in
    # the same load: the requests' objects are freed by their reference counts first. Cycles still
    # collect once 10,000 more objects are alive than freed (a few MB at most).
    gc.set_threshold(10_000, *gc.get_threshold()[1:])
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=settings.access_log,
        proxy_headers=settings.proxy_headers,
        # Live streams never end by themselves; give them a moment, then stop.
        timeout_graceful_shutdown=5,
        http=guarded_protocol(
            max_connections=settings.max_connections,
            header_seconds=settings.header_timeout_seconds,
            body_seconds=settings.body_timeout_seconds,
        ),
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


def _community_text(one: CommunitySummary) -> str:
    switches = "disabled" if one.disabled else ("API on" if one.apiEnabled else "API off")
    return (
        f"{one.communityId}  {one.name}  ({one.plan}, {switches}, {one.servers} server(s), "
        f"{one.activeKeys} active key(s))"
    )


def _community_payload(one: CommunitySummary) -> dict[str, Any]:
    return {**one.model_dump(), "consolePath": console_link(one.communityId)}


@community.command("list")
@_database_option
@_json_option
@_one_line_errors
def community_list(database: str | None, as_json: bool) -> None:
    """List every community with its plan, switches, servers and active keys."""
    with _transaction(database) as conn:
        found = communities.list_communities(conn)
    _emit(
        as_json,
        {"communities": [_community_payload(one) for one in found]},
        "\n".join(_community_text(one) for one in found) or "No communities.",
    )


@community.command("show")
@click.option("--community", "community_id", required=True, help="Community id.")
@_database_option
@_json_option
@_one_line_errors
def community_show(community_id: str, database: str | None, as_json: bool) -> None:
    """Show a community: name, plan, API switch, whether it is disabled, and its console link."""
    with _transaction(database) as conn:
        one = communities.community_summary(conn, community_id)
    _emit(
        as_json,
        _community_payload(one),
        f"{_community_text(one)}\ncreated: {one.created}\nconsole: {console_link(one.communityId)}",
    )


@community.command("set")
@click.option("--community", "community_id", required=True, help="Community id.")
@click.option("--name", default=None, help="New name.")
@click.option("--plan", default=None, type=click.Choice([plan.name for plan in Plan], case_sensitive=False))
@click.option("--api/--no-api", "api_enabled", default=None, help="Switch the community's API on or off.")
@_database_option
@_json_option
@_one_line_errors
def community_set(
    community_id: str,
    name: str | None,
    plan: str | None,
    api_enabled: bool | None,
    database: str | None,
    as_json: bool,
) -> None:
    """Rename a community, change its plan, or switch its API (keys answer 403 while it is off)."""
    if name is None and plan is None and api_enabled is None:
        raise click.ClickException("nothing to change: give --name, --plan or --api/--no-api")
    with _transaction(database) as conn:
        one = communities.change_community(
            conn,
            community_id=community_id,
            name=name,
            plan=Plan[plan.upper()] if plan else None,
            api_enabled=api_enabled,
        )
    _emit(as_json, _community_payload(one), _community_text(one))


def _community_switch(community_id: str, database: str | None, as_json: bool, disabled: bool) -> None:
    with _transaction(database) as conn:
        one = communities.set_community_disabled(
            conn, community_id=community_id, disabled=disabled, now=_now()
        )
    _emit(as_json, _community_payload(one), _community_text(one))


@community.command("disable")
@click.option("--community", "community_id", required=True, help="Community id.")
@_database_option
@_json_option
@_one_line_errors
def community_disable(community_id: str, database: str | None, as_json: bool) -> None:
    """Disable a community: its keys are refused, its console sessions end and its logins are refused."""
    _community_switch(community_id, database, as_json, disabled=True)


@community.command("enable")
@click.option("--community", "community_id", required=True, help="Community id.")
@_database_option
@_json_option
@_one_line_errors
def community_enable(community_id: str, database: str | None, as_json: bool) -> None:
    """Enable a disabled community again."""
    _community_switch(community_id, database, as_json, disabled=False)


@main.group()
def key() -> None:
    """API keys."""


@key.command("create")
@click.option("--community", "community_id", required=True, help="Community id.")
@click.option("--label", default=None, help="A name to recognise the key by in `key list` (at most 64).")
@_database_option
@_json_option
@_one_line_errors
def key_create(community_id: str, label: str | None, database: str | None, as_json: bool) -> None:
    """Issue another API key for a community (for rotation); it is shown this once."""
    with _transaction(database) as conn:
        api_key = communities.create_api_key(conn, community_id=community_id, now=_now(), label=label)
    _emit(as_json, {"apiKey": api_key}, api_key)


@key.command("list")
@click.option("--community", "community_id", required=True, help="Community id.")
@click.option("--all", "include_revoked", is_flag=True, help="Revoked keys too.")
@_database_option
@_json_option
@_one_line_errors
def key_list(community_id: str, include_revoked: bool, database: str | None, as_json: bool) -> None:
    """List the community's keys by prefix and label, with when each was created and last used."""
    with _transaction(database) as conn:
        found = communities.list_api_keys(conn, community_id=community_id, include_revoked=include_revoked)
    human = "\n".join(
        f"{one.prefix}…  {one.label or '-'}  created {one.created}  last used {one.lastUsed or 'never'}"
        + (f"  revoked {one.revoked}" if one.revoked else "")
        for one in found
    )
    _emit(
        as_json,
        {"communityId": community_id, "keys": [one.model_dump() for one in found]},
        human or "No keys.",
    )


@key.command("revoke")
@click.option("--community", "community_id", required=True, help="Community id.")
@click.option("--prefix", default=None, help="The key's prefix as `key list` shows it (or its start).")
@click.option("--label", default=None, help="The key's label.")
@click.option("--key", "key_input", default=None, metavar="-", help="'-': read the whole key from stdin.")
@_database_option
@_json_option
@_one_line_errors
def key_revoke(
    community_id: str,
    prefix: str | None,
    label: str | None,
    key_input: str | None,
    database: str | None,
    as_json: bool,
) -> None:
    """Revoke an API key named by its prefix, its label, or the key itself on stdin; it then gets 401."""
    if sum(given is not None for given in (prefix, label, key_input)) != 1:
        raise click.ClickException("name the key with exactly one of --prefix, --label or --key -")
    api_key = _key_from_stdin(key_input) if key_input is not None else None
    with _transaction(database) as conn:
        revoked = communities.revoke_api_key(
            conn, community_id=community_id, now=_now(), api_key=api_key, prefix=prefix, label=label
        )
        events.forget_revoked_key(conn, community_id=community_id, key_hash=revoked.key_hash)
    _emit(
        as_json,
        {"revoked": True, "key": revoked.info.model_dump()},
        f"Key {revoked.info.prefix}… revoked.",
    )


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


@server.command("set")
@click.option("--community", "community_id", required=True, help="Community id.")
@click.option("--server", "server_id", type=int, required=True, help="Server id.")
@click.option("--name", default=None, help="Server name.")
@click.option("--description", default=None)
@click.option("--signal", default=None)
@click.option("--map-url", default=None)
@click.option("--map-ip", default=None)
@click.option("--listener-port", default=None)
@click.option("--outbound-ip", default=None)
@_database_option
@_json_option
@_one_line_errors
def server_set(
    community_id: str,
    server_id: int,
    name: str | None,
    description: str | None,
    signal: str | None,
    map_url: str | None,
    map_ip: str | None,
    listener_port: str | None,
    outbound_ip: str | None,
    database: str | None,
    as_json: bool,
) -> None:
    """Change a server's name and the docs' server fields, as `PUT /v2/general/servers` does."""
    given = {
        "name": name,
        "description": description,
        "signal": signal,
        "mapUrl": map_url,
        "mapIp": map_ip,
        "listenerPort": listener_port,
        "outboundIp": outbound_ip,
    }
    fields = {field: value for field, value in given.items() if value is not None}
    if not fields:
        raise click.ClickException("nothing to change: give --name or another server field")
    try:
        change = ServerChange.model_validate({"id": server_id, **fields})
    except ValidationError as exc:
        raise _not_valid(exc, "server change") from None
    with _transaction(database) as conn:
        communities.require_community(conn, community_id)
        communities.require_server(conn, community_id, server_id)
        listed = events.change_server_settings(
            conn, community_id=community_id, changes=ServerChanges(servers=[change]), now=_now()
        )
    [changed] = [one for one in listed.servers if one.id == server_id]
    _emit(
        as_json,
        {"communityId": community_id, "server": changed.model_dump()},
        f"server {changed.id}: {changed.name}",
    )


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
@click.option("--admin", is_flag=True, help="Runs the community; the password is read as for --dispatcher.")
@click.option(
    "--role",
    "role_names",
    multiple=True,
    type=click.Choice(ROLES),
    help="A role (repeat for several). Default: member (no console login).",
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
    admin: bool,
    role_names: tuple[str, ...],
    database: str | None,
    as_json: bool,
) -> None:
    """Create an account with its roles; its secret uuid is shown once."""
    roles = set(role_names)
    if dispatcher:
        roles.add("dispatcher")
    if admin:
        roles.add("admin")
    roles = roles or {"member"}
    password_hash = _new_password_hash() if roles & CONSOLE_ROLES else None
    with _transaction(database) as conn:
        created = units.create_account(
            conn,
            community_id=community_id,
            username=username,
            now=_now(),
            community_user_id=community_user_id,
            discord=discord,
            roblox=roblox,
            roles=roles,
        )
        if password_hash is not None:
            sessions.set_password(
                conn, community_id=community_id, username=username, password_hash=password_hash
            )
    ordered = [role for role in ROLES if role in roles]
    payload: dict[str, Any] = {
        "accountUuid": created.account_uuid,
        "secretUuid": created.secret_uuid,
        "roles": ordered,
    }
    human = f"accountUuid: {created.account_uuid}\nsecretUuid:  {created.secret_uuid}\nroles:       "
    human += ", ".join(ordered)
    if "dispatcher" in roles:
        payload["dispatcher"] = True
    if password_hash is not None:
        human += " (log in at /console)"
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
        roles = accounts.account_summary(
            conn, community_id=community_id, lookup=AccountLookup(accountUuid=account_uuid)
        ).roles
    _emit(
        as_json,
        {"accountUuid": account_uuid, "dispatcher": "dispatcher" in roles, "roles": roles},
        "Password set; open sessions ended.",
    )


def _account_options(func: F) -> F:
    func = click.option("--username", default=None, help="Account username (or --account).")(func)
    func = click.option("--account", "account_uuid", default=None, help="Account uuid (or --username).")(func)
    return click.option("--community", "community_id", required=True, help="Community id.")(func)


def _lookup(account_uuid: str | None, username: str | None) -> AccountLookup:
    if (account_uuid is None) == (username is None):
        raise click.ClickException("name the account with exactly one of --account UUID or --username NAME")
    return AccountLookup(accountUuid=account_uuid, username=username)


def _account_text(one: AccountSummary) -> str:
    ids = [
        f"{name} {value}"
        for name, value in (("user", one.communityUserId), ("discord", one.discord), ("roblox", one.roblox))
        if value
    ]
    return (
        f"{one.accountUuid}  {one.username}  [{', '.join(one.roles) or 'no roles'}]"
        + ("  DISABLED" if one.disabled else "")
        + (f"  ({', '.join(ids)})" if ids else "")
    )


@account.command("list")
@click.option("--community", "community_id", required=True, help="Community id.")
@_database_option
@_json_option
@_one_line_errors
def account_list(community_id: str, database: str | None, as_json: bool) -> None:
    """List the community's accounts with their roles and ids."""
    with _transaction(database) as conn:
        found = accounts.account_summaries(conn, community_id=community_id)
    _emit(
        as_json,
        {"communityId": community_id, "accounts": [one.model_dump() for one in found]},
        "\n".join(_account_text(one) for one in found) or "No accounts.",
    )


@account.command("show")
@_account_options
@_database_option
@_json_option
@_one_line_errors
def account_show(
    community_id: str, account_uuid: str | None, username: str | None, database: str | None, as_json: bool
) -> None:
    """Show one account: ids, roles, whether it may log in, its API ids and how many units it has."""
    lookup = _lookup(account_uuid, username)
    with _transaction(database) as conn:
        one = accounts.account_summary(conn, community_id=community_id, lookup=lookup)
    lines = [
        _account_text(one),
        f"password: {'set' if one.hasPassword else 'none'}; last login: {one.lastLogin or 'never'}",
        f"created: {one.created}; units: {one.identifiers}; API ids: {', '.join(one.apiIds) or 'none'}",
    ]
    _emit(as_json, one.model_dump(), "\n".join(lines))


@account.command("set")
@_account_options
@click.option("--new-username", default=None, help="Rename the account.")
@click.option("--community-user-id", default=None, help="Linked in-game identifier ('' unlinks).")
@click.option("--discord", default=None, help="Discord user id ('' clears).")
@click.option("--roblox", default=None, help="Roblox user id ('' clears).")
@click.option("--add-role", "add_roles", multiple=True, type=click.Choice(ROLES), help="Repeatable.")
@click.option("--remove-role", "remove_roles", multiple=True, type=click.Choice(ROLES), help="Repeatable.")
@_database_option
@_json_option
@_one_line_errors
def account_set(
    community_id: str,
    account_uuid: str | None,
    username: str | None,
    new_username: str | None,
    community_user_id: str | None,
    discord: str | None,
    roblox: str | None,
    add_roles: tuple[str, ...],
    remove_roles: tuple[str, ...],
    database: str | None,
    as_json: bool,
) -> None:
    """Change an account's username, ids or roles (set its password with `account password`)."""
    lookup = _lookup(account_uuid, username)
    if not (add_roles or remove_roles) and all(
        value is None for value in (new_username, community_user_id, discord, roblox)
    ):
        raise click.ClickException(
            "nothing to change: give --new-username, --community-user-id, --discord, --roblox, "
            "--add-role or --remove-role"
        )
    with _transaction(database) as conn:
        one = accounts.change_account(
            conn,
            community_id=community_id,
            lookup=lookup,
            username=new_username,
            community_user_id=community_user_id,
            discord=discord,
            roblox=roblox,
            add_roles=frozenset(add_roles),
            remove_roles=frozenset(remove_roles),
        )
    _emit(as_json, one.model_dump(), _account_text(one))


def _account_switch(
    community_id: str, lookup: AccountLookup, database: str | None, as_json: bool, disabled: bool
) -> None:
    with _transaction(database) as conn:
        one = accounts.set_account_disabled(
            conn, community_id=community_id, lookup=lookup, disabled=disabled, now=_now()
        )
    _emit(as_json, one.model_dump(), _account_text(one))


@account.command("disable")
@_account_options
@_database_option
@_json_option
@_one_line_errors
def account_disable(
    community_id: str, account_uuid: str | None, username: str | None, database: str | None, as_json: bool
) -> None:
    """Disable an account: it cannot log in to the console and its sessions end (its units stay)."""
    _account_switch(community_id, _lookup(account_uuid, username), database, as_json, disabled=True)


@account.command("enable")
@_account_options
@_database_option
@_json_option
@_one_line_errors
def account_enable(
    community_id: str, account_uuid: str | None, username: str | None, database: str | None, as_json: bool
) -> None:
    """Enable a disabled account again."""
    _account_switch(community_id, _lookup(account_uuid, username), database, as_json, disabled=False)


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


def _unit_text(one: UnitRecord) -> str:
    servers = ", ".join(map(str, one.selectedOn)) or "none"
    return (
        f"{one.identId}  {one.unitNum or '-'}  {one.name or '-'}  ({one.username}; "
        f"department {one.department or '-'}; selected on {servers}"
        + (f"; call {one.callId}" if one.callId is not None else "")
        + ")"
    )


@unit.command("list")
@click.option("--community", "community_id", required=True, help="Community id.")
@click.option("--account", "account_uuid", default=None, help="Only this account's units.")
@click.option("--server", "server_id", type=int, default=None, help="Only the units selected on it.")
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1, 10_000))
@_database_option
@_json_option
@_one_line_errors
def unit_list(
    community_id: str,
    account_uuid: str | None,
    server_id: int | None,
    limit: int,
    database: str | None,
    as_json: bool,
) -> None:
    """List the community's units by id, with their account and the servers they are selected on."""
    with _transaction(database) as conn:
        found = units.unit_records(
            conn, community_id=community_id, account_uuid=account_uuid, server_id=server_id, limit=limit
        )
    _emit(
        as_json,
        {"communityId": community_id, "units": [one.model_dump() for one in found]},
        "\n".join(_unit_text(one) for one in found) or "No units.",
    )


@unit.command("show")
@click.option("--community", "community_id", required=True, help="Community id.")
@click.option("--unit", "ident_id", type=int, required=True, help="Unit (identifier) id.")
@_database_option
@_json_option
@_one_line_errors
def unit_show(community_id: str, ident_id: int, database: str | None, as_json: bool) -> None:
    """Show one unit with every field, its status, location and current call."""
    with _transaction(database) as conn:
        one = units.unit_record(conn, community_id=community_id, ident_id=ident_id)
    fields = one.model_dump(exclude={"identId", "unitNum", "name", "username", "selectedOn", "callId"})
    lines = [_unit_text(one)] + [f"  {name}: {value}" for name, value in fields.items()]
    _emit(as_json, one.model_dump(), "\n".join(lines))


@unit.command("set")
@click.option("--community", "community_id", required=True, help="Community id.")
@click.option("--unit", "ident_id", type=int, required=True, help="Unit (identifier) id.")
@click.option("--unit-num", default=None, help="Unit number, e.g. 1A-01.")
@click.option("--name", default=None)
@click.option("--department", default=None)
@click.option("--district", default=None)
@click.option("--subdivision", default=None)
@click.option("--rank", default=None)
@click.option("--group", default=None, help="Persistent group, e.g. CAR-51 ('' for none).")
@click.option("--select-on", type=int, default=None, help="Make it the account's unit on this server.")
@_database_option
@_json_option
@_one_line_errors
def unit_set(
    community_id: str,
    ident_id: int,
    unit_num: str | None,
    name: str | None,
    department: str | None,
    district: str | None,
    subdivision: str | None,
    rank: str | None,
    group: str | None,
    select_on: int | None,
    database: str | None,
    as_json: bool,
) -> None:
    """Change a unit's fields, or select it on a server for its account."""
    given = {
        "unitNum": unit_num,
        "name": name,
        "department": department,
        "district": district,
        "subdivision": subdivision,
        "rank": rank,
        "group": group,
    }
    fields = {field: value for field, value in given.items() if value is not None}
    if not fields and select_on is None:
        raise click.ClickException("nothing to change: give a field such as --unit-num, or --select-on")
    try:
        changes = IdentifierChanges.model_validate(fields)
    except ValidationError as exc:
        raise _not_valid(exc, "unit change") from None
    with _transaction(database) as conn:
        one = units.change_unit(
            conn,
            community_id=community_id,
            ident_id=ident_id,
            changes=changes,
            now=_now(),
            select_on=select_on,
        )
    _emit(as_json, one.model_dump(), _unit_text(one))


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
        raise _not_valid(exc, "template") from None
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
    "--key",
    "key_input",
    default=None,
    metavar="-",
    help="'-': read the API key sent as `key` in each body from stdin (default: a new one).",
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
    key_input: str | None,
    enabled: bool | None,
    database: str | None,
    as_json: bool,
) -> None:
    """Create or change a server's push target."""
    issued = None
    body_key = _key_from_stdin(key_input) if key_input is not None else None
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
@_json_option
@_one_line_errors
def status(database: str | None, as_json: bool) -> None:
    """What an operator looks for first: version, database, communities, servers, keys and push events."""
    url = make_url(_settings(database).database_url).render_as_string(hide_password=True)
    with _transaction(database) as conn:
        found = communities.list_communities(conn)
        pushes = events.event_counts(conn)
        revision = schema_revision(conn)
    payload = {
        "version": importlib.metadata.version("opendispatch"),
        "database": url,
        "schemaRevision": revision,
        "communities": [_community_payload(one) for one in found],
        "servers": sum(one.servers for one in found),
        "activeKeys": sum(one.activeKeys for one in found),
        "pushEvents": pushes,
    }
    lines = [
        f"opendispatch {payload['version']}, database {url} (schema {revision})",
        f"{len(found)} communities, {payload['servers']} servers, {payload['activeKeys']} active keys",
        f"push events: {pushes['pending']} pending, {pushes['dead']} dead",
        *(f"  {_community_text(one)}" for one in found),
    ]
    _emit(as_json, payload, "\n".join(lines))


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
