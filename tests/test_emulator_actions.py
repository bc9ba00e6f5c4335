"""Message actions and App Context channels on the local PubNub server, from the Python SDK.

What a Chat SDK customer does (reactions, receipts, channel metadata) reaches the bot's own
SDK client too: it must be read as PubNub's events, and delivery must go on after them.
"""

from __future__ import annotations

import queue

import pytest
from pubnub.callbacks import SubscribeCallback
from pubnub.exceptions import PubNubException
from pubnub.models.consumer.message_actions import PNMessageAction
from pubnub.models.consumer.objects_v2.common import MembershipIncludes
from pubnub.models.consumer.objects_v2.memberships import PNChannelMembership
from pubnub.models.consumer.v3.channel import Channel

from tests.pubnub_fixtures import EVENT_TIMEOUT, SECRET_KEY, subscribed


class Actions(SubscribeCallback):
    def __init__(self) -> None:
        self.heard: queue.Queue = queue.Queue()

    def message_action(self, pubnub, message_action) -> None:
        self.heard.put(message_action)


def test_a_reaction_reaches_a_group_subscriber_and_messages_still_flow(
    pubnub_client, pubnub_server
):
    pubnub_server.add_channels_to_group("support", ["dana-support"])
    bot = pubnub_client("support")
    actions = Actions()
    bot.add_listener(actions)
    events = subscribed(bot, groups=["support"])

    dana = pubnub_client("dana")
    sent = dana.publish().channel("dana-support").message({"text": "Hi"}).sync().result.timetoken
    assert events.next_message().message == {"text": "Hi"}
    reaction = PNMessageAction()
    reaction.type, reaction.value, reaction.message_timetoken = "reaction", "👍", str(sent)
    added = dana.add_message_action().channel("dana-support").message_action(reaction).sync()
    heard = actions.heard.get(timeout=EVENT_TIMEOUT)
    assert (heard.type, heard.value, heard.uuid) == ("reaction", "👍", "dana")
    assert heard.action_timetoken == added.result.action_timetoken

    dana.publish().channel("dana-support").message({"text": "Still there?"}).sync()
    assert events.next_message().message == {"text": "Still there?"}  # delivery went on
    assert [m.message for m in pubnub_server.history("dana-support")] == [
        {"text": "Hi"},
        {"text": "Still there?"},
    ]  # an action is an event, not a stored message

    listed = bot.get_message_actions().channel("dana-support").sync().result.actions
    assert [(a.type, a.value) for a in listed] == [("reaction", "👍")]
    dana.remove_message_action().channel("dana-support").message_timetoken(sent).action_timetoken(
        added.result.action_timetoken
    ).sync()
    assert bot.get_message_actions().channel("dana-support").sync().result.actions == []


def test_channel_metadata_and_memberships_from_the_python_sdk(pubnub_client):
    app = pubnub_client("app")
    app.set_channel_metadata().channel("dana-support").set_name("Dana").custom(
        {"tier": "gold"}
    ).sync()
    data = app.get_channel_metadata().channel("dana-support").sync().result.data
    assert (data["name"], "custom" in data) == ("Dana", False)  # custom only when asked
    app.set_memberships().uuid("dana").channel_memberships(
        [PNChannelMembership.channel("dana-support")]
    ).sync()
    found = (
        app.get_memberships()
        .uuid("dana")
        .include(MembershipIncludes(channel=True, channel_custom=True, total_count=True))
        .sync()
        .result
    )
    [membership] = found.data
    assert membership["channel"]["name"] == "Dana"
    assert membership["channel"]["custom"] == {"tier": "gold"}
    assert found.total_count == 1


def test_with_access_manager_adding_needs_write_and_removing_delete(
    pubnub_server_factory, pubnub_client
):
    secured = pubnub_server_factory(secret_key=SECRET_KEY)
    admin = pubnub_client("admin", server=secured, secret_key=SECRET_KEY)
    sent = admin.publish().channel("dana-support").message("Hi").sync().result.timetoken
    token = (
        admin.grant_token()
        .ttl(60)
        .authorized_uuid("dana")
        .channels([Channel.id("dana-support").read().write()])
        .sync()
        .result.token
    )
    dana = pubnub_client("dana", server=secured)
    dana.set_token(token)
    reaction = PNMessageAction()
    reaction.type, reaction.value, reaction.message_timetoken = "reaction", "👍", str(sent)
    added = dana.add_message_action().channel("dana-support").message_action(reaction).sync()
    assert len(dana.get_message_actions().channel("dana-support").sync().result.actions) == 1
    with pytest.raises(PubNubException) as refused:
        dana.remove_message_action().channel("dana-support").message_timetoken(
            sent
        ).action_timetoken(added.result.action_timetoken).sync()
    assert refused.value.get_status_code() == 403
    deleting = (
        admin.grant_token()
        .ttl(60)
        .authorized_uuid("dana")
        .channels([Channel.id("dana-support").read().delete()])
        .sync()
        .result.token
    )
    dana.set_token(deleting)
    dana.remove_message_action().channel("dana-support").message_timetoken(sent).action_timetoken(
        added.result.action_timetoken
    ).sync()
    assert dana.get_message_actions().channel("dana-support").sync().result.actions == []
