"""The ``instances`` table: each instance's row, its heartbeat, and who counts as alive."""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg

ACTIVE = "active"
STANDBY = "standby"


@dataclass(frozen=True)
class Me:
    """This process as the other instances see it."""

    id: str = field(default_factory=lambda: secrets.token_hex(4))
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


_HEARTBEAT = """
    INSERT INTO instances (id, host, pid, role, started_at, heard_at)
    VALUES (%(id)s, %(host)s, %(pid)s, %(role)s, %(started_at)s, clock_timestamp())
    ON CONFLICT (id) DO UPDATE SET role = EXCLUDED.role, heard_at = EXCLUDED.heard_at
"""


def heartbeat(connection: psycopg.Connection, me: Me, role: str) -> None:
    """Say that ``me`` is alive in ``role`` (a row deleted as stale meanwhile comes back)."""
    connection.execute(
        _HEARTBEAT,
        {"id": me.id, "host": me.host, "pid": me.pid, "role": role, "started_at": me.started_at},
    )


def forget(connection: psycopg.Connection, instance_id: str) -> None:
    connection.execute("DELETE FROM instances WHERE id = %s", (instance_id,))


def forget_stale(connection: psycopg.Connection, stale: float) -> list[tuple[str, str, int]]:
    """Delete the rows of instances unheard for ``stale`` seconds: (id, host, pid) of each."""
    rows = connection.execute(
        "DELETE FROM instances WHERE heard_at <= clock_timestamp() - make_interval(secs => %s)"
        " RETURNING id, host, pid",
        (stale,),
    ).fetchall()
    return [(row[0], row[1], row[2]) for row in rows]


def others_alive(connection: psycopg.Connection, me: str, stale: float) -> bool:
    """Whether an instance other than ``me`` was heard within ``stale`` seconds."""
    row = connection.execute(
        "SELECT 1 FROM instances WHERE id <> %s"
        " AND heard_at > clock_timestamp() - make_interval(secs => %s) LIMIT 1",
        (me, stale),
    ).fetchone()
    return row is not None


def taking_groups(connection: psycopg.Connection) -> set[str]:
    """The instances that take channel groups (run after :func:`forget_stale`)."""
    rows = connection.execute("SELECT id FROM instances WHERE intake").fetchall()
    return {row[0] for row in rows}


def set_intake(connection: psycopg.Connection, instance_id: str, intake: bool) -> None:
    """Whether ``instance_id`` takes channel groups from now on."""
    connection.execute(
        "UPDATE instances SET intake = %s WHERE id = %s AND intake <> %s",
        (intake, instance_id, intake),
    )
