"""Real PostgreSQL and Redis for the tests: a pytest plugin that runs Debian's own binaries.

``scripts/test.sh`` installs Debian's ``postgresql`` and ``redis-server`` packages; this plugin starts one
server of each per test session on a free loopback port in a temporary folder, and gives each test a fresh
database (``postgresql_url``) and an empty Redis (``redis_url``). PostgreSQL refuses to run as root, so
when the tests run as root (CI, a fresh machine) ``initdb`` and ``postgres`` run as the ``postgres`` user
Debian's package creates, switched to by ``setpriv`` (util-linux, on every Debian), on a folder handed
over to that user. ``setpriv`` also makes each server die with the pytest that started it, so a killed
run leaves no server holding a port.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

INSTALL_HINT = "run scripts/test.sh once: it installs Debian's postgresql and redis-server packages"
START_SECONDS = 30.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def launcher(stop_signal: str, user: str | None = None) -> list[str]:
    """The ``setpriv`` prefix that runs a server as ``user`` (if given) and stops it when pytest dies."""
    if shutil.which("setpriv") is None:
        pytest.fail(f"setpriv (util-linux) is missing: {INSTALL_HINT}")
    # Without a death signal a server outlives a killed pytest, holding its port and folder.
    prefix = ["setpriv", f"--pdeathsig={stop_signal}"]
    if user is not None:
        prefix += [f"--reuid={user}", f"--regid={user}", "--clear-groups"]
    return [*prefix, "--"]


def _wait_until(ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path, what: str) -> None:
    """Poll ``ready`` until it says yes; fail with the server's log if it exits or the deadline passes."""
    deadline = time.monotonic() + START_SECONDS
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
            raise RuntimeError(f"{what} did not start (exit {process.returncode}):\n{tail}")
        time.sleep(0.05)


def _stop(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    """Ask a server to stop with ``sig``; kill it if it has not within ten seconds."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- PostgreSQL ------------------------------------------------------------------------------------------


def postgres_binaries(root: Path = Path("/usr/lib/postgresql")) -> Path:
    """The folder of Debian's PostgreSQL server binaries (the newest version installed)."""
    found = sorted(root.glob("*/bin/postgres"), key=lambda p: int(p.parts[-3]))
    if not found:
        pytest.fail(f"PostgreSQL is not installed (no {root}/*/bin/postgres): {INSTALL_HINT}")
    return found[-1].parent


@dataclass
class PostgresServer:
    """A running PostgreSQL: its port, superuser and folder, and how to make and drop databases."""

    port: int
    user: str
    folder: Path
    process: subprocess.Popen[bytes]
    command: list[str | Path] = field(default_factory=list)  # how it was started, to start it again

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of one of its databases, with the psycopg 3 driver the server uses."""
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        """A connection to the maintenance database; CREATE/DROP DATABASE need autocommit."""
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user=self.user, dbname="postgres", autocommit=True
        )

    def accepts_connections(self) -> bool:
        """Whether a client can connect and run a statement now."""
        try:
            with psycopg.connect(
                host="127.0.0.1", port=self.port, user=self.user, dbname="postgres", connect_timeout=1
            ) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    def create_database(self, template: str | None = None) -> str:
        """A new database with a unique name: empty, or a copy of ``template`` (quicker than migrating)."""
        name = f"test_{secrets.token_hex(6)}"
        copy_of = f' TEMPLATE "{template}"' if template else ""
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"{copy_of}')
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database, ending whatever connections a test left open to it."""
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def pause(self) -> None:
        """Stop the server, keeping its data: an outage, for tests of what clients see meanwhile."""
        _stop(self.process, signal.SIGINT)

    def resume(self) -> None:
        """Start it again on the same port and data, after ``pause``."""
        log = self.folder / "postgres.log"
        with log.open("ab") as out:
            self.process = subprocess.Popen(self.command, stdout=out, stderr=subprocess.STDOUT, cwd="/")
        _wait_until(self.accepts_connections, self.process, log, "PostgreSQL")

    def stop(self) -> None:
        """Stop the server (SIGINT is PostgreSQL's fast shutdown) and remove its folder."""
        _stop(self.process, signal.SIGINT)
        shutil.rmtree(self.folder, ignore_errors=True)


def postgres_user() -> str | None:
    """The user PostgreSQL runs as: ``postgres`` when we are root (it refuses root), else ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail(f"running as root, PostgreSQL needs the 'postgres' user to run as: {INSTALL_HINT}")
    return "postgres"


def start_postgres(user: str = "opendispatch") -> PostgresServer:
    """initdb a cluster in a new temporary folder and start it on a free loopback port."""
    binaries = postgres_binaries()
    run_as = postgres_user()
    # Not pytest's tmp_path: its parents are private to root, so the postgres user could not reach it.
    folder = Path(tempfile.mkdtemp(prefix="opendispatch-pg-"))
    if run_as is not None:
        shutil.chown(folder, run_as, run_as)
    log = folder / "postgres.log"
    data = folder / "data"
    # trust: only this machine's loopback reaches it, so tests need no password. --no-sync: the cluster
    # is thrown away after the session.
    initdb_options = ["--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"]
    initdb = subprocess.run(
        [*launcher("TERM", run_as), binaries / "initdb", "-D", data, f"--username={user}", *initdb_options],
        capture_output=True,
        check=False,
        cwd="/",  # the postgres user may not read root's working directory
    )
    if initdb.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"initdb failed:\n{initdb.stdout.decode()}{initdb.stderr.decode()}")
    options = ["listen_addresses=127.0.0.1", "max_connections=300"]
    # Durability is worthless for a database thrown away after the tests, and flushing to disk is most of
    # what a commit costs.
    options += ["fsync=off", "synchronous_commit=off", "full_page_writes=off"]
    settings = [argument for option in options for argument in ("-c", option)]
    # SIGINT is PostgreSQL's fast shutdown: open connections are ended, not waited for.
    server_command = [*launcher("INT", run_as), binaries / "postgres", "-D", data, "-k", folder, *settings]
    for _attempt in range(3):  # another process may take the free port before postgres binds it
        port = free_port()
        with log.open("ab") as out:
            process = subprocess.Popen(
                [*server_command, "-p", str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd="/",
            )
        server = PostgresServer(port, user, folder, process, [*server_command, "-p", str(port)])
        try:
            _wait_until(server.accepts_connections, process, log, "PostgreSQL")
        except RuntimeError:
            if "could not bind" in log.read_text(errors="replace"):
                continue
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return server
    shutil.rmtree(folder, ignore_errors=True)
    raise RuntimeError("PostgreSQL found no free port in three tries")


@pytest.fixture(scope="session")
def postgresql_server() -> Iterator[PostgresServer]:
    """One PostgreSQL for the whole session, removed with its folder at the end."""
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgresql_url(postgresql_server: PostgresServer) -> Iterator[str]:
    """The URL of a new, empty database of its own for this test, dropped after it."""
    name = postgresql_server.create_database()
    try:
        yield postgresql_server.url(name)
    finally:
        postgresql_server.drop_database(name)


# -- Redis -----------------------------------------------------------------------------------------------


@dataclass
class RedisServer:
    """A running redis-server: its port and folder, and how to stop (and start again on the same port)."""

    port: int
    folder: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        """Its URL, database 0."""
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        """A synchronous client, for fixtures and checks; it does not retry, so a stopped server says so."""
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5, retry=Retry(NoBackoff(), 0))

    def answers(self) -> bool:
        """Whether it answers PING now."""
        try:
            with self.client() as client:
                return bool(client.ping())
        except redis.ConnectionError:
            return False

    def stop(self) -> None:
        """Stop the server; its folder stays, for ``restart``."""
        _stop(self.process, signal.SIGTERM)

    def restart(self) -> None:
        """Start it again, empty, on the same port (for tests of an outage that ends)."""
        self.stop()
        self.process = _spawn_redis(self.port, self.folder)
        _wait_until(self.answers, self.process, self.folder / "redis.log", "redis-server")

    def remove(self) -> None:
        """Stop it and remove its folder."""
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def redis_binary() -> str:
    """Where Debian's redis-server is."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(f"redis-server is not installed: {INSTALL_HINT}")
    return binary


def _spawn_redis(port: int, folder: Path) -> subprocess.Popen[bytes]:
    binary = redis_binary()
    # No RDB snapshots and no append-only file: state that must be shared but not stored, as in production.
    options = ["--save", "", "--appendonly", "no", "--bind", "127.0.0.1", "--dir", str(folder)]
    return subprocess.Popen(
        [*launcher("TERM"), binary, "--port", str(port), *options, "--logfile", str(folder / "redis.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def start_redis() -> RedisServer:
    """A redis-server with nothing persisted, in a new temporary folder, on a free loopback port."""
    redis_binary()  # fail before making a folder
    folder = Path(tempfile.mkdtemp(prefix="opendispatch-redis-"))
    for _attempt in range(3):  # another process may take the free port before redis-server binds it
        port = free_port()
        server = RedisServer(port, folder, _spawn_redis(port, folder))
        try:
            _wait_until(server.answers, server.process, folder / "redis.log", "redis-server")
        except RuntimeError:
            if "Address already in use" in (folder / "redis.log").read_text(errors="replace"):
                continue
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return server
    shutil.rmtree(folder, ignore_errors=True)
    raise RuntimeError("redis-server found no free port in three tries")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the whole session, removed with its folder at the end."""
    server = start_redis()
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session's Redis, emptied before this test."""
    with redis_server.client() as client:
        client.flushdb()
    return redis_server.url


@pytest.fixture
def own_postgresql_server() -> Iterator[PostgresServer]:
    """A PostgreSQL of this test's own, which the test may stop and start without touching others."""
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def own_redis_server() -> Iterator[RedisServer]:
    """A redis-server of this test's own, which the test may stop and start without touching others."""
    server = start_redis()
    try:
        yield server
    finally:
        server.remove()
