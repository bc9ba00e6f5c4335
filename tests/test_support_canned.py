"""Canned replies: ``!reply N :name`` sends a configured text, with the names filled in."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from errbot_support.settings import SettingsError, read_settings
from tests.botrunner import wait_for
from tests.support_fixtures import *  # noqa: F403
from tests.support_fixtures import support_bot

REPLIES = {
    "refund": "Your refund is on its way, {customer}. {agent}",
    "hours": "We answer from 9:00 to 18:00 {{CET}}.",
}


def test_a_canned_reply_reaches_the_customer_with_the_names_filled_in(tmp_path):
    with support_bot(tmp_path, SUPPORT_ACKNOWLEDGEMENT=None, SUPPORT_CANNED_REPLIES=REPLIES) as bot:
        bot.customer("dana-chat", "where is my money?")
        bot.command("alice", "!claim 1")
        bot.say("alice", "!reply 1 :refund")
        wait_for(lambda: bot.bodies("dana-chat") == ["Your refund is on its way, dana. alice"])
        bot.say("alice", "!reply 1  :hours ")  # commands run side by side: one at a time here
        wait_for(lambda: bot.bodies("dana-chat")[1:] == ["We answer from 9:00 to 18:00 {CET}."])
        bot.say("alice", "!reply 1 :) see you")  # not a canned reply: sent as typed
        wait_for(lambda: bot.bodies("dana-chat")[2:] == [":) see you"])
        assert "alice to dana: Your refund is on its way, dana. alice" in bot.command(
            "alice", "!transcript 1"
        )

        refused = bot.command("alice", "!reply 1 :refnud")
        assert refused == (
            "There is no canned reply ':refnud'. Known: :hours, :refund "
            "(!canned shows their texts)."
        )
        assert len(bot.bodies("dana-chat")) == 3  # nothing was sent
        assert bot.command("alice", "!canned").splitlines() == [
            "2 canned replies:",
            ":hours We answer from 9:00 to 18:00 {{CET}}.",
            ":refund Your refund is on its way, {customer}. {agent}",
            "Send one with !reply <number> :<name>.",
        ]


def test_without_canned_replies_the_agents_are_told_where_to_set_them(tmp_path):
    with support_bot(tmp_path, SUPPORT_ACKNOWLEDGEMENT=None) as bot:
        bot.customer("dana-chat", "hi")
        assert bot.command("alice", "!canned") == (
            "No canned replies: set them in SUPPORT_CANNED_REPLIES."
        )
        assert bot.command("alice", "!reply 1 :refund").startswith(
            "There is no canned reply ':refund'. Canned replies are set in SUPPORT_CANNED_REPLIES"
        )
        assert bot.bodies("dana-chat") == []


@pytest.mark.parametrize(
    ("replies", "sentence"),
    [
        ("refund: text", "SUPPORT_CANNED_REPLIES must be a dict of name -> text"),
        ({"re fund": "x"}, "SUPPORT_CANNED_REPLIES: 're fund' is not a usable name"),
        ({"refund": ""}, "SUPPORT_CANNED_REPLIES['refund'] must be a non-empty text"),
        ({"refund": "Hi {name}"}, "SUPPORT_CANNED_REPLIES['refund'] may only use {customer}"),
    ],
)
def test_unusable_canned_replies_are_named_in_one_sentence(tmp_path, replies, sentence):
    config = SimpleNamespace(
        SUPPORT_AGENT_ROOM="#support", BOT_DATA_DIR=str(tmp_path), SUPPORT_CANNED_REPLIES=replies
    )
    with pytest.raises(SettingsError) as refused:
        read_settings(config)
    assert str(refused.value).startswith(sentence)
