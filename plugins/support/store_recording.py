"""A customer's message recorded: in the room's open conversation, a new one, or as the rating
of the last one; once, however often it is delivered.

The only place where recording is tried again: after a race another writer won (a unique
index says so) at once, after a database that failed for a moment after a pause.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import Connection, Row, insert
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from errbot_support import announcements
from errbot_support.records import (
    RATING_WINDOW,
    CustomerMessage,
    Kind,
    Recorded,
    State,
)
from errbot_support.statements import (
    DUPLICATE,
    ENTRY,
    LAST_IN_ROOM,
    RATING_ASKED,
    SET_RATING,
    customer_entry,
    entry_of,
    with_tag_list,
)
from errbot_support.store_base import StoreBase
from errbot_support.tables import conversations, entries

log = logging.getLogger(__name__)

RECORD_ATTEMPTS = 5  # against writers racing for the same room or message
FAILED_RECORD_ATTEMPTS = 3  # against a database that fails for a moment
FAILURE_PAUSE = 0.2  # seconds, times the failures so far


class CustomerRecording(StoreBase):
    def record_customer_message(self, message: CustomerMessage) -> Recorded:
        """Record ``message`` in the room's open conversation, opening one if there is none.

        A message already recorded (same room and source id) is reported as a duplicate and
        nothing is written. On databases where two transactions can race past the lookups
        (PostgreSQL), the loser hits a unique index and simply looks again. A database that
        fails for a moment (locked, connection lost) is tried again after a pause; raises when
        it still fails.
        """
        attempt = failures = 0
        while True:
            attempt += 1
            try:
                with self._writing() as c:
                    # A repeat is rare (a redelivery): the unique source id catches it, and
                    # only then is it looked up, on the next attempt.
                    recorded = self._record(c, message, look_for_duplicate=attempt > 1)
                    if not recorded.duplicate:  # the active instance hears of it at commit
                        announcements.recorded(c, message.agent_room)
                    return recorded
            except IntegrityError:
                if attempt >= RECORD_ATTEMPTS:
                    raise
                log.info("Message already recorded or concurrent write in %s.", message.room)
            except SQLAlchemyError as exc:
                failures += 1
                if failures == FAILED_RECORD_ATTEMPTS:
                    raise
                log.warning("Recording a message from %s failed: %s", message.room, exc)
                time.sleep(FAILURE_PAUSE * failures)

    def _record(
        self, c: Connection, message: CustomerMessage, *, look_for_duplicate: bool
    ) -> Recorded:
        if look_for_duplicate and message.source_id is not None:
            duplicate = c.execute(
                DUPLICATE, {"room": message.room, "source_id": message.source_id}
            ).first()
            if duplicate is not None:
                return Recorded(
                    conversation=self._conversation(c, duplicate.conversation_id),
                    entry=entry_of(duplicate),
                    opened=False,
                    duplicate=True,
                )
        found = self._find_open(c, message.room)
        if found is None and message.rating is not None:
            rated = self._rate(c, message)
            if rated is not None:
                return rated
        if found is None:
            number = c.execute(
                insert(conversations),
                {
                    "customer_room": message.room,
                    "customer_id": message.customer_id,
                    "customer_name": message.customer_name,
                    "state": State.WAITING.value,
                    "opened_at": message.sent_at,
                    "agent_room": message.agent_room,
                    "customer_details": message.customer_details or None,
                },
            ).inserted_primary_key[0]
        else:
            number = found.id
        row = self._inserted_entry(
            c, customer_entry(message, number, Kind.CUSTOMER, opens_conversation=found is None)
        )
        conversation = with_tag_list(found) if found is not None else self._conversation(c, number)
        return Recorded(
            conversation=conversation, entry=entry_of(row), opened=found is None, duplicate=False
        )

    def _rate(self, c: Connection, message: CustomerMessage) -> Recorded | None:
        """Record ``message`` as the rating of the room's last conversation, if that one was
        resolved less than ``RATING_WINDOW`` ago, was asked for a rating and has none yet."""
        last = c.execute(LAST_IN_ROOM, {"room": message.room}).first()
        if (
            last is None
            or last.state != State.RESOLVED.value
            or last.rating is not None
            or last.resolved_at is None
            or message.sent_at - last.resolved_at > RATING_WINDOW
            or c.execute(RATING_ASKED, {"number": last.id}).first() is None
        ):
            return None
        c.execute(SET_RATING, {"number": last.id, "rating": message.rating})
        row = self._inserted_entry(c, customer_entry(message, last.id, Kind.RATING))
        return Recorded(
            conversation=self._conversation(c, last.id),
            entry=entry_of(row),
            opened=False,
            duplicate=False,
        )

    @staticmethod
    def _inserted_entry(c: Connection, values: dict[str, Any]) -> Row:
        """Insert an entry and read it back (in the same statement where the database can)."""
        if c.dialect.insert_returning:
            return c.execute(insert(entries).returning(*entries.c), values).one()
        entry_id = c.execute(insert(entries), values).inserted_primary_key[0]
        return c.execute(ENTRY, {"entry_id": entry_id}).one()
