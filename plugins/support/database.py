"""An SQLAlchemy engine tuned for many threads writing a few rows each.

For SQLite: WAL so readers never wait for the writer, a busy timeout so writers queue instead
of failing, FULL synchronous so a committed customer message survives a power cut, and
``BEGIN IMMEDIATE`` for every transaction so two writers never deadlock upgrading a read lock
(which SQLite would otherwise report as "database is locked" at once, whatever the timeout).
Other databases (PostgreSQL) are used as SQLAlchemy configures them.

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

from sqlalchemy import Connection, Engine, collate, create_engine, event, func, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.elements import ColumnElement

BUSY_TIMEOUT_SECONDS = 30
READ_ONLY = "support_read_only"  # execution option: this connection only reads
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
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)

    in_memory = parsed.database in (None, "", ":memory:")
    options: dict = {"connect_args": {"timeout": BUSY_TIMEOUT_SECONDS, "check_same_thread": False}}
    if in_memory:
        options["poolclass"] = StaticPool  # one shared connection keeps the database alive
    engine = create_engine(parsed, **options)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # transactions are begun below
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        dbapi_connection.create_function(CASEFOLD, 1, _casefold, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


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
