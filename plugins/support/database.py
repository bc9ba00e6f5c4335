"""The Support store's engine (built by :mod:`errbot_common.database`, which says what SQLite is
asked, FULL synchronous here so a committed customer message survives a power cut), tuned for
many threads writing a few rows each.

SQLite admits one writer at a time, and a writer that finds the database locked waits in its
busy handler, which sleeps and polls (1 ms, 2 ms, 5 ms... up to 100 ms a time). With the bot's
threads writing at once, most of their time went to those sleeps, so the threads of one process
take turns on a lock of their own (:func:`writer_lock`), which hands over the moment the writer
is done; the busy timeout is left for other processes sharing the file.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

from sqlalchemy import Connection, Engine, collate, func, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.elements import ColumnElement

from errbot_common import database as common_database
from errbot_common.database import SUPPORT_DATABASE, SUPPORT_READ_ONLY

READ_ONLY = SUPPORT_READ_ONLY  # execution option: this connection only reads
#: Python's Unicode case folding, made an SQL function on every SQLite connection.
CASEFOLD = "support_casefold"
#: PostgreSQL's collation with Unicode's own case mappings (ICU), whatever the database's locale.
ICU_COLLATION = "und-x-icu"

#: Turns an SQL text expression into its case-folded form.
Fold = Callable[[ColumnElement], ColumnElement]


def default_url(data_dir: str | Path) -> str:
    return f"sqlite:///{Path(data_dir) / 'support.sqlite'}"


def open_engine(url: str) -> Engine:
    """An engine for ``url``; raises ``sqlalchemy.exc.ArgumentError`` for a malformed URL."""
    return common_database.open_engine(
        url, SUPPORT_DATABASE, sqlite_functions={CASEFOLD: _casefold}
    )


def writer_lock(engine: Engine) -> AbstractContextManager:
    """What the threads of this process hold while they write (see the module docstring):
    a lock for SQLite, nothing for databases that let writers work side by side."""
    if engine.dialect.name == "sqlite":
        return threading.Lock()
    return nullcontext()


@contextmanager
def without_waiting_for_the_disk(connection: Connection) -> Iterator[None]:
    """Commit the transactions begun inside without waiting for the disk (SQLite only).

    For writes that a power cut may take back harmlessly: with WAL and ``synchronous=NORMAL``
    a commit survives the process being killed, and only an operating system crash or a power
    cut can undo it (the next FULL commit makes it durable as well). Each FULL commit costs a
    disk flush, which on the machines measured is CPU too.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    raw = connection.connection.dbapi_connection
    raw.execute("PRAGMA synchronous=NORMAL")
    try:
        yield
    finally:
        raw.execute("PRAGMA synchronous=FULL")


def _casefold(value: str | None) -> str | None:
    return value.casefold() if isinstance(value, str) else value


def case_folding(engine: Engine) -> Fold:
    """How ``engine``'s database folds case for comparisons, as close to Unicode case folding
    as it can: Python's own on SQLite (whose ``lower()`` knows ASCII only); on PostgreSQL,
    ICU's full upper then lower case mappings (``ß`` and ``SS`` alike, ``É`` and ``é``), or
    ``lower()`` where the server has no ICU."""
    if engine.dialect.name == "sqlite":
        return getattr(func, CASEFOLD)
    if engine.dialect.name == "postgresql":
        try:
            with engine.connect() as connection:
                connection.execute(text(f"SELECT lower(upper('x' COLLATE \"{ICU_COLLATION}\"))"))
        except SQLAlchemyError:
            return func.lower
        return lambda value: func.lower(
            collate(func.upper(collate(value, ICU_COLLATION)), ICU_COLLATION)
        )
    return func.lower
