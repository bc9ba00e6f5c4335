"""Customers who wait too long for an answer are pointed out to the agents
(``SUPPORT_REMINDER_MINUTES``): once for each stretch without an answer, in their agent room,
not outside business hours.

The desk on a real SQLite file with a settable clock; real bots on Errbot's Test backend.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

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

TEN_MINUTES = timedelta(minutes=10)


def waiting(desk) -> list[tuple[int, datetime]]:
    return [(c.number, since) for c, since in desk.awaiting_answer(TEN_MINUTES)]


def test_a_conversation_awaits_an_answer_from_the_first_message_after_the_last_reply(desk, clock):
    number = desk.receive(customer_message(sent_at=START)).conversation.number
    desk.receive(customer_message(body="anyone?", sent_at=START + timedelta(minutes=5)))
    clock.advance(minutes=9)
    assert waiting(desk) == []  # not ten minutes yet
    clock.advance(minutes=2)
    assert waiting(desk) == [(number, START)]

    desk.begin_reply(number, ALICE, "Here I am")  # claims it and answers
    assert waiting(desk) == []
    again = START + timedelta(minutes=15)
    desk.receive(customer_message(body="one more thing", sent_at=again))
    clock.advance(minutes=20)
    assert waiting(desk) == [(number, again)]

    other = desk.receive(customer_message("erin-chat", sent_at=START + timedelta(minutes=1)))
    assert [n for n, _ in waiting(desk)] == [other.conversation.number, number]  # oldest first
    desk.resolve(number, ALICE)
    assert [n for n, _ in waiting(desk)] == [other.conversation.number]


def test_waiting_customers_are_pointed_out_once_per_stretch_in_their_room(tmp_path):
    long_ago = datetime.now(timezone.utc) - timedelta(minutes=30)
    with support_bot(
        tmp_path,
        SUPPORT_REMINDER_MINUTES=0.01,  # looked for every 0.15 s
        SUPPORT_ROUTES={"vip-*": "vip"},
        SUPPORT_ACKNOWLEDGEMENT=None,
    ) as bot:
        bot.customer("dana-chat", "my parcel?", sent_at=long_ago)
        reminder = bot.wait_sent(lambda s: s.to == AGENT_ROOM and "has waited" in s.body)
        assert reminder.body == "#1 dana has waited 30m for an agent: !claim 1"
        bot.customer("vip-erin", "hello?", name="erin", sent_at=long_ago)
        vip = bot.wait_sent(lambda s: s.to == "vip" and "has waited" in s.body)
        assert vip.body == "#2 erin has waited 30m for an agent: !claim 2"

        bot.plugin.runtime.agents.remind()  # what the next look finds: nothing new to point out
        assert [s.body for s in bot.sent if "has waited" in s.body] == [reminder.body, vip.body]

        bot.command("alice", "!claim 1")
        bot.say("alice", "!reply 1 It is on its way")
        wait_for(lambda: bot.bodies("dana-chat") == ["It is on its way"])
        bot.customer("dana-chat", "when?", sent_at=long_ago + timedelta(minutes=5))
        again = bot.wait_sent(lambda s: "has waited" in s.body and "(alice)" in s.body)
        assert again.body == "#1 (alice) dana has waited 25m for an answer: !reply 1 ..."
        assert again.to == AGENT_ROOM


def test_no_reminders_outside_business_hours(tmp_path):
    tomorrow = (datetime.now(timezone.utc) + timedelta(days=1)).strftime("%a")
    long_ago = datetime.now(timezone.utc) - timedelta(minutes=30)
    with support_bot(
        tmp_path,
        SUPPORT_REMINDER_MINUTES=10,
        SUPPORT_BUSINESS_HOURS=f"{tomorrow} 10:00-11:00",
    ) as bot:
        bot.customer("dana-chat", "my parcel?", sent_at=long_ago)
        assert bot.desk.awaiting_answer(TEN_MINUTES) != []
        bot.plugin.runtime.agents.remind()
        assert [s.body for s in bot.sent if "has waited" in s.body] == []


@pytest.mark.parametrize("value", ["10", -1, True])
def test_a_bad_reminder_setting_stops_the_plugin_with_one_sentence(tmp_path, value):
    sentence = "SUPPORT_REMINDER_MINUTES must be a number of minutes (e.g. 10)"
    refused_activation(tmp_path, sentence, SUPPORT_REMINDER_MINUTES=value)
