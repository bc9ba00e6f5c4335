"""The relay with agents on real IRC servers, the lenient ``miniircd`` and the strict ``ngircd``
(which cuts lines at 512 bytes and penalises a client that runs ahead), and customers on the
official PubNub SDK: what IRC cannot carry, bursts of new customers, one customer's flood, a
network outage and a restart with a backlog.

Agents are raw IRC clients: what they read is what reached the agent room.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import irc.client
import pytest
from errbot.bootstrap import setup_bot

from errbot_pubnub.emulator import PubNubEmulator
from errbot_support.parts import GROUP_SEPARATOR
from tests.botrunner import wait_for
from tests.bridge_fixtures import irc_network
from tests.irc_fixtures import IRCClient, IRCServer
from tests.support_fixtures import (
    Customer,
    SupportBot,
    bridged_config,
    customers,  # noqa: F401
    support_active,
)

CHANNEL = "#support"
NICK = "helpdesk"
ACK = "Thanks for your message! Someone from our team will answer you here shortly."


@contextmanager
def irc_support_bot(
    tmp_path: Path,
    pubnub: PubNubEmulator,
    server: IRCServer,
    rate: float = 0,
    nick: str = NICK,
    **overrides: Any,
) -> Iterator[SupportBot]:
    """A bridged bot: customers on PubNub, agents in #support on ``server``, posting a line
    every ``rate`` seconds (``IRC_CHANNEL_RATE``; replies to people are not paced)."""
    agents = irc_network(
        server,
        nick=nick,
        CHATROOM_PRESENCE=(CHANNEL,),
        IRC_CHANNEL_RATE=rate,
        BRIDGE_RECONNECT_DELAY=0.1,
        BRIDGE_RECONNECT_MAX_DELAY=0.5,
    )
    config = bridged_config(
        tmp_path,
        pubnub,
        agents,
        SUPPORT_AGENT_ROOM=f"agents:{CHANNEL}",
        BOT_ADMINS=("agents:boss!*@*",),
        **overrides,
    )
    bridge = setup_bot("Bridge", logging.getLogger("errbot"), config)
    harness = SupportBot(bridge, agents=bridge.hosted_backends()["agents"])
    harness.running.start(ready=lambda: support_active(harness.running))
    try:
        yield harness
    finally:
        harness.running.stop()


@pytest.fixture
def alice(any_irc_server: IRCServer) -> Iterator[IRCClient]:
    client = IRCClient(any_irc_server, "alice")
    client.join(CHANNEL)
    yield client
    client.close()


def shows(alice: IRCClient, text: str, target: str = CHANNEL) -> None:
    """Wait until ``alice`` read ``text`` in ``target``: ngircd holds back a client that writes
    many lines at once (one a second), so give it time."""
    wait_for(lambda: any(text in line for line in alice.plain_lines(target)), timeout=90)


def from_bot(alice: IRCClient, nick: str = NICK) -> list[str]:
    return [
        re.sub(r"[\x02\x03\x0f\x1d\x1f]", "", line.params[-1])
        for line in alice.messages(CHANNEL)
        if line.nick == nick
    ]


def test_what_irc_cannot_carry_reaches_the_agents_whole_and_holds_nobody_up(
    tmp_path: Path,
    pubnub_server: PubNubEmulator,
    any_irc_server: IRCServer,
    alice: IRCClient,
    customers: Callable[[str], Customer],  # noqa: F811
) -> None:
    paragraph = " ".join(f"w{n:03d}" for n in range(107))  # 535 characters on one line
    with irc_support_bot(tmp_path, pubnub_server, any_irc_server) as bot:
        alice.wait_for_join(NICK, CHANNEL)
        dana, eve, fay = customers("dana"), customers("eve"), customers("fay")
        dana.write("hello")
        dana.write(paragraph)
        eve.write("ends with a nul\u0000")
        fay.write("half an emoji \ud83d there")
        eve.write("eve-after")
        for customer in (dana, eve, fay):
            customer.wait_for(ACK)
        shows(alice, "eve-after")
        shows(alice, "w106")
        shows(alice, "half an emoji \ufffd there")
        wait_for(lambda: bot.desk.count_unrelayed() == 0)
        alice.say(CHANNEL, "!queue")
        shows(alice, "3 open conversation(s), 3 waiting")

    lines = from_bot(alice)
    assert all(len(line.encode()) <= 400 for line in lines)
    pieces = [line for line in lines if re.search(r"w\d{3}", line)]
    assert len(pieces) > 1
    # Each customer's number: they write in their own channels, so any may be numbered first.
    [dana_number], [eve_number] = (
        [line.split()[0] for line in lines if re.match(rf"#\d+ New conversation with {name}", line)]
        for name in ("dana", "eve")
    )
    words = " ".join(re.sub(rf"^{dana_number} (\u2506 |dana: )", "", piece) for piece in pieces)
    assert words == paragraph  # whole, in order, nothing cut off
    assert all(piece.startswith(f"{dana_number} \u2506 ") for piece in pieces[1:])
    # Alone, or grouped with eve-after when both waited for eve's turn.
    eve_first = f"{eve_number} eve: ends with a nul\u2400"
    assert any(
        line == eve_first or line.startswith(f"{eve_first}{GROUP_SEPARATOR}") for line in lines
    ), lines
    assert sum("New conversation" in line for line in lines) == 3  # each announced once


def test_a_burst_of_new_customers_is_taken_in_while_the_agent_room_cannot_take_a_line(
    tmp_path: Path,
    pubnub_server: PubNubEmulator,
    any_irc_server: IRCServer,
    alice: IRCClient,
    customers: Callable[[str], Customer],  # noqa: F811
) -> None:
    with irc_support_bot(tmp_path, pubnub_server, any_irc_server, rate=0.05) as bot:
        alice.wait_for_join(NICK, CHANNEL)
        bot.hold(CHANNEL)  # the agents' network takes no line at all for now
        people = [customers(f"c{n:02d}") for n in range(10)]
        for person in people:
            person.write(f"{person.user_id}-first")
        for person in people:
            person.wait_for(ACK)  # acknowledged, the agent room having shown nothing
        alice.say(NICK, "!queue")
        shows(alice, "10 open conversation(s), 10 waiting", target="alice")
        assert not from_bot(alice)
        bot.release(CHANNEL)
        for person in people:
            shows(alice, f"{person.user_id}-first")
    assert sum("New conversation" in line for line in from_bot(alice)) == 10


def test_one_customers_flood_is_grouped_told_once_and_leaves_others_their_turn(
    tmp_path: Path,
    pubnub_server: PubNubEmulator,
    any_irc_server: IRCServer,
    alice: IRCClient,
    customers: Callable[[str], Customer],  # noqa: F811
) -> None:
    settings = {"SUPPORT_FLOOD_MESSAGES_PER_MINUTE": 20}
    with irc_support_bot(tmp_path, pubnub_server, any_irc_server, rate=0.05, **settings) as bot:
        alice.wait_for_join(NICK, CHANNEL)
        dana, erin = customers("dana"), customers("erin")
        dana.write("hello")
        shows(alice, "Type !claim 1")
        bot.hold(CHANNEL)
        flood = [f"dana-{n:03d}" for n in range(120)]
        for text in flood:
            dana.write(text)
        wait_for(lambda: bot.desk.store.count_entries(1) >= 121)
        erin.write("erin-here")
        erin.wait_for(ACK)
        bot.release(CHANNEL)
        shows(alice, "dana-119")
        shows(alice, "erin-here")

    lines = from_bot(alice)
    told = [line for line in lines if "more than 20 messages a minute" in line]
    assert len(told) == 1 and told[0].startswith("#1 dana is writing")
    shown = [token for line in lines for token in re.findall(r"dana-\d{3}", line)]
    assert shown == flood  # every message, once, in order
    posts = [line for line in lines if "dana-" in line]
    assert len(posts) <= 12  # grouped: about 20 messages a line
    erin_at = next(i for i, line in enumerate(lines) if "erin-here" in line)
    assert erin_at < lines.index(posts[-1])  # erin did not wait for the whole flood


def test_a_restart_with_a_backlog_joins_once_and_relays_each_message_once(  # noqa: PLR0917
    tmp_path: Path,
    pubnub_server: PubNubEmulator,
    any_irc_server: IRCServer,
    alice: IRCClient,
    customers: Callable[[str], Customer],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alice.send(f"MODE {CHANNEL} +k agents-only")  # the bot cannot come in: messages wait
    alice.wait_for(lambda line: line.command == "MODE")
    dana = customers("dana")
    with irc_support_bot(tmp_path, pubnub_server, any_irc_server) as bot:
        backlog = [f"dana-{n:03d}" for n in range(15)]
        for text in backlog:
            dana.write(text)
        wait_for(lambda: bot.desk.count_unrelayed() == 15)
    alice.send(f"MODE {CHANNEL} -k")
    sent: list[str] = []
    send_raw = irc.client.ServerConnection.send_raw

    def counted(connection: Any, string: str) -> None:
        sent.append(string)
        send_raw(connection, string)

    monkeypatch.setattr(irc.client.ServerConnection, "send_raw", counted)  # observed, not changed
    # Another nick: ngircd may still hold the first one for a moment.
    with irc_support_bot(tmp_path, pubnub_server, any_irc_server, nick="helpdesk2") as bot:
        shows(alice, "dana-014")
        wait_for(lambda: bot.desk.count_unrelayed() == 0)
    assert [line for line in sent if line.startswith("JOIN")] == [f"JOIN {CHANNEL}"]
    shown = [
        token for line in from_bot(alice, "helpdesk2") for token in re.findall(r"dana-\d{3}", line)
    ]
    assert shown == backlog


def test_a_network_outage_in_the_middle_of_a_long_message_repeats_no_piece(
    tmp_path: Path,
    pubnub_server: PubNubEmulator,
    any_irc_server: IRCServer,
    customers: Callable[[str], Customer],  # noqa: F811
) -> None:
    paragraph = " ".join(f"x{n:03d}" for n in range(300))
    dana = customers("dana")
    with irc_support_bot(tmp_path, pubnub_server, any_irc_server) as bot:
        dana.write("hello")
        wait_for(lambda: len(bot.to(CHANNEL)) >= 3)
        any_irc_server.stop()  # the agents' network goes away
        dana.write(paragraph)
        dana.write("dana-after")
        wait_for(lambda: bot.desk.store.count_entries(1) >= 3)
        any_irc_server.start()  # same port: the bot reconnects and rejoins
        wait_for(lambda: bot.desk.count_unrelayed() == 0, timeout=60)
        said = [s.body for s in bot.to(CHANNEL)]
    pieces = [body for body in said if re.search(r"x\d{3}", body)]
    assert len(pieces) == len(set(pieces))  # no piece twice
    words = [w for piece in pieces for w in re.findall(r"x\d{3}", piece)]
    assert words == [f"x{n:03d}" for n in range(300)]
    assert said[-1].endswith("dana-after")


def test_a_flood_while_the_network_goes_down_and_comes_back_arrives_once_in_order(
    tmp_path: Path,
    pubnub_server: PubNubEmulator,
    any_irc_server: IRCServer,
    customers: Callable[[str], Customer],  # noqa: F811
) -> None:
    dana = customers("dana")
    with irc_support_bot(tmp_path, pubnub_server, any_irc_server, rate=0.05) as bot:
        dana.write("hello")
        wait_for(lambda: any("claim 1" in body for body in bot.bodies(CHANNEL)))
        flood = [f"dana-{n:03d}" for n in range(80)]
        bot.hold(CHANNEL)  # the relay's next post waits...
        for text in flood[:40]:
            dana.write(text)
        wait_for(lambda: bot.held_sends(CHANNEL) == 1)
        any_irc_server.stop()  # ...and finds the network gone when it goes on
        bot.release(CHANNEL)
        for text in flood[40:]:
            dana.write(text)
        wait_for(lambda: bot.desk.store.count_entries(1) >= 81)
        any_irc_server.start()  # same port: the bot reconnects and rejoins
        wait_for(lambda: bot.desk.count_unrelayed() == 0, timeout=60)
        said = bot.bodies(CHANNEL)
    shown = [token for body in said for token in re.findall(r"dana-\d{3}", body)]
    assert shown == flood  # what reached the network: each once, in order
