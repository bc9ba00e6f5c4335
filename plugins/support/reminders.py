"""Customers waiting too long for an answer, pointed out to the agents
(``SUPPORT_REMINDER_MINUTES``): once for each stretch without an answer, so that a busy room is
nudged, not flooded. What was pointed out is kept in the store (``support_reminders``), so a
restart, or another instance taking over (several bots on PostgreSQL), does not point it out
again; only a reminder posted by a bot killed before it kept it comes twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.exc import SQLAlchemyError

from errbot_support.business_hours import BusinessHours
from errbot_support.database import READ_ONLY
from errbot_support.desk import Desk
from errbot_support.records import Conversation
from errbot_support.tables import reminders

log = logging.getLogger(__name__)

#: Posts the reminder of ``conversation``, waiting for ``waited``; raises if its room fails.
Remind = Callable[[Conversation, timedelta], None]


class ReminderMarks:
    """The stretch of waiting each conversation's last reminder was for, in the store."""

    def __init__(self, engine: Engine, writer: AbstractContextManager) -> None:
        """``writer``: what the store's writers hold while they write (see database.py)."""
        self._engine = engine
        self._writer = writer

    def of(self, numbers: Iterable[int]) -> dict[int, datetime]:
        wanted = list(numbers)
        if not wanted:
            return {}
        query = select(reminders).where(reminders.c.conversation_id.in_(wanted))
        with self._engine.connect().execution_options(**{READ_ONLY: True}) as connection:
            return {row.conversation_id: row.waiting_since for row in connection.execute(query)}

    def remember(self, number: int, since: datetime) -> None:
        with self._writer, self._engine.begin() as connection:
            connection.execute(delete(reminders).where(reminders.c.conversation_id == number))
            connection.execute(
                insert(reminders).values(conversation_id=number, waiting_since=since)
            )


class Reminders:
    def __init__(self, after: timedelta, hours: BusinessHours | None, marks: ReminderMarks) -> None:
        self.after = after
        self._hours = hours
        self._marks = marks
        self._lock = threading.Lock()

    def run(self, desk: Desk, remind: Remind) -> None:
        """Point out whoever waits longer than ``after``, not outside business hours, when
        nobody is there to answer (the next look after opening time points them out)."""
        with self._lock:
            now = desk.clock()
            if self._hours is not None and not self._hours.open_at(now):
                return
            waiting = desk.awaiting_answer(self.after)
            reminded = self._marks.of(conversation.number for conversation, _ in waiting)
            for conversation, since in waiting:
                if reminded.get(conversation.number) == since:
                    continue
                try:
                    remind(conversation, now - since)
                except Exception as exc:  # its room is down: the relay tells the admins
                    log.warning("Could not remind the agents of #%d: %s", conversation.number, exc)
                    continue
                try:
                    self._marks.remember(conversation.number, since)
                except SQLAlchemyError as exc:  # pointed out again at the next look
                    log.warning("Could not keep the reminder of #%d: %s", conversation.number, exc)
