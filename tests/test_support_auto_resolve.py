"""Conversations whose customer went silent after an agent's answer are resolved on their own
(``SUPPORT_AUTO_RESOLVE_HOURS``), with the usual notices; a customer writing at that moment
keeps the conversation open.

The desk on a real SQLite file with a settable clock; real bots on Errbot's Test backend.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from errbot_support.records import Kind, State
from tests.botrunner import wait_for
from tests.support_fixtures import *  # noqa: F403 (the desk fixture and what it needs)
from tests.support_fixtures import (
    AGENT_ROOM,
    ALICE,
    START,
    customer_message,
    refused_activation,
    support_bot,
)

DAY = timedelta(hours=24)


def silent(desk) -> list[tuple[int, str]]:
    return [(c.number, reply.body) for c, reply in desk.answered_then_silent(DAY)]


def test_only_a_conversation_whose_last_word_is_an_agents_reply_goes_silent(desk, clock):
    answered = desk.receive(customer_message("dana-chat", sent_at=START)).conversation.number
    desk.begin_reply(answered, ALICE, "Try turning it off and on again")
    unanswered = desk.receive(customer_message("erin-chat", sent_at=START)).conversation.number
    desk.claim(unanswered, ALICE)
    desk.receive(customer_message("fay-chat", sent_at=START))  # waiting: nobody has it
    desk.note(answered, ALICE, "a note is no answer from the customer")
    clock.advance(hours=23)
    assert silent(desk) == []
    clock.advance(hours=2)
    assert silent(desk) == [(answered, "Try turning it off and on again")]

    desk.receive(customer_message("dana-chat", "It worked!", sent_at=clock.now))
    assert silent(desk) == []  # the customer had the last word


def test_a_silent_conversation_is_resolved_unless_the_customer_writes_meanwhile(desk, clock):
    number = desk.receive(customer_message("dana-chat", sent_at=START)).conversation.number
    desk.begin_reply(number, ALICE, "Done, anything else?")
    clock.advance(hours=25)
    [(conversation, reply)] = desk.answered_then_silent(DAY)

    desk.receive(customer_message("dana-chat", "one more thing", sent_at=clock.now))
    assert desk.resolve_silent(conversation, reply) is None  # the customer wrote meanwhile
    assert desk.get(number).state is State.ASSIGNED

    desk.begin_reply(number, ALICE, "Sure, here it is")
    clock.advance(hours=25)
    [(conversation, reply)] = desk.answered_then_silent(DAY)
    resolved = desk.resolve_silent(conversation, reply)
    assert (resolved.state, resolved.agent, resolved.resolved_at) == (
        State.RESOLVED,
        "alice",
        clock.now,
    )
    [event] = [e for e in desk.store.entries(number) if e.kind is Kind.EVENT][-1:]
    assert event.body == "resolved automatically: no word from the customer after the last reply"


def test_the_bot_resolves_silent_conversations_and_says_so(tmp_path):
    with support_bot(
        tmp_path,
        SUPPORT_AUTO_RESOLVE_HOURS=0.0002,  # 0.72 s of silence; looked for every 0.18 s
        SUPPORT_ACKNOWLEDGEMENT=None,
        SUPPORT_RATING_QUESTION="How did we do? Reply with a number from 1 to 5.",
    ) as bot:
        bot.customer("dana-chat", "my parcel?")
        bot.command("alice", "!claim 1")
        bot.say("alice", "!reply 1 It arrives tomorrow.")
        told = bot.wait_sent(lambda s: s.to == AGENT_ROOM and "automatically" in s.body)
        assert told.body.startswith("#1 resolved automatically: dana said nothing for ")
        assert told.body.endswith(" after alice's reply.")
        wait_for(lambda: len(bot.bodies("dana-chat")) == 3)
        assert bot.bodies("dana-chat")[1:] == [
            "We have marked this conversation as resolved. Write again any time if you need "
            "more help.",
            "How did we do? Reply with a number from 1 to 5.",
        ]
        assert bot.desk.get(1).state is State.RESOLVED


@pytest.mark.parametrize("value", ["48", -1, True])
def test_a_bad_auto_resolve_setting_stops_the_plugin_with_one_sentence(tmp_path, value):
    sentence = "SUPPORT_AUTO_RESOLVE_HOURS must be a number of hours (e.g. 48)"
    refused_activation(tmp_path, sentence, SUPPORT_AUTO_RESOLVE_HOURS=value)
