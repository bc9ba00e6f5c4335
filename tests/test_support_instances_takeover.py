"""Several Support bots on one real PostgreSQL database: what a bot starting or taking over
leaves to the others, and what it does not do again.

The other bots are real processes (``tests/instance_child.py``, an instance beating its heart
on the database) killed with SIGKILL; the bot starting or taking over is the Support store, desk
and reminders as the plugin builds them, on a connection of its own to the same database.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from errbot_instances.postgres import Liveness
from errbot_support.desk import Desk
from errbot_support.records import Conversation, Delivery
from errbot_support.reminders import ReminderMarks, Reminders
from errbot_support.store import Store
from tests.botrunner import wait_for
from tests.instance_fixtures import ChildInstance, Events
from tests.support_fixtures import ALICE, START, Clock, customer_message

pytest.importorskip("psycopg", reason="the postgresql extra (psycopg) is not installed")

BOUND = 3.0
RESTART_REASON = "the bot was stopped while sending"


@pytest.fixture
def store(postgres_database: str) -> Iterator[Store]:
    opened = Store(postgres_database)
    yield opened
    opened.close()


def test_a_starting_bot_marks_undelivered_only_what_dead_bots_were_sending(
    store, postgres_database
):
    events = Events()
    other = ChildInstance(postgres_database, BOUND, events)
    try:
        wait_for(lambda: events.of(other.id, "active"), timeout=10)
        number = Desk(store).receive(customer_message("dana-chat")).conversation.number
        # The live bot is sending an acknowledgement right now; a bot that is gone (no row
        # in the instances' table) was cut short sending a resolution.
        sending = Desk(store, sender=other.id).begin_notice(number, "Thanks!", "acknowledgement")
        cut = Desk(store, sender="0dead0ff").begin_notice(number, "Resolved.", "resolution")

        starting = Desk(store, sender="5ta7t1ng")
        stale = Liveness(BOUND).stale
        abandoned = starting.abandon_pending_deliveries(RESTART_REASON, stale)
        assert [entry.id for entry in abandoned] == [cut.id]
        assert store.entry(cut.id).delivery is Delivery.UNDELIVERED
        assert store.entry(cut.id).delivery_error == RESTART_REASON
        assert store.entry(sending.id).delivery is Delivery.PENDING

        # Killed, the other bot is silent: once unheard for the stale time it counts as dead,
        # and the next bot to start reports what it was sending.
        other.kill()
        later = Desk(store, sender="1a7e5747")
        found = wait_for(
            lambda: later.abandon_pending_deliveries(RESTART_REASON, stale), timeout=BOUND * 3
        )
        assert [entry.id for entry in found] == [sending.id]
        assert store.entry(sending.id).delivery is Delivery.UNDELIVERED
    finally:
        other.close()


def reminders_of(store: Store) -> Reminders:
    return Reminders(timedelta(minutes=10), None, ReminderMarks(store.engine, store.writer))


def test_a_bot_taking_over_does_not_remind_the_agents_again(store, postgres_database):
    clock = Clock(START + timedelta(minutes=30))
    posted: list[tuple[int, timedelta]] = []

    def remind(conversation: Conversation, waited: timedelta) -> None:
        posted.append((conversation.number, waited))

    first = Desk(store, clock)
    number = first.receive(customer_message("dana-chat", sent_at=START)).conversation.number
    reminders_of(store).run(first, remind)
    assert posted == [(number, timedelta(minutes=30))]

    # The bot that posted it is gone; the one taking over has its own connection and memory.
    successor_store = Store(postgres_database)
    try:
        successor = Desk(successor_store, clock)
        taking_over = reminders_of(successor_store)
        clock.advance(minutes=5)
        taking_over.run(successor, remind)
        assert posted == [(number, timedelta(minutes=30))]

        # Answered, then waiting again: that new stretch is pointed out, once.
        successor.begin_reply(number, ALICE, "On it")
        again = clock.now
        successor.receive(customer_message("dana-chat", "and?", sent_at=again))
        clock.advance(minutes=12)
        taking_over.run(successor, remind)
        reminders_of(store).run(first, remind)  # whoever looks next finds it pointed out
        assert posted == [(number, timedelta(minutes=30)), (number, timedelta(minutes=12))]
    finally:
        successor_store.close()
