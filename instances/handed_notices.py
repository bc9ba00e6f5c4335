"""Warnings for the admins from instances standing by, told by the active instance.

An instance standing by that has something to tell the admins about its intake (its channel
groups' subscription down, a customer message it could not deliver) writes it in the
``instance_notices`` table instead of telling them itself: on the agents' network it may be
no one the admins hear from (on IRC it is not in the agent rooms), and what every instance
saw would reach them once per instance. The active instance tells each sentence once
(:class:`NoticeWatch`), naming the instance it came from.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from errbot_instances.election import Alone, Election
from errbot_instances.losses import who
from errbot_instances.postgres import Liveness, close_quietly, connect, first_line
from errbot_instances.registry import Me
from errbot_instances.schema import ensure_schema

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)


def keep(url: str, liveness: Liveness, me: Me, said: str) -> None:
    """Keep ``said``, from instance ``me``, for the active instance to tell (raises the
    database's error if it cannot be kept)."""
    with connect(url, liveness) as connection:
        ensure_schema(connection)
        connection.execute(
            "INSERT INTO instance_notices (instance, said) VALUES (%s, %s)",
            (me.id, f"Instance {who(me.id, me.host, me.pid)}: {said}"),
        )


def hand_over(election: Election | Alone | None, warning: str) -> bool:
    """Whether ``warning`` for the admins was kept for the active instance to tell, because
    this instance (of ``election``) stands by among several; False: it tells them itself
    (it is the active one or alone, or the database cannot take the warning)."""
    if not isinstance(election, Election) or election.is_active():
        return False
    try:
        keep(election.url, election.liveness, election.me, warning)
    except Exception as problem:  # the database that would carry it is the trouble
        log.warning("Could not keep a warning for the active instance (%s).", first_line(problem))
        return False
    log.warning("%s (kept for the active instance to tell the admins)", warning)
    return True


def untold(connection: psycopg.Connection) -> list[str]:
    """The sentences nobody was told yet, oldest first, marked told as they are read."""
    rows = connection.execute(
        "UPDATE instance_notices SET told = true WHERE NOT told RETURNING seq, said"
    ).fetchall()
    return [said for _, said in sorted(rows)]


class NoticeWatch:
    """While running (on the active instance), tells ``tell(sentence)`` each notice kept by
    an instance standing by, once, looking every :attr:`Liveness.heartbeat` seconds."""

    def __init__(self, url: str, tell: Callable[[str], None], liveness: Liveness) -> None:
        self._url = url
        self._tell = tell
        self._liveness = liveness
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="instance-notices", daemon=True)

    def start(self) -> NoticeWatch:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        connection: psycopg.Connection | None = None
        while not self._stopping.is_set():
            try:
                if connection is None:
                    connection = connect(self._url, self._liveness)
                    ensure_schema(connection)
                sentences = untold(connection)
            except Exception as problem:  # looked at again at the next beat
                log.warning("Reading the instances' notices failed (%s).", first_line(problem))
                close_quietly(connection)
                connection, sentences = None, []
            for sentence in sentences:
                try:
                    self._tell(sentence)
                except Exception:
                    log.exception("Telling the admins an instance's notice failed.")
            self._stopping.wait(self._liveness.heartbeat)
        close_quietly(connection)
