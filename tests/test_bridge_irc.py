"""A real bridged bot on Errbot's ``Test`` backend and a real IRC server, with IRC users.

The admin talks through the ``tests`` network (Errbot's ``Test`` backend); agents are plain IRC
clients on a ``miniircd`` server started by the test; the bridged bot runs the BridgeRelay
plugin, which repeats plain messages between the admin and the ``#relay`` channel.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import errbot.utils
import pytest
from errbot.backends.base import Card

from errbot_bridge import NetworkUnavailableError, network_of
from tests.botrunner import RunningBot, running_bot, wait_for
from tests.bridge_fixtures import TestConsole, bridge_config, irc_network
from tests.irc_fixtures import IRCClient, IRCServer

RELAY_PAIRS = (("tests:admin", "agents:#relay"), ("agents:#relay", "tests:admin"))
ADMINS = ("tests:admin", "agents:boss!*@*")


def bridged(tmp_path: Path, server: IRCServer, **overrides: Any) -> Any:
    agents = irc_network(server, **overrides.pop("agents", {}))
    overrides.setdefault("RELAY_PAIRS", RELAY_PAIRS)
    overrides.setdefault("BOT_ADMINS", ADMINS)
    return bridge_config(tmp_path, {"tests": {"BACKEND": "Test"}, "agents": agents}, **overrides)


def relay(running: RunningBot) -> Any:
    return running.plugin("BridgeRelay")


def console_of(running: RunningBot) -> TestConsole:
    return TestConsole(running.bot.networks["tests"].backend)


def in_relay(running: RunningBot) -> bool:
    return (
        running.bot.networks["agents"].connected and running.bot.query_room("agents:#relay").joined
    )


@pytest.fixture(scope="module")
def server() -> Iterator[IRCServer]:
    server = IRCServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory, server: IRCServer) -> Iterator[RunningBot]:
    with running_bot("Bridge", bridged(tmp_path_factory.mktemp("bridge-irc"), server)) as running:
        wait_for(lambda: in_relay(running))
        yield running


@pytest.fixture
def people(server: IRCServer) -> Iterator[Any]:
    clients: list[IRCClient] = []

    def connect(nick: str, channel: str | None = "#relay") -> IRCClient:
        client = IRCClient(server, nick)
        clients.append(client)
        if channel:
            client.join(channel)
        return client

    yield connect
    for client in clients:
        client.close()


def test_commands_run_from_each_network(bot: RunningBot, people: Any) -> None:
    alice = people("alice")
    console = console_of(bot)
    console.say("!whereami")
    assert console.expect("network=") == "network=tests from=tests:admin roundtrip=True"
    alice.say("#relay", "!whereami")
    assert (
        "network=agents from=agents:#relay roundtrip=True"
        in (alice.wait_for_text("#relay", "network=").params[-1])
    )
    alice.say("errbot", "!whereami")
    line = alice.wait_for_text("alice", "network=")
    assert "network=agents from=agents:alice!alice@127.0.0.1 roundtrip=True" in line.params[-1]


def test_messages_are_relayed_both_ways(bot: RunningBot, people: Any) -> None:
    bob = people("bob")
    console = console_of(bot)
    console.say("hello agents")
    assert bob.wait_for_text("#relay", "tests:admin on tests: hello agents")
    bob.say("#relay", "hello admin")
    assert console.expect("hello admin") == "bob on agents: hello admin"
    network, sender, body = relay(bot).seen[-1]
    assert (network, sender, body) == ("agents", "agents:bob!bob@127.0.0.1", "hello admin")


def test_replies_mention_people_the_way_their_network_does(bot: RunningBot, people: Any) -> None:
    heidi = people("heidi")
    heidi.say("#relay", "ping me")
    wait_for(lambda: any(m.body == "ping me" for m in relay(bot).messages))
    asked = next(m for m in relay(bot).messages if m.body == "ping me")
    bot.bot.send(asked.frm.room, "pong", in_reply_to=asked, groupchat_nick_reply=True)
    assert heidi.wait_for_text("#relay", "heidi: pong")


def test_room_events_reach_plugins_with_their_network(bot: RunningBot) -> None:
    assert ("agents:#relay", "agents:errbot!errbot@127.0.0.1") in relay(bot).joined


def test_an_unknown_command_is_answered_on_its_own_network(bot: RunningBot, people: Any) -> None:
    carol = people("carol")
    carol.say("#relay", "!nosuchcommand")
    assert carol.wait_for_text("#relay", 'Command "nosuchcommand" not found')


def test_admin_patterns_match_only_their_own_network(bot: RunningBot, people: Any) -> None:
    namesake = people("admin", channel=None)  # same name as the Test network's admin
    boss = people("boss", channel=None)
    namesake.say("errbot", "!bridge status")
    assert namesake.wait_for_text("admin", "This command requires bot-admin privileges")
    boss.say("errbot", "!bridge status")
    assert boss.wait_for_text("boss", "Networks of this bot:")
    console = console_of(bot)
    console.say("!bridge status")
    status = console.expect("Networks of this bot:")
    assert "tests (Test): connected since" in status
    assert "agents (IRC): connected since" in status


def test_admin_warnings_reach_admins_on_every_network(bot: RunningBot, people: Any) -> None:
    boss = people("boss", channel=None)
    bot.bot.warn_admins("disk almost full")
    assert console_of(bot).expect("disk almost full")
    assert boss.wait_for_text("boss", "disk almost full")


def test_cards_reach_the_network_of_their_recipient(bot: RunningBot) -> None:
    admin = bot.bot.build_identifier("tests:admin")
    bot.bot.send_card(Card(body="two items", title="Order 42", to=admin))
    assert "two items" in console_of(bot).expect("Order 42")


def test_backend_specific_attributes_stay_reachable(bot: RunningBot) -> None:
    alice = bot.bot.build_identifier("agents:alice!ali@example.org")
    assert (alice.nick, alice.host, alice.user) == ("alice", "example.org", "ali")
    assert alice.aclattr == "agents:alice!ali@example.org"
    assert network_of(alice) == "agents"


def test_a_network_outage_fails_loudly_and_keeps_plugins_active(
    tmp_path: Path, irc_server: IRCServer
) -> None:
    with running_bot("Bridge", bridged(tmp_path, irc_server)) as running:
        bot, console = running.bot, console_of(running)
        wait_for(lambda: in_relay(running))
        irc_server.stop()
        wait_for(lambda: not bot.networks["agents"].connected)
        assert console.expect('The "agents" network (IRC) is disconnected')
        # Messages for the network that is down fail where they are sent, never silently.
        with pytest.raises(NetworkUnavailableError, match=r'"agents" network \(IRC\) is not'):
            bot.send(bot.build_identifier("agents:#relay"), "anyone?")
        console.say("lost in transit?")
        wait_for(lambda: relay(running).relay_errors)
        assert "NetworkUnavailableError" in relay(running).relay_errors[0]
        # The Test network is unaffected, and commands keep working there.
        console.say("!whereami")
        assert console.expect("network=tests")

        irc_server.start()  # same port: the IRC network reconnects on its own
        wait_for(lambda: in_relay(running))
        assert console.expect('The "agents" network (IRC) is connected again')
        dave = IRCClient(irc_server, "dave")
        try:
            dave.join("#relay")
            console.say("back again")
            assert dave.wait_for_text("#relay", "back again")
        finally:
            dave.close()
        assert (relay(running).activations, relay(running).deactivations) == (1, 0)
        status = bot.networks["agents"].status()
        assert status.connected and status.reconnections == 1


def test_a_line_the_irc_connection_cannot_write_fails_instead_of_vanishing(
    tmp_path: Path, irc_server: IRCServer
) -> None:
    """Errbot's IRC backend drops a line it cannot write (a broken or closing connection)
    without a word; a plugin relaying a customer's message must learn it was not sent."""
    with running_bot("Bridge", bridged(tmp_path, irc_server)) as running:
        bot = running.bot
        wait_for(lambda: in_relay(running))
        irc = bot.networks["agents"].backend.conn
        with irc.reactor.mutex:  # the bot's IRC thread does not notice anything meanwhile
            irc.connection.socket.shutdown(socket.SHUT_WR)  # the connection breaks
            with pytest.raises(NetworkUnavailableError, match=r'"agents" network \(IRC\)'):
                bot.send(bot.build_identifier("agents:#relay"), "lost?")
        wait_for(lambda: in_relay(running))  # it reconnects as after any outage
        dave = IRCClient(irc_server, "dave")
        try:
            dave.join("#relay")
            bot.send(bot.build_identifier("agents:#relay"), "back")
            assert dave.wait_for_text("#relay", "back")
        finally:
            dave.close()


def test_lines_keep_errbots_pause_between_them(
    tmp_path: Path, irc_server: IRCServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """IRC servers disconnect a client that floods them, so Errbot pauses between two lines
    (``IRC_CHANNEL_RATE`` in channels, ``IRC_PRIVATE_RATE`` to people); here the pauses are
    recorded instead of waited."""
    pauses: list[float] = []
    monkeypatch.setattr(errbot.utils, "time", SimpleNamespace(time=time.time, sleep=pauses.append))
    rates = {"IRC_CHANNEL_RATE": 30, "IRC_PRIVATE_RATE": 20}
    with running_bot("Bridge", bridged(tmp_path, irc_server, agents=rates)) as running:
        bot = running.bot
        wait_for(lambda: in_relay(running))
        dave = IRCClient(irc_server, "dave")
        try:
            dave.join("#relay")
            bot.send(bot.build_identifier("agents:#relay"), "one\ntwo")
            assert dave.wait_for_text("#relay", "two")
            bot.send(bot.build_identifier("agents:dave"), "three\nfour")
            assert dave.wait_for_text("dave", "four")
        finally:
            dave.close()
    assert {round(pause) for pause in pauses} == {30, 20}


def test_a_crashed_serve_loop_is_restarted(tmp_path: Path, irc_server: IRCServer) -> None:
    """In IRC, an exception in any event handler ends the reactor, hence the serve loop."""
    with running_bot("Bridge", bridged(tmp_path, irc_server)) as running:
        bot, console = running.bot, console_of(running)
        wait_for(lambda: in_relay(running))
        erin = IRCClient(irc_server, "erin")
        try:
            erin.join("#relay")
            crashes: list[str] = []

            def crash_once(connection: Any, event: Any) -> None:
                if not crashes:  # a bug in some handler, hit by one message
                    crashes.append(event.arguments[0])
                    raise KeyError("#nowhere")

            reactor = bot.networks["agents"].backend.conn.reactor
            reactor.add_global_handler("pubmsg", crash_once, -100)
            erin.say("#relay", "first")
            wait_for(lambda: bot.networks["agents"].status().reconnections == 1)
            wait_for(lambda: in_relay(running))
            erin.say("#relay", "second")
            assert console.expect("erin on agents: second")
            assert crashes == ["first"]
            assert "KeyError" in (bot.networks["agents"].status().last_error or "")
            assert relay(running).deactivations == 0
        finally:
            erin.close()


def test_a_network_that_restarts_its_serve_loop_keeps_plugins(
    tmp_path: Path, irc_server: IRCServer
) -> None:
    with running_bot("Bridge", bridged(tmp_path, irc_server)) as running:
        bot, console = running.bot, console_of(running)
        tests = bot.networks["tests"]
        console.say("$STOP$")  # the Test backend's own way to end its serve loop
        wait_for(lambda: tests.status().reconnections == 1)
        console.say("!whereami")
        assert console.expect("network=tests")
        assert (relay(running).activations, relay(running).deactivations) == (1, 0)


def test_a_network_without_commands_only_feeds_plugins(
    tmp_path: Path, irc_server: IRCServer, irc_client: Any
) -> None:
    config = bridged(
        tmp_path,
        irc_server,
        agents={"BRIDGE_COMMANDS": False},
        BOT_ASYNC=False,  # commands finish before plugins hear the message
    )
    frank = irc_client("frank")
    frank.join("#relay")
    with running_bot("Bridge", config) as running:
        console = console_of(running)
        frank.wait_for_join("errbot", "#relay")
        for text in ("!whereami", "!nosuchcommand", "!help", "errbot: !whereami"):
            frank.say("#relay", text)
        wait_for(lambda: len(relay(running).seen) >= 4)
        console.say("marker")  # relayed to #relay after anything the bot said before
        frank.wait_for_text("#relay", "marker")
        from_bot = [line.params[-1] for line in frank.messages("#relay") if line.nick == "errbot"]
        assert len(from_bot) == 1 and "marker" in from_bot[0]
        assert relay(running).commands_run == 0
        heard = [body for network, _, body in relay(running).seen if network == "agents"]
        assert heard == ["!whereami", "!nosuchcommand", "!help", "errbot: !whereami"]
        console.say("!whereami")  # the Test network still runs commands
        assert console.expect("network=tests")
        assert relay(running).commands_run == 1


def test_messages_wait_until_every_network_is_connected(
    tmp_path: Path, irc_server: IRCServer
) -> None:
    irc_server.stop()  # the IRC network cannot connect yet
    config = bridged(tmp_path, irc_server)
    ready = lambda running: running.bot.networks["tests"].connected  # noqa: E731
    with running_bot("Bridge", config, ready=ready) as running:
        console = console_of(running)
        console.say("!whereami")  # held: plugins are not active while IRC is down
        assert not running.plugins_active()
        irc_server.start()
        assert console.expect("network=tests")
        assert running.bot.networks["agents"].connected
        assert relay(running).activations == 1


def test_plugins_start_without_a_network_that_cannot_connect(
    tmp_path: Path, irc_server: IRCServer
) -> None:
    irc_server.stop()
    config = bridged(tmp_path, irc_server, BRIDGE_START_TIMEOUT=0.5)
    with running_bot("Bridge", config) as running:
        console = console_of(running)
        assert console.expect('Plugins started although "agents" (IRC) could not connect')
        console.say("!whereami")
        assert console.expect("network=tests")
        console.say("!bridge status")
        assert "agents (IRC): NOT connected since" in console.expect("Networks of this bot:")


def test_shutdown_stops_every_network(tmp_path: Path, irc_server: IRCServer) -> None:
    grace = IRCClient(irc_server, "grace")
    try:
        grace.join("#relay")
        with running_bot("Bridge", bridged(tmp_path, irc_server)) as running:
            grace.wait_for_join("errbot", "#relay")
            networks = list(running.bot.networks.values())
        # running_bot has stopped the bot (and checked it stopped): nothing is left behind.
        assert grace.wait_for(lambda line: line.command == "QUIT" and line.nick == "errbot")
        assert all(network.join(0) for network in networks)
        assert not any(network.connected for network in networks)
        assert relay(running).deactivations == 1
    finally:
        grace.close()
