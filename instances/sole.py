"""One bot per SQLite database: a second one refuses to start instead of racing the first.

SQLite serves one writer at a time and has no way to choose one process to face the agents,
so running two bots on one SQLite file would relay everything twice. The first bot holds an
exclusive lock on a file next to the database for as long as it runs; the operating system
lets it go when the process ends, however it ends. Several bots need PostgreSQL.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from sqlalchemy.engine import make_url

try:
    import fcntl
except ImportError:  # Windows: no lock, as before
    fcntl = None


class AlreadyServed(Exception):
    """Another bot already uses this SQLite database (one sentence, for the admins)."""


def lock_file_of(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


class SoleInstance:
    """The lock that makes this bot the only one on an SQLite database, until released."""

    def __init__(self, database: Path, descriptor: int) -> None:
        self.database = database
        self._descriptor: int | None = descriptor

    @classmethod
    def hold(cls, url: str) -> SoleInstance | None:
        """Take the lock for the database at ``url``; None where there is nothing to lock
        (another database, or SQLite in memory). Raises :class:`AlreadyServed`."""
        parsed = make_url(url)
        if parsed.get_backend_name() != "sqlite" or fcntl is None:
            return None
        if parsed.database in (None, "", ":memory:") or parsed.database.startswith("file:"):
            return None
        database = Path(parsed.database).resolve()
        path = lock_file_of(database)
        try:
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:  # no such folder, or not writable: opening the database says why
            return None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _holder(descriptor)
            os.close(descriptor)
            raise AlreadyServed(
                f"Another bot ({holder}) already uses {database}, and an SQLite database "
                "serves one bot at a time: stop that bot first, or put both on PostgreSQL "
                "(SUPPORT_DB_URL) to run several"
            ) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, json.dumps(_me()).encode(), 0)
        return cls(database, descriptor)

    def release(self) -> None:
        descriptor, self._descriptor = self._descriptor, None
        if descriptor is not None:
            os.close(descriptor)  # closing the file lets the lock go


def _me() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname()}


def _holder(descriptor: int) -> str:
    """Who holds the lock, as its holder wrote it (the file may be half written)."""
    try:
        said = json.loads(os.pread(descriptor, 4096, 0) or b"{}")
        return f"process {int(said['pid'])} on {said['host']}"
    except (ValueError, KeyError, TypeError, OSError):
        return "another process"
