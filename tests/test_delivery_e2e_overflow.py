"""Bursts that outrun what one request returns: nothing lost, nothing doubled.

PubNub keeps the last 100 messages of a channel for a subscriber that is behind and answers at
most 100 per long-poll; older ones are only in history. The local server does the same (a plain
SDK subscriber, the witness, shows what the live path alone delivers). The bot recognises a full
answer and catches its channels up from history, so every message reaches Errbot once, in order.
Likewise, a catch-up reading quiet channels together (newest 25 each) reads a channel alone
when it got busier since it was counted.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from pathlib import Path

import pytest

from errbot_pubnub.emulator import PubNubEmulator
from errbot_pubnub.sdk import new_client
from tests.botrunner import running_bot, wait_for
from tests.delivery_fixtures import Customers, Recording, bot_config
from tests.pubnub_fixtures import PubNubEvents, pubnub_config, stop_clients, subscribed


@pytest.fixture
def customers(pubnub_server: PubNubEmulator) -> Iterator[Customers]:
    made = Customers(pubnub_server)
    yield made
    made.stop()


class Witness:
    """A plain SDK subscriber to the support group: what the live path alone delivers."""

    def __init__(self, server: PubNubEmulator) -> None:
        self.client = new_client(pubnub_config(server, "witness"))
        self.events: PubNubEvents = subscribed(self.client, groups=["support"])
        self.seen: list[tuple[str, str]] = []

    def texts(self, channel: str) -> list[str]:
        while True:
            try:
                message = self.events.messages.get_nowait()
            except queue.Empty:
                return [text for where, text in self.seen if where == channel]
            self.seen.append((message.channel, message.message["text"]))


def test_a_burst_past_the_live_buffer_reaches_errbot_once_each_in_order(
    tmp_path: Path, pubnub_server: PubNubEmulator, customers: Customers
) -> None:
    server = pubnub_server
    record = Recording(tmp_path / "record.jsonl")
    customers.join("ann")
    customers.join("bob")
    witness = Witness(server)
    ann = [f"ann-{n}" for n in range(250)]
    bob = [f"bob-{n}" for n in range(10)]
    try:
        with running_bot("PubNub", bot_config(tmp_path, server, record.path)) as running:
            customers.say("ann", "before")
            record.wait_for_texts(["before"])
            wait_for(lambda: witness.texts("ann-support") == ["before"])
            server.wait_for_subscriber("support", group="support")
            server.wait_for_subscriber("witness", group="support")
            # Both waiting long-polls answer "wake"; the next ones stall while customers write.
            server.faults.hold(operation="subscribe")
            customers.say("bob", "wake")
            record.wait_for_texts(["wake"])
            wait_for(lambda: witness.texts("bob-support") == ["wake"])
            for text in bob:
                customers.say("bob", text)
            for text in ann:
                customers.say("ann", text)
            server.faults.release(operation="subscribe")
            wait_for(lambda: ann[-1] in witness.texts("ann-support"))
            customers.say("ann", "after")
            record.wait_for_texts([*ann, *bob, "after"])
            wait_for(lambda: "after" in witness.texts("ann-support"))
            assert running.bot.subscription.full_answer_catch_ups >= 1
    finally:
        stop_clients([witness.client])

    assert record.texts("ann-support") == ["before", *ann, "after"]
    assert record.texts("bob-support") == ["wake", *bob]
    assert max(record.counts().values()) == 1
    # The live path alone lost the 150 oldest of the burst: only history had them.
    assert witness.texts("ann-support") == ["before", *ann[150:], "after"]
    assert witness.texts("bob-support") == ["wake", *bob]


def test_a_quiet_channel_getting_busy_while_history_is_read_loses_nothing(
    tmp_path: Path, pubnub_server: PubNubEmulator, customers: Customers
) -> None:
    server = pubnub_server
    record = Recording(tmp_path / "record.jsonl")
    config = bot_config(tmp_path, server, record.path)
    customers.join("cai")
    with running_bot("PubNub", config):
        customers.say("cai", "first")
        record.wait_for_texts(["first"])
    down = [f"down-{n}" for n in range(5)]
    for text in down:
        customers.say("cai", text)

    # Counted with 5 new messages, the channel is read with others (newest 25 each); 30 more
    # arrive between the count and the read.
    server.faults.hold(operation="fetch_messages")
    reads = server.request_count("fetch_messages")
    live = [f"live-{n}" for n in range(30)]
    with running_bot("PubNub", config, ready=lambda _: True):
        wait_for(lambda: server.request_count("fetch_messages") > reads)
        for text in live:
            customers.say("cai", text)
        server.faults.release(operation="fetch_messages")
        record.wait_for_texts([*down, *live])

    assert record.texts("cai-support") == ["first", *down, *live]
    assert max(record.counts().values()) == 1
