"""Facing the agents only while this bot is the active instance among those on its database.

Several bots on one PostgreSQL ``SUPPORT_DB_URL`` act as one: all of them take customers in,
one at a time faces the agents (relays to the agent rooms, answers their commands, reminds,
resolves silent conversations), chosen by :mod:`errbot_instances.election`. This starts the
agent-facing part when this instance becomes the active one and stops it when it must stop
acting; while active, it wakes the relays the moment another instance records a customer
message (``LISTEN``/``NOTIFY``, see :mod:`errbot_support.announcements`) and tells the admins
of instances lost and who took over (:mod:`errbot_instances.losses`).

On SQLite (one bot per database) this bot is active from :meth:`ActiveRole.begin` to
:meth:`ActiveRole.end`, and nothing is listened for.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from errbot_instances import handed_notices, process
from errbot_instances.election import STOPPING, Alone, Election
from errbot_instances.handed_notices import NoticeWatch
from errbot_instances.losses import LossWatch
from errbot_instances.notifications import Wakeups
from errbot_instances.postgres import Liveness, is_postgresql
from errbot_support.announcements import CHANNEL

log = logging.getLogger(__name__)

__all__ = ["STOPPING", "ActiveRole"]


class ActiveRole:
    """This bot's part among the instances on ``url``: ``start()`` when it becomes the active
    one, ``stop(why)`` when it must stop acting (the two alternate, never overlap); while
    active, ``wake()`` when another instance recorded a customer message (or every ``poll``
    seconds, in case a notification was missed) and ``tell_admins(sentence)`` of a lost
    instance."""

    def __init__(
        self,
        url: str,
        *,
        start: Callable[[], None],
        stop: Callable[[str], None],
        wake: Callable[[], None],
        tell_admins: Callable[[str], None],
        pass_on: Callable[[str], None] | None = None,
        liveness: Liveness | None = None,
        poll: float = 5.0,
    ) -> None:
        """``pass_on``: tells the admins what an instance standing by kept for them."""
        self._url = url
        self._start, self._stop, self._wake = start, stop, wake
        self._tell_admins = tell_admins
        self._pass_on = pass_on or tell_admins
        self._liveness = liveness
        self._poll = poll
        self._lock = threading.RLock()
        self._acting = False
        self._election: Election | Alone | None = None
        self._unwatch: Callable[[], None] | None = None
        self._listening: list[Wakeups | LossWatch | NoticeWatch] = []

    @property
    def several(self) -> bool:
        """Whether other instances may share the database (PostgreSQL)."""
        return is_postgresql(self._url)

    @property
    def instance_id(self) -> str | None:
        return self._election.id if self._election is not None else None

    @property
    def liveness(self) -> Liveness:
        election = self._election
        if isinstance(election, Election):
            return election.liveness
        return self._liveness or Liveness()

    def begin(self) -> None:
        """Join the instances (this process's one instance, shared with the PubNub backend);
        ``start`` is called at once if this instance is the active one already."""
        self._election = process.join(self._url, self._liveness)
        self._unwatch = self._election.watch(self._became_active, self._became_inactive)
        # Counted alive before it sends anything: a bot starting meanwhile leaves what this
        # one sends alone (see Desk.abandon_pending_deliveries).
        if not self._election.wait_heard(self.liveness.bound):
            log.warning("This instance (%s) is not registered yet.", self.instance_id)

    def end(self) -> None:
        """Stop acting (``stop`` if it was active) and leave the instances: another one takes
        over at once."""
        unwatch, self._unwatch = self._unwatch, None
        if unwatch is not None:
            unwatch()
        self._became_inactive(STOPPING)
        election, self._election = self._election, None
        if election is not None:
            process.leave(election)

    def is_active(self) -> bool:
        """Whether this instance may act toward the agents at this moment."""
        election = self._election
        return self._acting and election is not None and election.is_active()

    def hand_over(self, warning: str) -> bool:
        """Whether ``warning`` for the admins was kept for the active instance to tell (this
        one stands by among several); False: this one tells them itself."""
        return handed_notices.hand_over(self._election, warning)

    # ------------------------------------------------------------------ transitions

    def _became_active(self) -> None:
        with self._lock:
            if self._acting:
                return
            self._acting = True
            log.info("This instance (%s) faces the agents now.", self.instance_id)
            self._start()
            if isinstance(self._election, Election):
                liveness = self._election.liveness
                self._listening = [
                    Wakeups(
                        self._url, CHANNEL, self._woken, poll=self._poll, liveness=liveness
                    ).start(),
                    LossWatch(self._url, self._tell_admins, liveness).start(),
                    NoticeWatch(self._url, self._pass_on, liveness).start(),
                ]

    def _became_inactive(self, why: str) -> None:
        with self._lock:
            if not self._acting:
                return
            self._acting = False
            log.info("This instance (%s) stops facing the agents: %s.", self.instance_id, why)
            listening, self._listening = self._listening, []
            for listener in listening:
                listener.stop()
            self._stop(why)

    def _woken(self, reason: str, payloads: tuple[str, ...]) -> None:
        if self._acting:
            self._wake()
