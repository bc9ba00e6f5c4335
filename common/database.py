"""The one SQLAlchemy engine factory, and each database's SQLite settings side by side.

For SQLite: WAL so readers never wait for the writer; a busy timeout so writers (of other
processes sharing the file) queue instead of failing; ``BEGIN IMMEDIATE`` for every transaction
that may write, so two writers never deadlock upgrading a read lock (which SQLite would report as
"database is locked" at once, whatever the timeout). Other databases (PostgreSQL) are used as
SQLAlchemy configures them, with connections checked before use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

BUSY_TIMEOUT_SECONDS = 30
#: The PostgreSQL advisory lock (a fixed 64-bit key) held while tables are created.
SCHEMA_LOCK_KEY = 0x6572_7262_6F74_5343  # "errbotSC"
SUPPORT_READ_ONLY = "support_read_only"


@dataclass(frozen=True)
class SQLiteSettings:
    """What one database asks of SQLite."""

    #: ``FULL``: a commit survives a power cut; ``NORMAL``: it survives the process being
    #: killed, and only an operating-system crash or a power cut may take it back.
    synchronous: str
    foreign_keys: bool = False
    #: The execution option that marks a connection as only reading: it begins with a plain
    #: ``BEGIN``, which waits for no writer.
    read_only_option: str | None = None
    #: Whether the file's folder is created when missing (else opening it fails, and says so).
    create_folder: bool = False


#: The Support plugin's conversations: a recorded customer message must survive a power cut.
SUPPORT_DATABASE = SQLiteSettings(
    synchronous="FULL", foreign_keys=True, read_only_option=SUPPORT_READ_ONLY
)
#: The PubNub backend's acknowledgements: one lost to a power cut is caught up again.
DELIVERY_DATABASE = SQLiteSettings(synchronous="NORMAL", create_folder=True)


def open_engine(
    url: str | URL,
    settings: SQLiteSettings,
    *,
    sqlite_functions: Mapping[str, Callable[[Any], Any]] | None = None,
) -> Engine:
    """An engine for ``url``; raises ``sqlalchemy.exc.ArgumentError`` for a malformed URL.

    ``sqlite_functions``: deterministic one-argument SQL functions (by name) that every SQLite
    connection gets."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    in_memory = parsed.database in (None, "", ":memory:")
    options: dict[str, Any] = {
        "connect_args": {"timeout": BUSY_TIMEOUT_SECONDS, "check_same_thread": False}
    }
    if in_memory:
        options["poolclass"] = StaticPool  # one shared connection keeps the database alive
    elif settings.create_folder:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, **options)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # transactions are begun below
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.execute(f"PRAGMA synchronous={settings.synchronous}")
        if settings.foreign_keys:
            cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        for name, function in (sqlite_functions or {}).items():
            dbapi_connection.create_function(name, 1, function, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        option = settings.read_only_option
        read_only = option is not None and connection.get_execution_options().get(option, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def lock_schema(connection: Connection) -> None:
    """Let this transaction alone create tables until it ends. Processes starting together on
    one PostgreSQL database would otherwise each find a table missing and each create it, all
    but one failing; SQLite's ``BEGIN IMMEDIATE`` serializes them already."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
