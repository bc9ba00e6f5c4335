"""Network faults while the bot runs: nothing lost, nothing doubled, admins told what matters.

Real bots on the local PubNub server; the faults are the server's own (dropped connections,
5xx and 403 answers, an outage); customers publish with the official SDK.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from errbot_pubnub.emulator import PubNubEmulator
from tests.botrunner import running_bot, wait_for
from tests.delivery_fixtures import Customers, Recording, admin_warnings, bot_config
from tests.pubnub_fixtures import PUBLISH_KEY, SECRET_KEY, SUBSCRIBE_KEY


@pytest.fixture
def server(pubnub_server_factory: Any) -> PubNubEmulator:
    # A live buffer of 5 messages per channel: an outage longer than that loses messages for
    # any client relying on it, so only catch-up from history can pass these tests.
    return pubnub_server_factory(catchup_size=5, group_capacity=3)


FAST = {"PUBNUB_RECONNECT_MAX_DELAY": 1.0}  # reconnection backoff stays short in tests


@pytest.fixture
def customers(server: PubNubEmulator) -> Iterator[Customers]:
    made = Customers(server)
    yield made
    made.stop()


def test_dropped_connections_5xx_and_an_outage_lose_and_double_nothing(
    tmp_path: Path, server: PubNubEmulator, customers: Customers
) -> None:
    record = Recording(tmp_path / "record.jsonl")
    users = ["hal", "ida"]
    for user in users:
        customers.join(user)
    expected: dict[str, list[str]] = {user: [] for user in users}

    def burst(label: str, count: int) -> None:
        for n in range(count):
            for user in users:
                text = f"{user}-{label}-{n}"
                customers.say(user, text)
                expected[user].append(text)

    with running_bot("PubNub", bot_config(tmp_path, server, record.path, **FAST)) as running:
        burst("warm-up", 3)
        record.wait_for_texts(expected["hal"])
        subscribes = server.request_count("subscribe")

        # The long-poll's connection is cut twice in a row, mid-stream.
        server.faults.drop_next(2, operation="subscribe")
        burst("dropped", 8)
        # Subscribing answers 503 a few times.
        server.faults.fail_next(3, 503, operation="subscribe")
        burst("5xx", 8)
        # PubNub is unreachable while customers write more than its live buffer keeps.
        server.go_down(refuse_connections=False)
        writer = threading.Thread(target=burst, args=("outage", 10))
        server.come_back()  # customers publish after it is back, while the bot is still away
        server.faults.fail_next(2, 500, operation="time")
        writer.start()
        writer.join(30)
        burst("after", 3)
        record.wait_for_texts([t for texts in expected.values() for t in texts])
        assert server.request_count("subscribe") > subscribes + 5  # it did resubscribe
        assert running.bot.connection.state == "connected"

    for user in users:
        assert record.texts(f"{user}-support") == expected[user]
    assert max(record.counts().values()) == 1


def test_a_refused_subscription_is_reported_and_retried_until_access_is_back(
    tmp_path: Path, server: PubNubEmulator, customers: Customers
) -> None:
    record = Recording(tmp_path / "record.jsonl")
    customers.join("jon")
    config = bot_config(tmp_path, server, record.path, PUBNUB_ACCESS_RETRY_INTERVAL=0.3, **FAST)
    with running_bot("PubNub", config) as running:
        customers.say("jon", "before")
        record.wait_for_texts(["before"])
        # Access is withdrawn (an expired grant): the next subscriptions are refused.
        server.faults.fail_next(3, 403, operation="subscribe", message="Forbidden")
        customers.say("jon", "ends the long-poll")
        wait_for(lambda: running.bot.connection.state == "access denied")
        customers.say("jon", "while refused")
        record.wait_for_texts(["ends the long-poll", "while refused"])
        assert running.bot.connection.state == "connected"

    assert record.texts() == ["before", "ends the long-poll", "while refused"]
    warning = next(w for w in admin_warnings(server) if "refused to subscribe" in w)
    assert "(403 Forbidden: Forbidden)" in warning
    assert "a 'token' that grants read on these groups" in warning
    assert "the bot tries again every 0.3 s" in warning


def test_a_full_channel_group_is_reported_and_the_next_group_used(
    tmp_path: Path, server: PubNubEmulator, customers: Customers
) -> None:
    record = Recording(tmp_path / "record.jsonl")
    for user in ("kim", "lea", "max"):
        customers.join(user)  # "support" now holds 3 channels: the server's capacity
    config = bot_config(
        tmp_path,
        server,
        record.path,
        PUBNUB_CHANNEL_GROUP=["support", "overflow"],
        PUBNUB_GROUP_CAPACITY=3,
    )
    with running_bot("PubNub", config) as running:
        wait_for(lambda: any("support holds 3 channels" in w for w in admin_warnings(server)))
        running.bot.query_room("ned-support").join()  # "support" refuses: full
        assert server.channels_in_group("overflow") == ["ned-support"]
        customers.say("ned", "in the second group")
        record.wait_for_texts(["in the second group"])
        wait_for(lambda: any("refused to add a channel" in w for w in admin_warnings(server)))
        status = running.bot.plugin_manager.get_plugin_obj_by_name("PubNub")
        report = status.pubnub_status(None, "")
        assert "support (3/3, full), overflow (1/3)" in report


def test_a_refused_catch_up_is_reported_and_live_delivery_goes_on(
    tmp_path: Path, pubnub_server_factory: Any
) -> None:
    server = pubnub_server_factory(secret_key=SECRET_KEY)
    # The bot may read and list its group, and warn its admin, but not read customers' history.
    token = server.issue_token(
        {
            "ttl": 60,
            "permissions": {
                "resources": {"groups": {"support": 1 | 4}, "channels": {"ops": 2}},
                "uuid": "support",
            },
        }
    )
    customers = Customers(server, secret_key=SECRET_KEY)
    try:
        record = Recording(tmp_path / "record.jsonl")
        customers.join("rex")
        identity = {
            "publish_key": PUBLISH_KEY,
            "subscribe_key": SUBSCRIBE_KEY,
            "user_id": "support",
            "token": token,
        }
        config = bot_config(tmp_path, server, record.path, BOT_IDENTITY=identity)
        with running_bot("PubNub", config):
            wait_for(lambda: any("refused the catch-up" in w for w in admin_warnings(server)))
            customers.say("rex", "live")
            record.wait_for_texts(["live"])
    finally:
        customers.stop()
    warning = next(w for w in admin_warnings(server) if "refused the catch-up" in w)
    assert "missing access to channels: rex-support" in warning
    assert "needs READ on the customers' channels" in warning
