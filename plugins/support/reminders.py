"""Customers waiting too long for an answer, pointed out to the agents
(``SUPPORT_REMINDER_MINUTES``): once for each stretch without an answer, so that a busy room is
nudged, not flooded. What was pointed out is kept in memory: after a restart, once more.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from errbot_support.business_hours import BusinessHours
from errbot_support.desk import Desk
from errbot_support.records import Conversation

log = logging.getLogger(__name__)

#: Posts the reminder of ``conversation``, waiting for ``waited``; raises if its room fails.
Remind = Callable[[Conversation, timedelta], None]


class Reminders:
    def __init__(self, after: timedelta, hours: BusinessHours | None) -> None:
        self.after = after
        self._hours = hours
        self._lock = threading.Lock()
        self._reminded: dict[int, datetime] = {}  # conversation -> since when it waits

    def run(self, desk: Desk, remind: Remind) -> None:
        """Point out whoever waits longer than ``after``, not outside business hours, when
        nobody is there to answer (the next look after opening time points them out)."""
        with self._lock:
            now = desk.clock()
            if self._hours is not None and not self._hours.open_at(now):
                return
            waiting = desk.awaiting_answer(self.after)
            still = {conversation.number: since for conversation, since in waiting}
            self._reminded = {n: s for n, s in self._reminded.items() if still.get(n) == s}
            for conversation, since in waiting:
                if self._reminded.get(conversation.number) == since:
                    continue
                try:
                    remind(conversation, now - since)
                except Exception as exc:  # its room is down: the relay tells the admins
                    log.warning("Could not remind the agents of #%d: %s", conversation.number, exc)
                    continue
                self._reminded[conversation.number] = since
