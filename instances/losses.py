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
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from errbot_instances.registry import ACTIVE, Me
from errbot_instances.rendezvous import Holding
from errbot_instances.sentence_watch import SentenceWatch, untold

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


class LossWatch(SentenceWatch):
    """While running (on the active instance), tells ``tell(sentence)`` each loss written,
    once; forgets silent standbys too."""

    thread_name = "instance-losses"
    what = "the lost instances"

    def read(self, connection: psycopg.Connection) -> list[str]:
        forget_silent_standbys(connection, self._liveness.stale)
        sentences = untold(connection, "instance_losses")
        for sentence in sentences:
            log.warning("%s", sentence)
        return sentences
