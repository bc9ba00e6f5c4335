"""Customer ratings: asked after resolution, a bare "1" to "5" answers it, stats sum them up."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, insert, inspect, select, text

from errbot_support.desk import Desk, rating_in
from errbot_support.migrations import SCHEMA_VERSION, current_version, migrate
from errbot_support.records import RATING_QUESTION, RATING_WINDOW, Agent, Kind, Relay, State
from errbot_support.tables import conversations, metadata, schema_version
from tests.support_fixtures import *  # noqa: F403
from tests.support_fixtures import AGENT_ROOM, START, customer_message, support_bot

ALICE = Agent("alice", "alice")
QUESTION = "How did we do? Reply with a number from 1 (bad) to 5 (great)."
THANKS = "Thank you for your feedback!"


@pytest.mark.parametrize(
    ("text", "rating"),
    [
        *[("4", 4), (" 5 ", 5), ("3/5", 3), ("5!", 5), ("1.", 1)],
        *[("0", None), ("6", None), ("45", None), ("4 stars", None), ("", None)],
        ("I'd say 4", None),
    ],
)
def test_only_a_message_that_is_nothing_but_a_rating_is_one(text, rating):
    assert rating_in(text) == rating


def _resolved_and_asked(desk: Desk, *, ask: bool = True) -> int:
    number = desk.receive(customer_message(body="my parcel?")).conversation.number
    desk.claim(number, ALICE)
    desk.resolve(number, ALICE)
    if ask:
        desk.begin_notice(number, QUESTION, RATING_QUESTION)
    return number


def _rating(body: str, value: int, **changes):
    return dataclasses.replace(customer_message(body=body, **changes), rating=value)


def test_a_rating_is_recorded_on_the_conversation_it_rates(desk, clock):
    number = _resolved_and_asked(desk)
    recorded = desk.receive(_rating("4", 4, sent_at=clock.advance(hours=2)))
    assert not recorded.opened and not recorded.duplicate
    assert recorded.conversation.number == number
    assert (recorded.conversation.rating, recorded.conversation.state) == (4, State.RESOLVED)
    assert (recorded.entry.kind, recorded.entry.relay) == (Kind.RATING, Relay.RECORDED)
    assert desk.store.open_conversations() == []
    assert desk.stats(START - timedelta(days=1)).rating.mean == 4


@pytest.mark.parametrize(
    "why_not",
    ["not asked", "already rated", "too late", "still open"],
)
def test_otherwise_a_bare_number_is_an_ordinary_message(desk, clock, why_not):
    number = _resolved_and_asked(desk, ask=why_not != "not asked")
    later = clock.advance(minutes=5)
    if why_not == "already rated":
        desk.receive(_rating("5", 5, sent_at=later))
    if why_not == "too late":
        later = clock.advance(seconds=RATING_WINDOW.total_seconds() + 1)
    if why_not == "still open":
        desk.reopen(number, ALICE)
    recorded = desk.receive(_rating("3", 3, sent_at=later))
    assert recorded.entry.kind is Kind.CUSTOMER
    assert recorded.opened == (why_not != "still open")
    assert desk.get(number).rating == (5 if why_not == "already rated" else None)


def test_a_redelivered_rating_counts_once(desk, clock):
    number = _resolved_and_asked(desk)
    rating = _rating("2", 2, sent_at=clock.advance(minutes=1), source_id="17000000000000009")
    first, again = desk.receive(rating), desk.receive(rating)
    assert again.duplicate and again.entry.id == first.entry.id
    assert desk.store.count_entries(number) == len(desk.transcript(number, 0, 100).entries)
    assert desk.get(number).rating == 2


def test_a_database_of_the_first_schema_is_upgraded_with_its_data(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'support.sqlite'}")
    try:
        with engine.begin() as c:  # the first schema: today's tables without later columns
            metadata.create_all(c)
            c.execute(text("ALTER TABLE support_conversations DROP COLUMN rating"))
            c.execute(text("ALTER TABLE support_conversations DROP COLUMN agent_room"))
            c.execute(text("ALTER TABLE support_conversations DROP COLUMN customer_details"))
            c.execute(text("DROP INDEX ix_support_conversations_thread"))
            c.execute(text("ALTER TABLE support_conversations DROP COLUMN thread_key"))
            c.execute(text("ALTER TABLE support_entries DROP COLUMN sender"))
            c.execute(insert(schema_version).values(version=1))
            c.execute(
                text(
                    "INSERT INTO support_conversations (customer_room, customer_id, "
                    "customer_name, state, opened_at) "
                    "VALUES ('dana-chat', 'dana-chat/dana', 'Dana', 'waiting', '2026-01-01')"
                )
            )
        assert migrate(engine) == 1
        with engine.connect() as c:
            assert current_version(c) == SCHEMA_VERSION == 7
            columns = {col["name"] for col in inspect(c).get_columns(conversations.name)}
            assert {"rating", "agent_room", "customer_details", "thread_key"} <= columns
            row = c.execute(
                select(
                    conversations.c.customer_name,
                    conversations.c.rating,
                    conversations.c.agent_room,
                )
            ).one()
            assert tuple(row) == ("Dana", None, None)
    finally:
        engine.dispose()


def test_an_agents_view_of_a_rating_and_the_customers(tmp_path):
    with support_bot(
        tmp_path, SUPPORT_ACKNOWLEDGEMENT=None, SUPPORT_RATING_QUESTION=QUESTION
    ) as bot:
        bot.customer("dana-chat", "my parcel?")
        bot.command("alice", "!claim 1")
        bot.command("alice", "!resolve 1")
        assert bot.bodies("dana-chat")[-1] == QUESTION
        bot.customer("dana-chat", "4")
        assert bot.bodies(AGENT_ROOM)[-1] == (
            "#1 (resolved by alice) dana rated the conversation 4/5"
        )
        thanks = bot.to("dana-chat")[-1]
        assert thanks.body == THANKS
        assert "dana rated the conversation: 4" in bot.command("alice", "!transcript 1")
        assert "rated 4/5" in bot.command("alice", "!customer dana")
        stats = bot.command("alice", "!stats")
        assert "Customer rating: 4.0/5 on average (1 rating(s))" in stats
        assert "alice: 0 open, 1 resolved" in stats and "rating 4.0/5" in stats

        bot.customer("dana-chat", "5")  # a rating is given once: this is a new conversation
        assert bot.bodies(AGENT_ROOM)[-1].startswith("#2 New conversation with dana")


def test_without_a_rating_question_a_number_opens_a_conversation(tmp_path):
    with support_bot(tmp_path, SUPPORT_ACKNOWLEDGEMENT=None) as bot:
        bot.customer("dana-chat", "my parcel?")
        bot.command("alice", "!claim 1")
        bot.command("alice", "!resolve 1")
        bot.customer("dana-chat", "4")
        assert bot.bodies(AGENT_ROOM)[-1].startswith("#2 New conversation with dana")
        assert "Customer rating" not in bot.command("alice", "!stats")
