"""Channel groups on the local PubNub server: add, list, remove, delete, capacity."""

from __future__ import annotations

import pytest
from pubnub.exceptions import PubNubException

from tests.pubnub_fixtures import subscribed


def channels_of(client, group: str) -> list[str]:
    return client.list_channels_in_channel_group().channel_group(group).sync().result.channels


def test_add_list_remove_and_delete(pubnub_client, pubnub_server):
    client = pubnub_client("admin")

    client.add_channel_to_channel_group().channels(["a", "b", "c"]).channel_group("g").sync()
    client.remove_channel_from_channel_group().channels(["b"]).channel_group("g").sync()
    listed = channels_of(client, "g")
    client.remove_channel_group().channel_group("g").sync()

    assert listed == ["a", "c"]
    assert channels_of(client, "g") == []
    assert pubnub_server.groups() == []


def test_unknown_group_lists_no_channels(pubnub_client):
    assert channels_of(pubnub_client("admin"), "never-made") == []


def test_capacity_refuses_the_whole_addition_with_a_clear_error(
    pubnub_server_factory, pubnub_client
):
    server = pubnub_server_factory(group_capacity=3)
    client = pubnub_client("admin", server=server)
    client.add_channel_to_channel_group().channels(["a", "b"]).channel_group("g").sync()
    client.add_channel_to_channel_group().channels(["a"]).channel_group("g").sync()

    with pytest.raises(PubNubException) as refused:
        client.add_channel_to_channel_group().channels(["c", "d"]).channel_group("g").sync()

    assert refused.value.get_status_code() == 400
    assert "maximum of 3 channels" in str(refused.value)
    assert server.channels_in_group("g") == ["a", "b"]


def test_a_channel_removed_from_the_group_is_no_longer_heard(pubnub_client):
    bot = pubnub_client("bot")
    bot.add_channel_to_channel_group().channels(["stay", "go"]).channel_group("g").sync()
    events = subscribed(bot, groups=["g"])
    bot.remove_channel_from_channel_group().channels(["go"]).channel_group("g").sync()
    customer = pubnub_client("customer")

    customer.publish().channel("go").message("unheard").sync()
    customer.publish().channel("stay").message("heard").sync()

    assert events.next_message().message == "heard"
    assert events.messages.empty()
