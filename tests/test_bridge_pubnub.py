"""Bridged bots with customers on PubNub: with the ``Test`` backend, and with a real IRC server.

Customers are the official PubNub SDK talking to the project's local PubNub server; agents
are Errbot's ``Test`` backend or plain IRC clients on ``miniircd``. The BridgeRelay plugin
repeats plain messages between a customer's channel and the agents.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from errbot.bootstrap import setup_bot

from errbot_bridge import BridgeConfigurationError, NetworkUnavailableError, network_of
from errbot_pubnub import PublishError
from errbot_pubnub.emulator import PubNubEmulator
from errbot_pubnub.sdk import new_client
from tests.botrunner import RunningBot, refusal_to_start, running_bot, wait_for
from tests.bridge_fixtures import TestConsole, bridge_config, irc_network
from tests.irc_fixtures import IRCClient, IRCServer
from tests.pubnub_fixtures import (
    PUBLISH_KEY,
    SECRET_KEY,
    SUBSCRIBE_KEY,
    PubNubEvents,
    pubnub_config,
    stop_clients,
    subscribed,
)

DESK_GROUP = "support"
SUPPORT = "support"


def customers_network(server: PubNubEmulator, group: str, **extra: Any) -> dict[str, Any]:
    """A ``BRIDGE_BACKENDS`` entry for the PubNub backend on the local server.

    Each bot gets its own channel group: bots of this module share one server.
    """
    return {
        "BACKEND": "PubNub",
        "BOT_IDENTITY": {
            "publish_key": PUBLISH_KEY,
            "subscribe_key": SUBSCRIBE_KEY,
            "user_id": SUPPORT,
        },
        "PUBNUB_CHANNEL_GROUP": group,
        "PUBNUB_ORIGIN": server.origin,
        "PUBNUB_SSL": False,
        **extra,
    }


class Customer:
    """A customer app on the official SDK: its own channel, registered in the support group."""

    def __init__(self, server: PubNubEmulator, user_id: str, group: str) -> None:
        self.channel = f"{user_id}-support"
        self.client = new_client(pubnub_config(server, user_id))
        self.client.add_channel_to_channel_group().channels([self.channel]).channel_group(
            group
        ).sync()
        self.events: PubNubEvents = subscribed(self.client, channels=[self.channel])

    def text(self, text: str) -> None:
        now = datetime.now(timezone.utc).isoformat()
        message = {"kind": "from_customer", "time": now, "text": text}
        self.client.publish().channel(self.channel).message(message).sync()

    def next_reply(self, timeout: float = 20) -> Any:
        """The next message from the support user (the customer's own echoes are skipped)."""
        while True:
            message = self.events.next_message(timeout=timeout)
            if message.publisher == SUPPORT:
                return message

    def stop(self) -> None:
        stop_clients([self.client])


@pytest.fixture(scope="module")
def pubnub() -> Iterator[PubNubEmulator]:
    with PubNubEmulator(publish_key=PUBLISH_KEY, subscribe_key=SUBSCRIBE_KEY) as emulator:
        yield emulator


@pytest.fixture
def customer(pubnub: PubNubEmulator) -> Iterator[Any]:
    made: list[Customer] = []

    def make(user_id: str, group: str = DESK_GROUP) -> Customer:
        made.append(Customer(pubnub, user_id, group))
        return made[-1]

    yield make
    for one in made:
        one.stop()


def relay(running: RunningBot) -> Any:
    return running.plugin("BridgeRelay")


def console_of(running: RunningBot) -> TestConsole:
    return TestConsole(running.bot.networks["tests"].backend)


# --- PubNub + Test ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory, pubnub: PubNubEmulator) -> Iterator[RunningBot]:
    config = bridge_config(
        tmp_path_factory.mktemp("bridge-pubnub-test"),
        {"customers": customers_network(pubnub, DESK_GROUP), "tests": {"BACKEND": "Test"}},
        RELAY_PAIRS=(
            ("customers:alice-support", "tests:admin"),
            ("tests:admin", "customers:alice-support"),
        ),
    )
    with running_bot("Bridge", config) as running:
        yield running


def test_customer_and_admin_talk_through_the_bridge(desk: RunningBot, customer: Any) -> None:
    alice = customer("alice")
    console = console_of(desk)
    alice.text("my order is late")
    assert console.expect("my order is late") == "alice on customers: my order is late"
    message = relay(desk).messages[-1]
    assert str(message.frm) == "customers:alice-support/alice"
    assert str(message.to) == "customers:alice-support"
    assert network_of(message) == "customers"
    # The backend's extras reach plugins untouched.
    assert message.extras["kind"] == "from_customer"
    assert message.extras["pubnub"]["channel"] == "alice-support"
    assert desk.bot.build_identifier(str(message.frm)) == message.frm

    console.say("sorry, checking now")
    reply = alice.next_reply()
    assert reply.channel == "alice-support"
    assert reply.message["text"] == "tests:admin on tests: sorry, checking now"
    assert reply.message["kind"] == "from_agent"


def test_pubnub_admin_commands_find_the_hosted_backend(desk: RunningBot) -> None:
    console = console_of(desk)
    console.say("!pubnub status")
    status = console.expect("PubNub: ")
    assert status.startswith("PubNub: connected since ")
    assert "Support user: support" in status
    console.say("!pubnub undelivered")
    assert console.expect("undelivered") == "No undelivered PubNub message."


def test_commands_run_from_both_networks(desk: RunningBot, customer: Any) -> None:
    bob = customer("bob")
    bob.text("!whereami")
    reply = bob.next_reply().message["text"]
    assert reply == "network=customers from=customers:bob-support roundtrip=True"
    console = console_of(desk)
    console.say("!whereami")
    assert console.expect("network=") == "network=tests from=tests:admin roundtrip=True"


def test_extras_and_failures_cross_the_bridge(
    desk: RunningBot, customer: Any, pubnub: PubNubEmulator
) -> None:
    carol = customer("carol")
    bot = desk.bot
    notice = bot.build_message("Your question is resolved.")
    notice.to = bot.build_identifier("customers:carol-support")
    notice.extras["author"] = "Alice"
    notice.extras["kind"] = "resolved"
    bot.send_message(notice)
    reply = carol.next_reply()
    assert reply.message["kind"] == "resolved"
    assert reply.user_metadata == {"author": "Alice"}
    # A publish PubNub refuses for good (403 is never retried) raises to the caller,
    # through the bridge.
    pubnub.faults.fail_next(1, 403, operation="publish")
    with pytest.raises(PublishError, match="HTTP 403"):
        bot.send(bot.build_identifier("customers:carol-support"), "lost?")
    pubnub.faults.clear()


def test_customers_cannot_run_commands(
    tmp_path: Path, pubnub: PubNubEmulator, customer: Any
) -> None:
    config = bridge_config(
        tmp_path,
        {
            "customers": customers_network(pubnub, "quiet", BRIDGE_COMMANDS=False),
            "tests": {"BACKEND": "Test"},
        },
        BOT_ASYNC=False,  # a command would have finished before plugins hear the message
    )
    with running_bot("Bridge", config) as running:
        dave = customer("dave", "quiet")
        for text in ("!whereami", "!help", "!bridge status", "!nosuchcommand"):
            dave.text(text)
        wait_for(lambda: len(relay(running).seen) >= 4)
        assert [body for _, _, body in relay(running).seen] == [
            "!whereami",
            "!help",
            "!bridge status",
            "!nosuchcommand",
        ]
        bot = running.bot
        bot.send(bot.build_identifier("customers:dave-support"), "marker")
        assert dave.next_reply().message["text"] == "marker"  # nothing came before it
        assert relay(running).commands_run == 0
        with pytest.raises(queue.Empty):
            dave.next_reply(timeout=0.2)


# --- PubNub + IRC -------------------------------------------------------------------------------


def test_customers_on_pubnub_and_agents_on_irc(
    tmp_path: Path, pubnub: PubNubEmulator, customer: Any, irc_server: IRCServer
) -> None:
    config = bridge_config(
        tmp_path,
        {
            "customers": customers_network(pubnub, "irc-desk", BRIDGE_COMMANDS=False),
            "agents": irc_network(irc_server, CHATROOM_PRESENCE=("#support",)),
        },
        BOT_ADMINS=("agents:boss!*@*",),
        RELAY_PAIRS=(
            ("customers:erin-support", "agents:#support"),
            ("agents:#support", "customers:erin-support"),
        ),
    )
    agent = IRCClient(irc_server, "agent")
    try:
        agent.join("#support")
        with running_bot("Bridge", config) as running:
            bot = running.bot
            agent.wait_for_join("errbot", "#support")
            erin = customer("erin", "irc-desk")
            erin.text("hello, anyone?")
            assert agent.wait_for_text("#support", "erin on customers: hello, anyone?")
            agent.say("#support", "hi Erin, how can I help?")
            reply = erin.next_reply()
            assert reply.message["text"] == "agent on agents: hi Erin, how can I help?"
            agent.say("#support", "!whereami")
            assert agent.wait_for_text("#support", "network=agents from=agents:#support")

            # The agents' network goes down: customer messages are still heard by plugins,
            # relaying them fails loudly, and plugins stay active while IRC reconnects.
            irc_server.stop()
            wait_for(lambda: not bot.networks["agents"].connected)
            erin.text("are you still there?")
            wait_for(lambda: relay(running).relay_errors)
            assert "NetworkUnavailableError" in relay(running).relay_errors[-1]
            with pytest.raises(NetworkUnavailableError):
                bot.send(bot.build_identifier("agents:#support"), "nobody hears this")
            irc_server.start()
            wait_for(lambda: bot.query_room("agents:#support").joined)
            back = IRCClient(irc_server, "agent2")
            try:
                back.join("#support")
                erin.text("hello again")
                assert back.wait_for_text("#support", "erin on customers: hello again")
            finally:
                back.close()
            assert (relay(running).activations, relay(running).deactivations) == (1, 0)
            networks = list(bot.networks.values())
        # Shutdown stopped both networks.
        assert all(network.join(0) and not network.connected for network in networks)
    finally:
        agent.close()


def test_a_network_refused_at_start_stops_the_bot_with_its_sentence(
    tmp_path: Path, pubnub_server_factory: Any
) -> None:
    server = pubnub_server_factory(secret_key=SECRET_KEY)
    token = server.issue_token(
        {"ttl": 60, "permissions": {"resources": {"groups": {"other": 1}}, "uuid": SUPPORT}}
    )
    customers = customers_network(server, DESK_GROUP)
    customers["BOT_IDENTITY"] = {**customers["BOT_IDENTITY"], "token": token}
    config = bridge_config(tmp_path, {"customers": customers, "tests": {"BACKEND": "Test"}})
    bot = setup_bot("Bridge", logging.getLogger("errbot"), config)
    error = refusal_to_start(bot)
    assert isinstance(error, BridgeConfigurationError)
    assert str(error).startswith(
        "BRIDGE_BACKENDS[\"customers\"]: PubNub refused to subscribe 'support' to channel group(s)"
    )
    assert bot.plugin_manager.get_plugin_obj_by_name("BridgeRelay").activations == 0
    assert all(network.join(0) for network in bot.networks.values())
