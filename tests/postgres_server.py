"""A real PostgreSQL server in a temporary folder, started with ``initdb``/``pg_ctl``.

Shared by the tests (``tests/postgres_fixtures.py``) and the benchmarks (``benchmarks/
instances.py``), so both run PostgreSQL the same way: trust authentication on 127.0.0.1, a
free port, ``fsync`` off (the data is thrown away). As root, PostgreSQL's tools run as the
``postgres`` user, since the server refuses to run as root.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from errbot_common.ports import free_port

BINARIES = ("initdb", "pg_ctl")
HOST = "127.0.0.1"


class PostgresUnavailable(Exception):
    """No PostgreSQL server can be started here (one sentence saying why)."""


def _postgres_user() -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the ``postgres`` user then."""
    if os.getuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailable(
            "running as root and there is no 'postgres' user to run PostgreSQL as"
        ) from None
    return ["runuser", "-u", "postgres", "--"]


def unavailable() -> str | None:
    """Why no PostgreSQL server can be started here (one sentence), or None."""
    try:
        _checked()
    except PostgresUnavailable as why:
        return str(why)
    return None


def _checked() -> list[str]:
    """The command prefix PostgreSQL's tools run with; raises :class:`PostgresUnavailable`."""
    if importlib.util.find_spec("psycopg") is None:
        raise PostgresUnavailable("the postgresql extra (psycopg) is not installed")
    if not all(shutil.which(b) for b in BINARIES):
        raise PostgresUnavailable("no PostgreSQL server binaries (initdb, pg_ctl) on PATH")
    return _postgres_user()


class PostgresServer:
    """A started server; :attr:`url` is the SQLAlchemy URL of its ``postgres`` database."""

    def __init__(self) -> None:
        self._as_postgres = _checked()
        self.home = Path(tempfile.mkdtemp(prefix="support-pg-"))
        if self._as_postgres:
            shutil.chown(self.home, user="postgres")
        self._data, self.port = self.home / "data", free_port(HOST)
        self._run("initdb", "-D", str(self._data), "-A", "trust", "-U", "support")
        options = f"-p {self.port} -k {self.home} -c listen_addresses={HOST} -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self._data), "-o", options, "-w", "-l", str(self.log), "start"
        )
        self.url = f"postgresql+psycopg://support@{HOST}:{self.port}/postgres"

    @property
    def log(self) -> Path:
        return self.home / "log"

    def _run(self, *command: str) -> None:
        subprocess.run([*self._as_postgres, *command], check=True, capture_output=True, timeout=60)

    def new_database(self, name: str) -> str:
        """Create the database ``name``; its SQLAlchemy URL."""
        return create_database(self.url, name)

    def pid(self) -> int:
        """The server's main process (the postmaster)."""
        return int((self._data / "postmaster.pid").read_text().split()[0])

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self._data), "-m", "fast", "stop")
        finally:
            shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def create_database(server_url: str, name: str) -> str:
    """Create the database ``name`` on the server of ``server_url``; its SQLAlchemy URL.
    Advisory locks and notifications are per database: each user of one sees only its own."""
    import psycopg

    server = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + f"/{name}"
