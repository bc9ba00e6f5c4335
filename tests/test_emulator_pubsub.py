"""Publish and subscribe through the local PubNub server, driven by the official SDK."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from pubnub.enums import PNStatusCategory
from pubnub.exceptions import PubNubException
from pubnub.pnconfiguration import PNConfiguration
from pubnub.pubnub_asyncio import PubNubAsyncio, SubscribeListener

from errbot_pubnub.emulator import PubNubEmulator, timetoken_to_datetime
from errbot_pubnub.emulator.timetokens import TimetokenClock
from tests.botrunner import wait_for
from tests.pubnub_fixtures import PubNubEvents, pubnub_config, subscribed


def test_time_is_a_current_17_digit_timetoken(pubnub_client):
    client = pubnub_client("agent")

    first = client.time().sync().result.value_as_int
    second = client.time().sync().result.value_as_int

    assert len(str(first)) == 17
    assert second > first
    assert abs(timetoken_to_datetime(first).timestamp() - time.time()) < 60


def test_message_on_a_channel_reaches_its_subscriber(pubnub_client, pubnub_server):
    bot = pubnub_client("bot")
    events = subscribed(bot, channels=["alice"])

    sent = (
        pubnub_client("alice")
        .publish()
        .channel("alice")
        .message({"text": "hello / 100% ünïcode"})
        .meta({"author": "Alice"})
        .sync()
    )

    received = events.next_message()
    assert received.channel == "alice"
    assert received.subscription is None
    assert received.message == {"text": "hello / 100% ünïcode"}
    assert received.publisher == "alice"
    assert received.user_metadata == {"author": "Alice"}
    assert received.timetoken == sent.result.timetoken
    [recorded] = pubnub_server.published("alice")
    assert recorded.timetoken == sent.result.timetoken
    assert recorded.meta == {"author": "Alice"}


def test_post_publish_and_fire_are_delivered(pubnub_client, pubnub_server):
    bot = pubnub_client("bot")
    events = subscribed(bot, channels=["c1"])
    customer = pubnub_client("customer")

    customer.publish().channel("c1").message(["posted", 1]).use_post(True).sync()
    customer.fire().channel("c1").message("fired").sync()

    assert events.next_message().message == ["posted", 1]
    assert events.next_message().message == "fired"
    posted, fired = pubnub_server.published("c1")
    assert posted.stored and not fired.stored


def test_group_membership_is_evaluated_at_delivery_time(pubnub_client):
    bot = pubnub_client("bot")
    bot.add_channel_to_channel_group().channels(["early"]).channel_group("support").sync()
    events = subscribed(bot, groups=["support"])
    customer = pubnub_client("customer")

    bot.add_channel_to_channel_group().channels(["late"]).channel_group("support").sync()
    customer.publish().channel("late").message("joined after connect").sync()
    customer.publish().channel("outside").message("not in the group").sync()
    customer.publish().channel("early").message("from the start").sync()

    first, second = events.next_message(), events.next_message()
    assert (first.channel, first.subscription, first.message) == (
        "late",
        "support",
        "joined after connect",
    )
    assert (second.channel, second.message) == ("early", "from the start")
    assert events.messages.empty()


def test_subscribing_from_a_timetoken_delivers_what_came_after_it(pubnub_client, pubnub_server):
    customer = pubnub_client("customer")
    before = customer.publish().channel("c").message("old").sync().result.timetoken
    customer.publish().channel("c").message("missed 1").sync()
    customer.publish().channel("c").message("missed 2").sync()
    bot = pubnub_client("bot")
    events = PubNubEvents()
    bot.add_listener(events)
    bot.subscribe().channels(["c"]).with_timetoken(before).execute()

    assert events.next_message().message == "missed 1"
    assert events.next_message().message == "missed 2"


def test_unknown_keys_are_refused(pubnub_server, pubnub_client):
    stranger = pubnub_client("x", publish_key="pub-c-other")

    with pytest.raises(PubNubException) as refused:
        stranger.publish().channel("c").message("hi").sync()

    assert refused.value.get_status_code() == 400
    assert pubnub_server.published("c") == []


def test_asyncio_client_publishes_and_receives(pubnub_server: PubNubEmulator):
    async def scenario() -> tuple[object, int]:
        config: PNConfiguration = pubnub_config(pubnub_server, "async-bot")
        client = PubNubAsyncio(config)
        listener = SubscribeListener()
        client.add_listener(listener)
        try:
            client.subscribe().channels(["room"]).execute()
            await asyncio.wait_for(listener.wait_for_connect(), 10)
            envelope = await client.publish().channel("room").message({"n": 1}).future()
            received = await asyncio.wait_for(listener.wait_for_message_on("room"), 10)
            return received, envelope.result.timetoken
        finally:
            await client.stop()

    received, timetoken = asyncio.run(scenario())

    assert received.message == {"n": 1}
    assert received.publisher == "async-bot"
    assert received.timetoken == timetoken
    assert pubnub_server.published("room")[0].publisher == "async-bot"


def test_signal_is_delivered_as_a_signal_and_never_stored(pubnub_client, pubnub_server):
    bot = pubnub_client("bot")
    events = subscribed(bot, channels=["c"])

    sent = pubnub_client("alice").signal().channel("c").message({"type": "typing"}).sync()

    received = events.next_signal()
    assert (received.message, received.publisher) == ({"type": "typing"}, "alice")
    assert received.timetoken == int(sent.result.timetoken)
    assert events.messages.empty()
    assert pubnub_server.history("c") == []
    assert pubnub_server.published("c")[0].signal


@pytest.mark.parametrize("use_post", [False, True])
def test_message_over_32_kib_is_refused(pubnub_client, pubnub_server, use_post):
    client = pubnub_client("alice")
    client.publish().channel("c").message("x" * 30_000).use_post(use_post).sync()

    with pytest.raises(PubNubException) as refused:
        client.publish().channel("c").message("x" * 33_000).use_post(use_post).sync()

    assert refused.value.get_status_code() == 413
    assert "Message Too Large" in str(refused.value)
    assert len(pubnub_server.published("c")) == 1


def test_signal_over_64_bytes_is_refused(pubnub_client, pubnub_server):
    client = pubnub_client("alice")

    with pytest.raises(PubNubException) as refused:
        client.signal().channel("c").message({"text": "y" * 64}).sync()

    assert refused.value.get_status_code() == 413
    assert pubnub_server.published("c") == []


def test_idle_long_polls_are_answered_empty_and_renewed(pubnub_server_factory, pubnub_client):
    server = pubnub_server_factory(subscribe_timeout=0.1)
    bot = pubnub_client("bot", server=server)
    events = subscribed(bot, channels=["c"])
    wait_for(lambda: server.request_count("subscribe") >= 4)

    server.publish("c", "after a few empty polls")

    assert events.next_message().message == "after a few empty polls"


def test_presence_channels_and_groups_are_accepted(pubnub_client):
    bot = pubnub_client("bot")
    bot.add_channel_to_channel_group().channels(["in-group"]).channel_group("g").sync()
    events = PubNubEvents()
    bot.add_listener(events)
    bot.subscribe().channels(["direct"]).channel_groups(["g"]).with_presence().execute()
    events.wait_status(PNStatusCategory.PNConnectedCategory)
    customer = pubnub_client("customer")

    customer.publish().channel("direct").message(1).sync()
    customer.publish().channel("in-group").message(2).sync()

    assert [events.next_message().message, events.next_message().message] == [1, 2]


def test_a_late_subscriber_catches_up_on_the_last_100_messages_only(pubnub_client, pubnub_server):
    before = pubnub_client("agent").time().sync().result.value_as_int
    for i in range(150):
        pubnub_server.publish("c", i)
    events = PubNubEvents()
    bot = pubnub_client("bot")
    bot.add_listener(events)

    bot.subscribe().channels(["c"]).with_timetoken(before).execute()

    assert [events.next_message().message for _ in range(100)] == list(range(50, 150))
    pubnub_server.publish("c", "live")
    assert events.next_message().message == "live"


def test_a_large_backlog_arrives_in_answers_of_100(pubnub_server_factory, pubnub_client):
    server = pubnub_server_factory(catchup_size=500)
    before = pubnub_client("agent", server=server).time().sync().result.value_as_int
    for i in range(250):
        server.publish("c", i)
    events = PubNubEvents()
    bot = pubnub_client("bot", server=server)
    bot.add_listener(events)

    bot.subscribe().channels(["c"]).with_timetoken(before).execute()

    assert [events.next_message().message for _ in range(250)] == list(range(250))
    assert server.request_count("subscribe") >= 3


def test_timetokens_strictly_increase_even_within_100_ns():
    clock = TimetokenClock()

    tokens = [clock.next() for _ in range(10_000)]

    assert all(later > earlier for earlier, later in itertools.pairwise(tokens))
    assert all(len(str(token)) == 17 for token in tokens)


def test_clock_never_stamps_below_a_subscriber_cursor(pubnub_client, pubnub_server):
    ahead = pubnub_client("agent").time().sync().result.value_as_int + 5_000_000  # +0.5 s
    events = PubNubEvents()
    bot = pubnub_client("bot")
    bot.add_listener(events)
    bot.subscribe().channels(["c"]).with_timetoken(ahead).execute()
    pubnub_server.wait_for_subscriber("bot", channel="c")

    timetoken = pubnub_server.publish("c", "stamped after the cursor")

    assert timetoken > ahead
    assert events.next_message().message == "stamped after the cursor"


def test_unsupported_filter_expression_is_refused_not_ignored(pubnub_client):
    bot = pubnub_client("bot", filter_expression="author != 'bot'")
    events = PubNubEvents()
    bot.add_listener(events)

    bot.subscribe().channels(["c"]).execute()

    refused = events.wait_status(PNStatusCategory.PNBadRequestCategory)
    assert refused.status_code == 400
