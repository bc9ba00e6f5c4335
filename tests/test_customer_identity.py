"""Who is the customer of a chat: a message by another PubNub user in a customer's channel is
shown to agents as that user's and flagged (or refused); one published under the support user's
id that the bot did not publish is reported in the conversation's agent room.

A real bridged bot: customers and intruders are official PubNub SDK clients on the local PubNub
server (an open keyset: anyone may publish anywhere), agents are on Errbot's Test backend.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from errbot_pubnub.customer_identity import read_identity_settings
from errbot_pubnub.sdk import new_client
from errbot_pubnub.settings import PubNubConfigurationError
from tests.pubnub_fixtures import pubnub_config, stop_clients
from tests.support_fixtures import *  # noqa: F403
from tests.support_fixtures import AGENT_ROOM, bridged_support_bot


def publish_as(server: Any, user_id: str, channel: str, text: str) -> None:
    """Someone with the subscribe and publish keys writes in ``channel`` as ``user_id``."""
    client = new_client(pubnub_config(server, user_id))
    try:
        payload = {
            "kind": "from_customer",
            "time": datetime.now(timezone.utc).isoformat(),
            "text": text,
        }
        client.publish().channel(channel).message(payload).sync()
    finally:
        stop_clients([client])


def agent_room_line(bot: Any, text: str) -> str:
    return bot.wait_sent(lambda s: s.to == AGENT_ROOM and text in s.body).body


def test_another_user_in_a_customers_chat_is_shown_as_who_they_are_and_flagged(
    tmp_path, pubnub_server, customers
):
    with bridged_support_bot(tmp_path, pubnub_server) as bot:
        bob = customers("bob")
        bob.write("Hello, about my account")
        bot.conversation_of("customers:bob-support")
        publish_as(pubnub_server, "mallory", "bob-support", "please close my account and wire it")
        line = agent_room_line(bot, "please close my account")
        assert line == (
            "#1: a message in bob's chat came from mallory, who is not the customer "
            "(not part of the conversation): please close my account and wire it"
        )
        bob.write("Are you there?")
        agent_room_line(bot, "Are you there?")
        transcript = bot.command("alice", "!transcript 1")
        assert "Are you there?" in transcript
        assert "wire it" not in transcript  # not recorded as bob's words


def test_a_message_posing_as_support_is_reported_in_the_conversations_room(
    tmp_path, pubnub_server, customers
):
    with bridged_support_bot(tmp_path, pubnub_server) as bot:
        bob = customers("bob")
        bob.write("Hi")
        bot.conversation_of("customers:bob-support")
        bot.command("alice", "!claim 1")
        bot.say("alice", "!reply 1 Hello Bob, how can I help?")
        bob.wait_for("Hello Bob")
        publish_as(pubnub_server, "support", "bob-support", "Please send your card number")
        bob.wait_for("Please send your card number")  # the customer's app did show it
        line = agent_room_line(bot, "posing as support")
        assert line == (
            "#1: a message posing as support reached the customer: Please send your card number"
        )
    # The bot's own replies and notices are never taken for impostors.
    assert [b for b in bot.bodies(AGENT_ROOM) if "posing as support" in b] == [line]


def test_with_refuse_another_users_message_is_not_delivered_and_admins_are_told(
    tmp_path, pubnub_server, customers
):
    with bridged_support_bot(tmp_path, pubnub_server, PUBNUB_OTHER_WRITERS="refuse") as bot:
        bob = customers("bob")
        bob.write("Hello")
        bot.conversation_of("customers:bob-support")
        publish_as(pubnub_server, "mallory", "bob-support", "wire the balance")
        warning = bot.wait_sent(lambda s: "was not delivered" in s.body).body
        assert warning == (
            "A message in PubNub channel bob-support by 'mallory', who is not its customer "
            "'bob', was not delivered (PUBNUB_OTHER_WRITERS = 'refuse')."
        )
        bob.write("Still me")
        agent_room_line(bot, "Still me")
        assert not [b for b in bot.bodies(AGENT_ROOM) if "wire the balance" in b]


def test_with_the_first_writer_rule_whoever_wrote_first_is_the_customer(
    tmp_path, pubnub_server, customers
):
    with bridged_support_bot(tmp_path, pubnub_server, PUBNUB_CUSTOMER_IS="first") as bot:
        customers("bob")  # the channel bob-support joins the group, bob writes nothing yet
        publish_as(pubnub_server, "erin", "bob-support", "I am erin, writing first")
        bot.conversation_of("customers:bob-support")
        publish_as(pubnub_server, "bob", "bob-support", "and I am bob")
        line = agent_room_line(bot, "and I am bob")
        assert "came from bob, who is not the customer" in line


@pytest.mark.parametrize(
    ("setting", "value", "sentence"),
    [
        ("PUBNUB_CUSTOMER_IS", "last", "PUBNUB_CUSTOMER_IS must be 'channel'"),
        ("PUBNUB_OTHER_WRITERS", "drop", "PUBNUB_OTHER_WRITERS must be 'flag'"),
        ("PUBNUB_CUSTOMER_CHANNEL", "support", "PUBNUB_CUSTOMER_CHANNEL must be a text containing"),
    ],
)
def test_identity_settings_are_checked_with_one_sentence(setting, value, sentence):
    class Config:
        pass

    config = Config()
    setattr(config, setting, value)
    with pytest.raises(PubNubConfigurationError) as error:
        read_identity_settings(config)
    assert str(error.value).startswith(sentence)
