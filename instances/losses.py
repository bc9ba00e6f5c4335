"""Instances lost without a word (killed, cut off, frozen), and who took over their work.

Whoever notices a loss writes one sentence about it in the ``instance_losses`` table, in the
transaction that takes the work over: the instance that takes the active role over from a
silent one (:mod:`.election`), the instance whose sync shares a silent one's channel groups
out (:mod:`.assignment`), or the active instance when a standby without groups falls silent
(:func:`forget_silent_standbys`). The active instance tells the admins what was written, each
sentence once (:class:`LossWatch`). A graceful stop removes its row before it lets anything go,
so it is never counted lost.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from errbot_instances.postgres import Liveness, close_quietly, connect, first_line
from errbot_instances.registry import ACTIVE, Me
from errbot_instances.rendezvous import Holding
from errbot_instances.schema import ensure_schema

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

#: The role a lost active instance's row is given once its loss is written: told once only.
LOST = "lost"


def who(instance: str, host: str, pid: int) -> str:
    return f"{instance} on {host} (pid {pid})"


def record(connection: psycopg.Connection, instance: str, said: str) -> None:
    connection.execute(
        "INSERT INTO instance_losses (instance, said) VALUES (%s, %s)", (instance, said)
    )


def untold(connection: psycopg.Connection) -> list[str]:
    """The sentences nobody was told yet, oldest first, marked told as they are read."""
    rows = connection.execute(
        "UPDATE instance_losses SET told = true WHERE NOT told RETURNING seq, said"
    ).fetchall()
    return [said for _, said in sorted(rows)]


def took_over_active(connection: psycopg.Connection, me: Me) -> None:
    """This instance just took the active role: an instance still marked active was lost
    (one that stops gracefully removes its row before it releases the role)."""
    rows = connection.execute(
        "UPDATE instances SET role = %s WHERE role = %s AND id <> %s RETURNING id, host, pid,"
        " extract(epoch FROM clock_timestamp() - heard_at)",
        (LOST, ACTIVE, me.id),
    ).fetchall()
    for instance, host, pid, silent in rows:
        record(
            connection,
            instance,
            f"Instance {who(instance, host, pid)}, the active one, was lost (silent for "
            f"{float(silent):.1f} s): {who(me.id, me.host, me.pid)} took over as the active "
            "instance.",
        )


def shared_out(
    connection: psycopg.Connection,
    lost: Iterable[tuple[str, str, int]],
    before: Mapping[str, Holding],
    changed: Mapping[str, Holding],
) -> None:
    """The silent instances ``lost`` were forgotten and their channel groups (holders in
    ``before``) went to the new holders in ``changed``: one sentence each."""
    lost = list(lost)
    if not lost:
        return
    holders = {h.holder for h in changed.values() if h.holder}
    names = {
        row[0]: who(*row)
        for row in connection.execute(
            "SELECT id, host, pid FROM instances WHERE id = ANY(%s)", (sorted(holders),)
        )
    }
    for instance, host, pid in lost:
        held = sorted(name for name, h in before.items() if h.holder == instance)
        went: dict[str, list[str]] = {}
        for name in held:
            new = changed.get(name, before[name]).holder
            went.setdefault(names.get(new, "nobody yet") if new else "nobody yet", []).append(name)
        if not held and _told_of(connection, instance):
            continue  # its loss as the active one was told, and it held nothing more
        if held:
            given = "; ".join(f"{', '.join(groups)} to {to}" for to, groups in went.items())
            taken = f"its channel groups went to the others ({given})."
        else:
            taken = "it held no channel group."
        record(connection, instance, f"Instance {who(instance, host, pid)} was lost: {taken}")


def forget_silent_standbys(connection: psycopg.Connection, stale: float) -> None:
    """Forget the instances that take no channel group in (those the group assignment does
    not watch) unheard for ``stale`` seconds, writing the loss of each not yet written."""
    rows = connection.execute(
        "DELETE FROM instances WHERE NOT intake"
        " AND heard_at <= clock_timestamp() - make_interval(secs => %s)"
        " RETURNING id, host, pid, role",
        (stale,),
    ).fetchall()
    for instance, host, pid, role in rows:
        if role != LOST and not _told_of(connection, instance):
            record(
                connection,
                instance,
                f"Instance {who(instance, host, pid)}, standing by, was lost.",
            )


def _told_of(connection: psycopg.Connection, instance: str) -> bool:
    found = connection.execute(
        "SELECT 1 FROM instance_losses WHERE instance = %s LIMIT 1", (instance,)
    ).fetchone()
    return found is not None


class LossWatch:
    """While running (on the active instance), tells ``tell(sentence)`` each loss written,
    once, looking every :attr:`Liveness.heartbeat` seconds; forgets silent standbys too."""

    def __init__(
        self, url: str, tell: Callable[[str], None], liveness: Liveness | None = None
    ) -> None:
        self._url = url
        self._tell = tell
        self._liveness = liveness or Liveness()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="instance-losses", daemon=True)

    def start(self) -> LossWatch:
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
                    forget_silent_standbys(connection, self._liveness.stale)
                    sentences = untold(connection)
            except Exception as problem:  # looked at again at the next beat
                log.warning("Reading the lost instances failed (%s).", first_line(problem))
                close_quietly(connection)
                connection, sentences = None, []
            for sentence in sentences:
                log.warning("%s", sentence)
                try:
                    self._tell(sentence)
                except Exception:
                    log.exception("Telling of a lost instance failed.")
            self._stopping.wait(self._liveness.heartbeat)
        close_quietly(connection)
