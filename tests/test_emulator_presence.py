"""Basic presence on the local PubNub server: here-now, leave, heartbeat."""

from __future__ import annotations

from tests.botrunner import wait_for
from tests.pubnub_fixtures import subscribed


def occupants(result) -> dict[str, list[str]]:
    return {
        channel.channel_name: sorted(o.uuid for o in channel.occupants or [])
        for channel in result.channels
    }


def test_subscribers_are_here_until_they_leave(pubnub_client, pubnub_server):
    alice, bob = pubnub_client("alice"), pubnub_client("bob")
    subscribed(alice, channels=["room"])
    subscribed(bob, channels=["room"])

    both = alice.here_now().channels(["room"]).sync().result
    # A subscribe arriving after the leave would make bob present again, as on PubNub.
    pubnub_server.wait_for_subscriber("bob", channel="room")
    bob.unsubscribe().channels(["room"]).execute()
    wait_for(lambda: pubnub_server.here_now("room") == ["alice"])
    after = alice.here_now().channels(["room"]).sync().result

    assert (both.total_occupancy, occupants(both)) == (2, {"room": ["alice", "bob"]})
    assert (after.total_occupancy, occupants(after)) == (1, {"room": ["alice"]})


def test_presence_through_a_group_counts_on_each_of_its_channels(pubnub_client):
    bot = pubnub_client("bot")
    bot.add_channel_to_channel_group().channels(["c1", "c2"]).channel_group("g").sync()
    subscribed(bot, groups=["g"])
    observer = pubnub_client("observer")

    by_channel = observer.here_now().channels(["c1"]).sync().result
    by_group = observer.here_now().channel_groups(["g"]).sync().result
    everywhere = observer.here_now().sync().result

    assert occupants(by_channel) == {"c1": ["bot"]}
    assert occupants(by_group) == {"c1": ["bot"], "c2": ["bot"]}
    assert (by_group.total_channels, by_group.total_occupancy) == (2, 2)
    assert everywhere.total_occupancy == 2


def test_heartbeat_makes_a_user_present_and_uuids_can_be_left_out(pubnub_client):
    watcher = pubnub_client("watcher")

    watcher.heartbeat().channels(["lobby"]).sync()
    counted = watcher.here_now().channels(["lobby"]).include_uuids(False).sync().result

    assert counted.total_occupancy == 1
    assert occupants(watcher.here_now().channels(["lobby"]).sync().result) == {"lobby": ["watcher"]}


def test_empty_channel_has_nobody(pubnub_client):
    result = pubnub_client("x").here_now().channels(["void"]).sync().result

    assert (result.total_occupancy, occupants(result)) == (0, {"void": []})
