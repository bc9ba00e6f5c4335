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

from errbot_instances.election import Election
from errbot_instances.postgres import Liveness, connect
from errbot_instances.registry import Me
from errbot_support.desk import Desk
from errbot_support.records import Conversation, Delivery
from errbot_support.reminders import ReminderMarks, Reminders
from errbot_support.store import Store
from tests.botrunner import wait_for
from tests.instance_fixtures import ChildInstance, Events
from tests.support_fixtures import AGENT_ROOM, ALICE, START, Clock, customer_message, support_bot

pytest.importorskip("psycopg", reason="the postgresql extra (psycopg) is not installed")

BOUND = 3.0
RESTART_REASON = "the bot was stopped while sending"
QUICK = {"INSTANCES_TAKEOVER_SECONDS": BOUND}


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
    here = None
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

        # Killed, the other bot (the active one) is lost the moment another takes its role
        # over: what it was sending is then reported, by the one that took over (or the next
        # bot to start), without waiting for it to go stale.
        here = Election(postgres_database, liveness=Liveness(BOUND), me=Me(id="1a7e5747"))
        here.start()
        wait_for(lambda: here.confirmed_at() > float("-inf"), timeout=10)
        assert not here.is_active()
        other.kill()
        wait_for(here.is_active, timeout=BOUND * 2)
        found = Desk(store, sender=here.id).abandon_pending_deliveries(RESTART_REASON, stale)
        assert [entry.id for entry in found] == [sending.id]
        assert store.entry(sending.id).delivery is Delivery.UNDELIVERED
    finally:
        if here is not None:
            here.stop()
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


def test_what_a_lost_bot_was_sending_is_reported_in_the_agent_room(tmp_path, postgres_database):
    """A real bot faces the agents; another instance (a real process) is sending Dana an
    answer when it is killed: once the active bot counts it lost, the agents read that the
    answer may not have reached her."""
    events = Events()
    with support_bot(tmp_path, SUPPORT_DB_URL=postgres_database, **QUICK) as bot:
        wait_for(lambda: bot.plugin.runtime.agents.running, timeout=10)
        other = ChildInstance(postgres_database, BOUND, events)
        try:
            bot.customer("dana-chat", "where is my parcel?")
            number = bot.conversation_of("dana-chat")
            wait_for(lambda: other.id in instance_ids(postgres_database), timeout=10)
            store = bot.desk.store
            sending = Desk(store, sender=other.id).begin_notice(number, "On its way!", "resolved")
            other.kill()
            wait_for(lambda: [b for b in bot.bodies(AGENT_ROOM) if "NOT DELIVERED" in b])
        finally:
            other.close()
        [report] = [b for b in bot.bodies(AGENT_ROOM) if "NOT DELIVERED" in b]
        assert report.startswith(f"#{number} NOT DELIVERED: the automatic resolved did not reach")
        assert store.entry(sending.id).delivery is Delivery.UNDELIVERED
        assert [b for b in bot.admins_told() if "standing by, was lost" in b]


def instance_ids(url: str) -> set[str]:
    with connect(url, Liveness()) as connection:
        return {row[0] for row in connection.execute("SELECT id FROM instances")}
