"""Hearing at commit that something was recorded: PostgreSQL ``LISTEN``/``NOTIFY``.

The writer calls :func:`announce` inside the transaction that records (PostgreSQL delivers the
notification when, and only if, that transaction commits); the reader runs a :class:`Wakeups`,
which calls back at once on a notification and, as a fallback, every ``poll`` seconds without
one, and whenever it (re)starts listening, since a notification sent while nobody listened is
gone. Several notifications that arrive together give one call, with all their payloads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import text

from errbot_instances.postgres import Liveness, close_quietly, connect, first_line

if TYPE_CHECKING:
    import psycopg
    from sqlalchemy import Connection

log = logging.getLogger(__name__)

NOTIFIED = "notified"  # a notification came
POLL = "poll"  # none came for ``poll`` seconds
LISTENING = "listening"  # (re)started listening: anything may have been missed before
MAX_CHANNEL_BYTES = 63  # PostgreSQL's identifier length
RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0)
_NOTIFY = text("SELECT pg_notify(:channel, :payload)")


def check_channel(channel: str) -> str:
    """``channel`` if PostgreSQL can carry it as a notification channel name."""
    if not isinstance(channel, str) or not channel or "\0" in channel:
        raise ValueError("a notification channel is a non-empty name")
    if len(channel.encode()) > MAX_CHANNEL_BYTES:
        raise ValueError(f"a notification channel name has at most {MAX_CHANNEL_BYTES} bytes")
    return channel


def announce(connection: Connection, channel: str, payload: str = "") -> None:
    """Notify ``channel``'s listeners when the transaction of ``connection`` (SQLAlchemy)
    commits. Nothing on other databases, where a single instance needs no notification."""
    if connection.dialect.name == "postgresql":
        connection.execute(_NOTIFY, {"channel": check_channel(channel), "payload": payload})


class Wakeups:
    """Calls ``on_wake(reason, payloads)`` (reason :data:`NOTIFIED` with the payloads of the
    notifications, :data:`POLL` or :data:`LISTENING` with none) on a thread of its own; a
    callback that raises is logged and the next wake comes all the same."""

    def __init__(
        self,
        url: str,
        channel: str,
        on_wake: Callable[[str, tuple[str, ...]], None],
        *,
        poll: float = 5.0,
        liveness: Liveness | None = None,
    ) -> None:
        if not poll > 0:
            raise ValueError("the fallback poll interval must be a positive number of seconds")
        self._url = url
        self._channel = check_channel(channel)
        self._on_wake = on_wake
        self._poll = poll
        self._liveness = liveness or Liveness()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="instance-wakeups", daemon=True)
        self.listening = threading.Event()  # set while a session listens

    def start(self) -> Wakeups:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        connection: psycopg.Connection | None = None
        failures = 0
        while not self._stopping.is_set():
            try:
                if connection is None:
                    connection = self._listen()
                    failures = 0
                    self._wake(LISTENING)
                payloads = self._wait(connection)
                if payloads:
                    self._wake(NOTIFIED, payloads)
                elif not self._stopping.is_set():
                    self._wake(POLL)
            except Exception as problem:  # listened for again after a pause
                self.listening.clear()
                close_quietly(connection)
                connection = None
                pause = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                failures += 1
                log.warning(
                    "Listening on %s failed (%s): again in %g s.",
                    self._channel,
                    first_line(problem),
                    pause,
                )
                self._stopping.wait(pause)
        self.listening.clear()
        close_quietly(connection)

    def _listen(self) -> psycopg.Connection:
        from psycopg import sql

        connection = connect(self._url, self._liveness, idle_limit=False)
        connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
        self.listening.set()
        return connection

    def _wait(self, connection: psycopg.Connection) -> tuple[str, ...]:
        """The payloads of the notifications that came within the poll interval, if any (the
        wait is cut into short slices so that a stop is not kept waiting)."""
        deadline = time.monotonic() + self._poll
        while not self._stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            came = list(connection.notifies(timeout=min(left, 0.5), stop_after=1))
            if came:
                came += connection.notifies(timeout=0)  # those that came with it
                return tuple(n.payload for n in came)
        return ()

    def _wake(self, reason: str, payloads: tuple[str, ...] = ()) -> None:
        try:
            self._on_wake(reason, payloads)
        except Exception:
            log.exception("Waking up for %s failed.", self._channel)
