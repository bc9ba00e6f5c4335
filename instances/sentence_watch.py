"""A thread on the active instance that tells the admins sentences other instances wrote.

Instances that notice something for the admins but may not be the one they hear from write it
in a table; the active instance reads what nobody was told yet at each heartbeat and tells it,
once. :class:`~errbot_instances.losses.LossWatch` and
:class:`~errbot_instances.handed_notices.NoticeWatch` are the two kinds.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from errbot_instances.postgres import Liveness, close_quietly, connect, first_line
from errbot_instances.schema import ensure_schema

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)


def untold(connection: psycopg.Connection, table: str) -> list[str]:
    """The sentences of ``table`` nobody was told yet, oldest first, marked told as they are
    read (one statement, so two readers never both take one)."""
    from psycopg import sql

    statement = sql.SQL("UPDATE {} SET told = true WHERE NOT told RETURNING seq, said")
    rows = connection.execute(statement.format(sql.Identifier(table))).fetchall()
    return [said for _, said in sorted(rows)]


class SentenceWatch:
    """While running, tells ``tell(sentence)`` each sentence :meth:`read` returns, looking
    every :attr:`Liveness.heartbeat` seconds; a database that fails is tried again at the next
    beat on a new session."""

    #: The thread's name.
    thread_name = "instance-sentences"
    #: What is read, for the log line when reading fails.
    what = "the instances' sentences"

    def __init__(
        self, url: str, tell: Callable[[str], None], liveness: Liveness | None = None
    ) -> None:
        self._url = url
        self._tell = tell
        self._liveness = liveness or Liveness()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)

    def read(self, connection: psycopg.Connection) -> list[str]:
        """The sentences to tell now, marked told in the database."""
        raise NotImplementedError

    def start(self) -> SentenceWatch:
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
                with connection.transaction():
                    sentences = self.read(connection)
            except Exception as problem:  # looked at again at the next beat
                log.warning("Reading %s failed (%s).", self.what, first_line(problem))
                close_quietly(connection)
                connection, sentences = None, []
            for sentence in sentences:
                try:
                    self._tell(sentence)
                except Exception:
                    log.exception("Telling the admins %r failed.", sentence)
            self._stopping.wait(self._liveness.heartbeat)
        close_quietly(connection)
