"""A real PostgreSQL server for the tests that need one (``tests/postgres_server.py``).

Skipped where no PostgreSQL server binaries or no ``psycopg`` driver (the ``postgresql``
extra) are installed, or where, as root, there is no ``postgres`` user to run it as.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest

from tests.postgres_server import PostgresServer, PostgresUnavailable, create_database

_databases = itertools.count(1)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """The SQLAlchemy URL of the ``postgres`` database on a server started for this module."""
    try:
        server = PostgresServer()
    except PostgresUnavailable as why:
        pytest.skip(str(why))
    with server:
        yield server.url


@pytest.fixture
def postgres_database(postgres_url: str) -> str:
    """The URL of a database of its own for one test, on the module's server: advisory locks
    and notifications are per database, so tests never see each other's."""
    return create_database(postgres_url, f"test_{os.getpid()}_{next(_databases)}")
