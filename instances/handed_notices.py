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
from typing import TYPE_CHECKING

from errbot_instances.election import Alone, Election
from errbot_instances.losses import who
from errbot_instances.postgres import Liveness, connect, first_line
from errbot_instances.registry import Me
from errbot_instances.schema import ensure_schema
from errbot_instances.sentence_watch import SentenceWatch, untold

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


class NoticeWatch(SentenceWatch):
    """While running (on the active instance), tells ``tell(sentence)`` each notice kept by
    an instance standing by, once."""

    thread_name = "instance-notices"
    what = "the instances' notices"

    def read(self, connection: psycopg.Connection) -> list[str]:
        return untold(connection, "instance_notices")
