"""Dedicated PostgreSQL sessions whose loss both ends notice within a known time.

An advisory lock lives as long as the session that took it. A holder that is killed outright
closes its socket and the server lets go at once; a holder whose machine or network dies, or
that freezes, is only noticed through TCP keepalives, ``tcp_user_timeout`` and
``idle_session_timeout``. :class:`Liveness` derives all of these from one bound, so that a
silent holder stops acting (after ``fence`` seconds) before the server lets its lock go (after
``server_release`` seconds at the earliest), and the others take over within ``bound``.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

DEFAULT_BOUND = 10.0
MIN_BOUND = 2.0
KEEPALIVE_PROBES = 3
#: The bot setting that sets :attr:`Liveness.bound` for every part of a bot.
BOUND_SETTING = "INSTANCES_TAKEOVER_SECONDS"


def is_postgresql(url: str) -> bool:
    """Whether the SQLAlchemy URL ``url`` names a PostgreSQL database."""
    return make_url(url).get_backend_name() == "postgresql"


def conninfo(url: str) -> str:
    """psycopg's connection string for an SQLAlchemy URL such as ``postgresql+psycopg://...``."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"{parsed.render_as_string()} is not a PostgreSQL URL")
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def lock_key(name: str) -> int:
    """The advisory lock key (a signed 64-bit number) that stands for ``name``."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@dataclass(frozen=True)
class Liveness:
    """The times that follow from ``bound``: the seconds within which the roles of an instance
    that died are taken over by another."""

    bound: float = DEFAULT_BOUND

    def __post_init__(self) -> None:
        if not self.bound >= MIN_BOUND:
            raise ValueError(f"the takeover bound must be at least {MIN_BOUND:g} seconds")

    @property
    def heartbeat(self) -> float:
        """How often an instance says it is alive, and standbys try for the lock."""
        return self.bound / 10

    @property
    def fence(self) -> float:
        """An instance whose last heartbeat was sent this long ago stops acting."""
        return self.bound * 0.4

    @property
    def server_release(self) -> float:
        """The server ends a silent session (and drops its locks) this long after its last
        sign of life at the earliest: keepalives, unacknowledged data, idleness."""
        return self.bound * 0.5

    @property
    def stale(self) -> float:
        """The others count an instance unheard this long as gone and take its groups."""
        return self.bound * 0.6

    def _keepalive_idle(self) -> int:
        return math.ceil(self.bound * 0.2)

    def _keepalive_interval(self) -> int:
        return math.ceil(self.bound * 0.1)

    def client_options(self) -> dict[str, int]:
        """libpq options: the client notices a dead server as the server notices a dead
        client."""
        return {
            "keepalives": 1,
            "keepalives_idle": self._keepalive_idle(),
            "keepalives_interval": self._keepalive_interval(),
            "keepalives_count": KEEPALIVE_PROBES,
            "tcp_user_timeout": round(self.server_release * 1000),
            "connect_timeout": max(2, math.ceil(self.bound * 0.2)),
        }

    def session_settings(self, *, idle_limit: bool) -> dict[str, str]:
        """Settings of the server side of a session. ``idle_limit``: the server ends the
        session when it is idle too long, which frees the locks of a frozen holder (not for a
        session that waits for notifications, which is idle by design)."""
        settings = {
            "tcp_keepalives_idle": str(self._keepalive_idle()),
            "tcp_keepalives_interval": str(self._keepalive_interval()),
            "tcp_keepalives_count": str(KEEPALIVE_PROBES),
            "tcp_user_timeout": str(round(self.server_release * 1000)),
            "statement_timeout": str(round(self.bound * 0.3 * 1000)),
        }
        if idle_limit:
            settings["idle_session_timeout"] = str(round(self.server_release * 1000))
        return settings


def liveness_of(config: Any) -> Liveness:
    """The :class:`Liveness` a bot's settings ask for (``INSTANCES_TAKEOVER_SECONDS``, 10 s
    by default); raises ``ValueError`` with one sentence if the setting is not a number of
    seconds of at least :data:`MIN_BOUND`."""
    given = getattr(config, BOUND_SETTING, None)
    if given is None:
        return Liveness()
    if isinstance(given, bool) or not isinstance(given, int | float) or not given >= MIN_BOUND:
        raise ValueError(
            f"{BOUND_SETTING} must be a number of seconds of at least {MIN_BOUND:g}, not {given!r}"
        )
    return Liveness(float(given))


def connect(url: str, liveness: Liveness, *, idle_limit: bool = True) -> psycopg.Connection:
    """A new autocommit session on ``url`` with the timeouts of ``liveness``."""
    import psycopg
    from psycopg import errors

    connection = psycopg.connect(conninfo(url), autocommit=True, **liveness.client_options())
    for name, value in liveness.session_settings(idle_limit=idle_limit).items():
        try:
            connection.execute("SELECT set_config(%s, %s, false)", (name, value))
        except errors.UndefinedObject:  # an older server without this setting
            log.warning("The PostgreSQL server has no %s setting: it is left out.", name)
    return connection


def close_quietly(connection: psycopg.Connection | None) -> None:
    """Close a session that may already be broken."""
    if connection is None:
        return
    try:
        connection.close()
    except Exception:  # closing a broken connection may fail in any way
        log.debug("Closing a broken PostgreSQL connection failed.", exc_info=True)


def first_line(problem: BaseException) -> str:
    """The gist of a database error, for a log line."""
    text = str(problem).strip()
    return text.splitlines()[0] if text else type(problem).__name__
