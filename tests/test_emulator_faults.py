"""Fault injection on the local PubNub server, as the official SDK experiences it."""

from __future__ import annotations

import pytest
from pubnub.enums import PNReconnectionPolicy, PNStatusCategory
from pubnub.exceptions import PubNubException

from errbot_pubnub.emulator import RemoteEmulator
from errbot_pubnub.emulator.remote import RemoteEmulatorError
from tests.botrunner import wait_for
from tests.pubnub_fixtures import subscribed

# Reconnect quickly (0.05 s plus the SDK's random 0-1 s) so outages end fast in tests.
QUICK_RECONNECT = {
    "reconnect_policy": PNReconnectionPolicy.LINEAR,
    "reconnection_interval": 0.05,
    "maximum_reconnection_retries": -1,
}


def test_failed_publish_raises_with_the_status_and_stores_nothing(pubnub_client, pubnub_server):
    client = pubnub_client("alice")
    pubnub_server.faults.fail_next(1, 500, operation="publish")

    with pytest.raises(PubNubException) as failed:
        client.publish().channel("c").message("lost").sync()
    client.publish().channel("c").message("kept").sync()

    assert failed.value.get_status_code() == 500
    assert [m.message for m in pubnub_server.published("c")] == ["kept"]
    assert pubnub_server.request_count("publish") == 2


def test_failures_can_target_a_path_and_count(pubnub_client, pubnub_server):
    client = pubnub_client("admin")
    pubnub_server.faults.fail_next(2, 503, path_prefix="/v1/channel-registration")
    add = client.add_channel_to_channel_group().channels(["a"]).channel_group("g")

    statuses = []
    for _ in range(2):
        with pytest.raises(PubNubException) as failed:
            add.sync()
        statuses.append(failed.value.get_status_code())
    client.time().sync()
    add.sync()

    assert statuses == [503, 503]
    assert pubnub_server.channels_in_group("g") == ["a"]
    assert pubnub_server.faults.pending() == []


def test_subscriber_recovers_from_a_failed_long_poll(pubnub_client, pubnub_server):
    bot = pubnub_client("bot", **QUICK_RECONNECT)
    events = subscribed(bot, channels=["c"])
    pubnub_server.faults.fail_next(1, 502, operation="subscribe")

    pubnub_server.publish("c", "first")
    assert events.next_message().message == "first"
    events.wait_status(PNStatusCategory.PNReconnectedCategory)
    pubnub_server.publish("c", "second")

    assert events.next_message().message == "second"
    assert pubnub_server.faults.pending() == []


def test_dropped_request_is_never_handled(pubnub_client, pubnub_server):
    client = pubnub_client("alice")
    pubnub_server.faults.drop_next(operation="publish")

    with pytest.raises(PubNubException):
        client.publish().channel("c").message("lost").sync()

    assert pubnub_server.published("c") == []


def test_answer_dropped_after_handling_leaves_the_publish_done(pubnub_client, pubnub_server):
    bot = pubnub_client("bot")
    events = subscribed(bot, channels=["c"])
    client = pubnub_client("alice")
    pubnub_server.faults.drop_next(operation="publish", after_handling=True)

    with pytest.raises(PubNubException):
        client.publish().channel("c").message("delivered, unconfirmed").sync()

    assert events.next_message().message == "delivered, unconfirmed"
    assert [m.message for m in pubnub_server.history("c")] == ["delivered, unconfirmed"]


def test_latency_applies_to_the_chosen_operation(pubnub_client, pubnub_server):
    client = pubnub_client("alice", non_subscribe_request_timeout=1)
    pubnub_server.faults.set_latency(5.0, operation="time")

    with pytest.raises(PubNubException):
        client.time().sync()
    client.publish().channel("c").message("not delayed").sync()
    pubnub_server.faults.set_latency(0, operation="time")
    client.time().sync()

    assert [m.message for m in pubnub_server.published("c")] == ["not delayed"]


def test_a_held_subscriber_falls_behind_and_keeps_only_the_last_100(pubnub_client, pubnub_server):
    remote = RemoteEmulator(pubnub_server.origin)
    bot = pubnub_client("bot")
    events = subscribed(bot, channels=["c"])
    publisher = pubnub_client("customer")
    # The waiting long-poll answers 0; the next one stalls on the network.
    pubnub_server.wait_for_subscriber("bot", channel="c")
    remote.hold(operation="subscribe")
    publisher.publish().channel("c").message(0).sync()
    assert events.next_message().message == 0
    for i in range(1, 150):
        publisher.publish().channel("c").message(i).sync()
    assert remote.status()["faults"]["held"] == ["subscribe"]
    remote.release(operation="subscribe")

    # As on PubNub: the newest 100 of the channel, in answers of at most 100; 1-49 are gone.
    assert [events.next_message().message for _ in range(100)] == list(range(50, 150))
    publisher.publish().channel("c").message("live").sync()
    assert events.next_message().message == "live"


def test_server_down_refuses_connections_and_comes_back_with_its_state(
    pubnub_client, pubnub_server
):
    bot = pubnub_client("bot", **QUICK_RECONNECT)
    bot.add_channel_to_channel_group().channels(["c"]).channel_group("g").sync()
    events = subscribed(bot, groups=["g"])
    customer = pubnub_client("customer")
    customer.publish().channel("c").message("before").sync()
    assert events.next_message().message == "before"

    pubnub_server.go_down()
    events.wait_status(PNStatusCategory.PNUnexpectedDisconnectCategory)
    with pytest.raises(PubNubException):
        customer.publish().channel("c").message("while down").sync()
    pubnub_server.come_back()
    events.wait_status(PNStatusCategory.PNReconnectedCategory)
    customer.publish().channel("c").message("after").sync()

    assert events.next_message().message == "after"
    assert [m.message for m in pubnub_server.history("c")] == ["before", "after"]
    assert pubnub_server.channels_in_group("g") == ["c"]


def test_down_for_a_while_comes_back_by_itself(pubnub_client, pubnub_server):
    bot = pubnub_client("bot", **QUICK_RECONNECT)
    events = subscribed(bot, channels=["c"])

    pubnub_server.go_down(refuse_connections=False, seconds=0.3)
    events.wait_status(PNStatusCategory.PNUnexpectedDisconnectCategory)
    events.wait_status(PNStatusCategory.PNReconnectedCategory)
    pubnub_server.publish("c", "back")

    assert not pubnub_server.is_down
    assert events.next_message().message == "back"


def test_http_control_routes_drive_another_process_server(pubnub_client, pubnub_server):
    remote = RemoteEmulator(pubnub_server.origin)
    bot = pubnub_client("bot")
    bot.add_channel_to_channel_group().channels(["c"]).channel_group("g").sync()
    events = subscribed(bot, groups=["g"])

    remote.fail_next(1, 429, operation="publish")
    with pytest.raises(PubNubException) as failed:
        bot.publish().channel("c").message("refused").sync()
    timetoken = remote.publish("c", {"from": "control"}, publisher="tester", meta={"k": 1})
    received = events.next_message()

    assert failed.value.get_status_code() == 429
    assert (received.message, received.publisher, received.timetoken) == (
        {"from": "control"},
        "tester",
        timetoken,
    )
    [recorded] = remote.published("c")
    assert (recorded["message"], recorded["meta"]) == ({"from": "control"}, {"k": 1})
    assert remote.history("c") == [recorded]
    assert remote.channels_in_group("g") == ["c"] and remote.groups() == ["g"]
    [poll] = wait_for(remote.subscribers)
    assert (poll["user_id"], poll["groups"]) == ("bot", ["g"])
    assert remote.here_now("c") == ["bot"]
    assert remote.status()["down"] is False


def test_http_control_routes_take_the_server_down_and_back(pubnub_client, pubnub_server):
    remote = RemoteEmulator(pubnub_server.origin)
    client = pubnub_client("alice")

    remote.set_latency(0.01, operation="publish")
    remote.drop_next(operation="time")
    remote.go_down()
    with pytest.raises(PubNubException):
        client.publish().channel("c").message("x").sync()
    remote.come_back()
    with pytest.raises(PubNubException):
        client.time().sync()
    client.publish().channel("c").message("y").sync()
    remote.clear_faults()

    assert remote.status()["faults"] == {"rules": [], "latencies": [], "held": []}
    assert [m["message"] for m in remote.published("c")] == ["y"]
    with pytest.raises(RemoteEmulatorError, match="needs seconds"):
        remote.go_down(refuse_connections=True)
    with pytest.raises(RemoteEmulatorError, match="unknown operation"):
        remote.fail_next(operation="teleport")
    with pytest.raises(RemoteEmulatorError, match="unknown operation 'subscibe'"):
        remote.release(operation="subscibe")
