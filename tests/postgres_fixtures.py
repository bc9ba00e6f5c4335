"""A real PostgreSQL server for the tests that need one, started with ``initdb``/``pg_ctl``.

Skipped where no PostgreSQL server binaries or no ``psycopg`` driver (the ``postgresql``
extra) are installed. As root, PostgreSQL's tools run as the ``postgres`` user, since the
server refuses to run as root.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from errbot_common.ports import free_port

BINARIES = ("initdb", "pg_ctl")
_databases = itertools.count(1)


def _postgres_user() -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the ``postgres`` user then."""
    if os.getuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no 'postgres' user to run PostgreSQL as")
    return ["runuser", "-u", "postgres", "--"]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """The SQLAlchemy URL of the ``postgres`` database on a server started for this module."""
    pytest.importorskip("psycopg", reason="the postgresql extra (psycopg) is not installed")
    if not all(shutil.which(b) for b in BINARIES):
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) on PATH")
    as_postgres = _postgres_user()
    home = Path(tempfile.mkdtemp(prefix="support-pg-"))
    if as_postgres:
        shutil.chown(home, user="postgres")
    data, port = home / "data", free_port()

    def run(*command: str) -> None:
        subprocess.run([*as_postgres, *command], check=True, capture_output=True, timeout=60)

    run("initdb", "-D", str(data), "-A", "trust", "-U", "support")
    options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off"
    run("pg_ctl", "-D", str(data), "-o", options, "-w", "-l", str(home / "log"), "start")
    try:
        yield f"postgresql+psycopg://support@127.0.0.1:{port}/postgres"
    finally:
        run("pg_ctl", "-D", str(data), "-m", "fast", "stop")
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def postgres_database(postgres_url: str) -> str:
    """The URL of a database of its own for one test, on the module's server: advisory locks
    and notifications are per database, so tests never see each other's."""
    import psycopg

    name = f"test_{os.getpid()}_{next(_databases)}"
    server = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return postgres_url.rsplit("/", 1)[0] + f"/{name}"
