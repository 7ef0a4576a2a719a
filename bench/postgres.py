"""PostgreSQL for the PostgreSQL rows: Debian's server in a temporary folder, durable as in production.

tests/services.py starts PostgreSQL for the tests the same way, but with durability off (``fsync=off``:
the tests throw the data away) and through pytest, which bench/run.sh does not install (only the
package's own dependencies). So the bench has its own few lines: ``initdb`` in a new temporary folder,
``postgres`` on a free loopback port with the production settings below, and, when the bench runs as
root, both as Debian's ``postgres`` user (PostgreSQL refuses root), switched to by ``setpriv`` (util-linux),
which also makes the server die with the bench if the bench is killed outright.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from bench.processes import HOST, Service, family_cpu_seconds, free_port

# What the server runs with: PostgreSQL 15's defaults, which production servers keep for durability, named
# here so the report can show them. Only the address, port and socket folder are the bench's own.
SETTINGS = {
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
    "wal_level": "replica",
    "shared_buffers": "128MB",
    "max_connections": "100",
}
SUPERUSER = "opendispatch"
READY_SECONDS = 30.0


def binaries(root: Path = Path("/usr/lib/postgresql")) -> Path:
    """The folder of Debian's PostgreSQL server binaries (the newest version installed)."""
    found = sorted(root.glob("*/bin/postgres"), key=lambda path: int(path.parts[-3]))
    if not found:
        raise RuntimeError(
            f"PostgreSQL is not installed (no {root}/*/bin/postgres): apt-get install postgresql"
        )
    return found[-1].parent


def _run_as() -> list[str]:
    """The ``setpriv`` prefix: as the ``postgres`` user when we are root, dying with the bench."""
    if shutil.which("setpriv") is None:
        raise RuntimeError("setpriv (util-linux) is missing")
    prefix = ["setpriv", "--pdeathsig=INT"]  # SIGINT is PostgreSQL's fast shutdown
    if os.geteuid() == 0:
        pwd.getpwnam("postgres")  # KeyError: Debian's postgresql package creates this user
        prefix += ["--reuid=postgres", "--regid=postgres", "--clear-groups"]
    return [*prefix, "--"]


class Postgres:
    """A running PostgreSQL: databases made on it, its URLs, and its processes' CPU time."""

    def __init__(self, folder: Path, service: Service) -> None:
        self.folder = folder
        self.service = service

    @property
    def pid(self) -> int:
        """The postmaster's; every backend is its child."""
        return self.service.pid

    def conninfo(self, database: str = "postgres") -> str:
        return f"host={HOST} port={self.service.port} user={SUPERUSER} dbname={database}"

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of one of its databases, with the psycopg 3 driver the server uses."""
        return f"postgresql+psycopg://{SUPERUSER}@{HOST}:{self.service.port}/{database}"

    def accepts_connections(self) -> bool:
        try:
            with psycopg.connect(self.conninfo(), connect_timeout=1) as connection:
                connection.execute("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    def create_database(self, prefix: str, template: str | None = None) -> str:
        """A new database, empty or a copy of ``template``; its name."""
        name = f"{re.sub(r'[^a-z0-9_]', '_', prefix.lower())}_{secrets.token_hex(3)}"
        copy_of = f' TEMPLATE "{template}"' if template else ""
        with psycopg.connect(self.conninfo(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"{copy_of}')
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database (ending its connections), then checkpoint: none of its pages left to write."""
        with psycopg.connect(self.conninfo(), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.execute("CHECKPOINT")

    def version(self) -> str:
        with psycopg.connect(self.conninfo()) as connection:
            row = connection.execute("SHOW server_version").fetchone()
        return str(row[0]).split()[0] if row else "unknown"

    def cpu_seconds(self) -> float:
        """CPU time of the postmaster and every backend, ended ones included, in seconds."""
        return family_cpu_seconds(self.pid)

    def stop(self) -> None:
        """Fast shutdown, then remove the cluster's folder."""
        self.service.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def start_postgres(log: Path, env: dict[str, str]) -> Postgres:
    """initdb a cluster in a new temporary folder and start it on a free loopback port."""
    bin_folder = binaries()
    run_as = _run_as()
    # Its own folder, not the bench's work directory: that one is private to whoever runs the bench.
    folder = Path(tempfile.mkdtemp(prefix="opendispatch-bench-pg-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres", "postgres")
        data = folder / "data"
        # --no-sync only skips initdb's own final flush; the server runs with fsync on.
        initdb = [bin_folder / "initdb", "-D", data, f"--username={SUPERUSER}", "--auth=trust", "--no-sync"]
        done = subprocess.run(
            [*run_as, *map(str, initdb), "--encoding=UTF8", "--locale=C"],
            capture_output=True,
            text=True,
            check=False,
            cwd="/",  # the postgres user may not read the bench's working directory
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{done.stdout}{done.stderr}")
        settings = {**SETTINGS, "listen_addresses": HOST, "unix_socket_directories": str(folder)}
        options = [argument for name, value in settings.items() for argument in ("-c", f"{name}={value}")]
        for _attempt in range(3):  # another process may take the free port before postgres binds it
            port = free_port()
            argv = [*run_as, str(bin_folder / "postgres"), "-D", str(data), "-p", str(port), *options]
            service = Service("postgres", argv, port=port, log=log, env=env, stop_signal=signal.SIGINT)
            try:
                service.start()
            except RuntimeError as exc:
                if "could not bind" in str(exc):
                    continue
                raise
            server = Postgres(folder, service)
            _wait_ready(server)
            return server
        raise RuntimeError("PostgreSQL found no free port in three tries")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _wait_ready(server: Postgres) -> None:
    """Wait until it runs queries: it listens a moment before it has finished starting."""
    deadline = time.monotonic() + READY_SECONDS
    while not server.accepts_connections():
        if time.monotonic() > deadline:
            server.service.stop()
            raise RuntimeError(f"PostgreSQL does not answer:\n{server.service.log_tail()}")
        time.sleep(0.05)
