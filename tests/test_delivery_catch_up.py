"""Catch-up: what customers write while the bot is stopped reaches it once each, in order.

Real bots (``running_bot``) on the local PubNub server, restarted on the same data directory;
customers publish with the official SDK; the recorder plugin's file says exactly which messages
reached Errbot and how often.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from errbot_pubnub.emulator import PubNubEmulator
from tests.botrunner import running_bot, wait_for
from tests.delivery_fixtures import Customers, Recording, admin_warnings, bot_config


@pytest.fixture
def customers(pubnub_server: PubNubEmulator) -> Iterator[Customers]:
    made = Customers(pubnub_server)
    yield made
    made.stop()


def test_messages_written_while_the_bot_is_down_arrive_once_each_in_order(
    tmp_path: Path, pubnub_server: PubNubEmulator, customers: Customers
) -> None:
    server = pubnub_server
    record = Recording(tmp_path / "record.jsonl")
    config = bot_config(tmp_path, server, record.path, PUBNUB_CHANNEL_GROUP=["support", "vip"])
    for user, group in (("ann", "support"), ("bob", "support"), ("cid", "vip"), ("dan", "vip")):
        customers.join(user, group)
    customers.say("ann", "written before the very first start")

    with running_bot("PubNub", config):
        customers.say("ann", "a1")
        customers.say("cid", "c1")
        record.wait_for_texts(["a1", "c1"])

    # Down: a busy channel (more than one history page), quiet ones, an idle one, and a
    # channel that joins a group while the bot is away.
    busy = [f"a-down-{n}" for n in range(150)]
    for text in busy:
        customers.say("ann", text)
    customers.say("bob", "b-down")
    customers.say("cid", "c-down-1")
    customers.say("cid", "c-down-2")
    customers.join("eve", "vip")
    customers.say("eve", "e-down")
    # Many quiet channels: more than one message-counts call and one history call hold.
    crowd = [f"crowd-{n}" for n in range(120)]
    customers.client("crowd").add_channel_to_channel_group().channels(crowd).channel_group(
        "support"
    ).sync()
    for channel in crowd:
        customers.say("crowd", f"{channel} says hi", channel=channel)

    # Back: while history is read (slowly), customers keep writing; those live messages must
    # come after the caught-up ones of their channel.
    server.faults.set_latency(0.2, operation="fetch_messages")
    with running_bot("PubNub", config):
        customers.say("ann", "a-live-1")
        customers.say("eve", "e-live-1")
        server.faults.set_latency(0)
        customers.say("ann", "a-live-2")
        record.wait_for_texts([*busy, "b-down", "c-down-2", "e-down", "a-live-2", "e-live-1"])
        record.wait_for_texts([f"{channel} says hi" for channel in crowd])

    # A graceful restart with nothing new delivers nothing again.
    with running_bot("PubNub", config):
        customers.say("dan", "d-after-restart")
        record.wait_for_texts(["d-after-restart"])

    assert record.texts("ann-support") == ["a1", *busy, "a-live-1", "a-live-2"]
    assert record.texts("bob-support") == ["b-down"]
    assert record.texts("cid-support") == ["c1", "c-down-1", "c-down-2"]
    assert record.texts("eve-support") == ["e-down", "e-live-1"]
    assert record.texts("dan-support") == ["d-after-restart"]
    for channel in crowd:
        assert record.texts(channel) == [f"{channel} says hi"]
    assert max(record.counts().values()) == 1
    assert server.request_count("fetch_messages") >= 2  # the busy channel took two pages


def test_a_first_start_can_be_told_to_take_recent_history(
    tmp_path: Path, pubnub_server: PubNubEmulator, customers: Customers
) -> None:
    record = Recording(tmp_path / "record.jsonl")
    customers.join("fay")
    customers.say("fay", "an hour ago, say")
    config = bot_config(tmp_path, pubnub_server, record.path, PUBNUB_FIRST_START_CATCH_UP=3600)
    with running_bot("PubNub", config):
        customers.say("fay", "now")
        record.wait_for_texts(["now"])
    assert record.texts() == ["an hour ago, say", "now"]


def test_a_keyset_without_history_is_reported_and_live_delivery_goes_on(
    tmp_path: Path, pubnub_server_factory: Any
) -> None:
    server = pubnub_server_factory(message_persistence=False)
    customers = Customers(server)
    try:
        record = Recording(tmp_path / "record.jsonl")
        customers.join("gus")
        config = bot_config(tmp_path, server, record.path)
        with running_bot("PubNub", config) as running:
            wait_for(lambda: any("no Message Persistence" in w for w in admin_warnings(server)))
            customers.say("gus", "live 1")
            record.wait_for_texts(["live 1"])
            assert running.bot.subscription.history == "disabled (no Message Persistence)"
        customers.say("gus", "written while down: cannot be recovered")
        with running_bot("PubNub", config):
            customers.say("gus", "live 2")
            record.wait_for_texts(["live 2"])
        assert record.texts() == ["live 1", "live 2"]
    finally:
        customers.stop()
    (warning, *_) = [w for w in admin_warnings(server) if "Message Persistence" in w]
    assert "cannot be recovered" in warning
