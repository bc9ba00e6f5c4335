"""The whole product under faults: what reached the agents and the customers, and how often.

One bridged bot (started in the test process like ``errbot`` starts it): customers on the
PubNub backend, official SDK clients on the local PubNub server; agents on a real IRC server
(``miniircd``) through Errbot's IRC backend; the Support plugin on an SQLite file. Faults come
from the PubNub server's fault controls and from stopping the IRC server. Each test asserts the
exact list of customer messages the agent room got (each token once, in order per customer) and
the exact list of what each customer got.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from errbot_pubnub.emulator import PubNubEmulator
from tests.botrunner import running_bot, wait_for
from tests.delivery_e2e_fixtures import (
    ACK,
    ADMIN_NICK,
    AGENT_ROOM,
    BOT_NICK,
    GROUP_SUBSCRIBE,
    customers_on,
    e2e_config,
    logged,
    plain,
    seen_by,
    tokens,
)
from tests.irc_fixtures import IRCClient, IRCServer
from tests.support_fixtures import Customer, customers, support_active  # noqa: F401


class Sent:
    """The tokens each customer wrote, in order: what the agent room must show exactly."""

    def __init__(self) -> None:
        self.by: dict[str, list[str]] = {}

    def write(self, customer: Customer, label: str, count: int = 1) -> list[str]:
        written = self.by.setdefault(customer.user_id, [])
        new = [f"{customer.user_id}-{label}-{len(written) + n:03d}" for n in range(count)]
        for token in new:
            customer.write(token)
            written.append(token)
        return new

    def all_in(self, lines: Callable[[], list[str]]) -> Callable[[], bool]:
        """A condition: every customer's tokens are in ``lines()`` (each at least once)."""

        def arrived() -> bool:
            seen = set(tokens(lines(), ""))
            return all(t in seen for written in self.by.values() for t in written)

        return arrived

    def assert_exactly_once_in_order(self, lines: list[str]) -> None:
        for user, written in self.by.items():
            assert tokens(lines, f"{user}-") == written, user


def in_agent_room(irc_client: Callable[[str], IRCClient], nick: str = "alice") -> IRCClient:
    agent = irc_client(nick)
    agent.join(AGENT_ROOM)
    return agent


def test_messages_written_while_the_bot_is_stopped_reach_the_agents_once_in_order(
    tmp_path: Path,
    pubnub_server: PubNubEmulator,
    irc_server: IRCServer,
    irc_client: Callable[[str], IRCClient],
    customers: Callable[[str], Customer],  # noqa: F811
) -> None:
    alice = in_agent_room(irc_client)
    config = e2e_config(tmp_path, pubnub_server, irc_server)
    sent = Sent()
    dana, eve, fay = customers("dana"), customers("eve"), customers("fay")
    with running_bot("Bridge", config, ready=support_active):
        alice.wait_for_join(BOT_NICK, AGENT_ROOM)
        for customer in (dana, eve, fay):
            sent.write(customer, "up")
        wait_for(sent.all_in(lambda: seen_by(alice)))

    # Stopped: one channel gets more than PubNub returns at once, others a few, a new
    # customer starts a conversation.
    gus = customers("gus")
    sent.write(dana, "down", 130)
    sent.write(eve, "down", 5)
    sent.write(fay, "down", 2)
    sent.write(gus, "down", 2)
    pubnub_server.faults.set_latency(0.2, operation="fetch_messages")  # a slow catch-up
    with running_bot("Bridge", config, ready=support_active):
        sent.write(eve, "live", 3)  # written while the restarted bot catches up
        pubnub_server.faults.set_latency(0)
        wait_for(sent.all_in(lambda: seen_by(alice)))
        gus.wait_for(ACK)

    sent.assert_exactly_once_in_order(seen_by(alice))
    for customer in (dana, eve, fay, gus):
        assert customer.texts() == [ACK], customer.user_id


def test_a_message_being_handled_at_a_graceful_stop_reaches_the_agents_once(
    tmp_path: Path,
    pubnub_server: PubNubEmulator,
    irc_server: IRCServer,
    irc_client: Callable[[str], IRCClient],
    customers: Callable[[str], Customer],  # noqa: F811
) -> None:
    alice = in_agent_room(irc_client)
    sent = Sent()
    dana = customers("dana")
    config = e2e_config(tmp_path, pubnub_server, irc_server)
    with running_bot("Bridge", config, ready=support_active) as running:
        alice.wait_for_join(BOT_NICK, AGENT_ROOM)
        sent.write(dana, "hello")
        wait_for(sent.all_in(lambda: seen_by(alice)))
        # The next message is still on its way to the plugins when the bot is asked to stop.
        pubnub = running.bot.networks["customers"].backend
        deliver, handling, go_on = pubnub.inbound._deliver, threading.Event(), threading.Event()

        def slowly(message: Any) -> None:
            handling.set()
            go_on.wait(10)
            deliver(message)

        pubnub.inbound._deliver = slowly
        sent.write(dana, "stopping")
        wait_for(handling.is_set)
        stopping = threading.Thread(target=running.stop)
        stopping.start()
        wait_for(lambda: running.bot.networks["customers"].stopping)
        assert not running.bot.networks["agents"].stopping  # they can still hear of it
        go_on.set()
        stopping.join(30)
    # It reached the agents before the bot left their network, not after the next start.
    said = [
        (line.command, plain(line.params[-1])) for line in alice.lines() if line.nick == BOT_NICK
    ]
    relayed, left = ("PRIVMSG", "#1 dana: dana-stopping-001"), ("QUIT", "Shutting down")
    assert said.index(relayed) < said.index(left)

    with running_bot("Bridge", config, ready=support_active):
        sent.write(dana, "after")
        wait_for(sent.all_in(lambda: seen_by(alice)))
    sent.assert_exactly_once_in_order(seen_by(alice))


def test_dropped_connections_and_failing_publishes_while_customers_write_and_agents_reply(
    tmp_path: Path,
    pubnub_server: PubNubEmulator,
    irc_server: IRCServer,
    irc_client: Callable[[str], IRCClient],
    customers: Callable[[str], Customer],  # noqa: F811
) -> None:
    server = pubnub_server
    alice = in_agent_room(irc_client)
    sent = Sent()
    dana, eve = customers("dana"), customers("eve")
    replies: dict[str, list[str]] = {"dana": [ACK], "eve": [ACK]}

    def reply(number: int, customer: Customer, text: str, *, arrives: bool = True) -> None:
        alice.say(AGENT_ROOM, f"!reply {number} {text}")
        if arrives:
            customer.wait_for(text)
            replies[customer.user_id].append(text)

    with running_bot("Bridge", e2e_config(tmp_path, server, irc_server), ready=support_active):
        alice.wait_for_join(BOT_NICK, AGENT_ROOM)
        sent.write(dana, "hello")
        dana.wait_for(ACK)
        sent.write(eve, "hello")
        eve.wait_for(ACK)

        # The bot's long-poll loses its connection twice, then gets 503s, while both write
        # and the agent answers.
        server.faults.drop_next(2, operation="subscribe", path_prefix=GROUP_SUBSCRIBE)
        for round_ in range(3):
            sent.write(dana, "cut", 4)
            sent.write(eve, "cut", 4)
            reply(1, dana, f"answer-{round_}")
        server.faults.fail_next(3, 503, operation="subscribe", path_prefix=GROUP_SUBSCRIBE)
        sent.write(dana, "503", 5)
        reply(2, eve, "answer-eve")
        sent.write(eve, "503", 5)
        wait_for(sent.all_in(lambda: seen_by(alice)))

        # A reply published whose answer is lost: retried, found in history, not sent twice.
        server.faults.drop_next(1, operation="publish", after_handling=True)
        reply(1, dana, "answer-lost-on-the-way")
        # A reply refused twice (503), then accepted on the third attempt.
        server.faults.fail_next(2, 503, operation="publish")
        reply(2, eve, "answer-retried")
        # A reply refused for good: the agent room is told, on its conversation.
        server.faults.fail_next(3, 503, operation="publish")
        reply(1, dana, "answer-never", arrives=False)
        report = plain(alice.wait_for_text(AGENT_ROOM, "NOT DELIVERED").params[-1])
        sent.write(dana, "after")  # and the conversation goes on
        reply(1, dana, "answer-last")
        wait_for(sent.all_in(lambda: seen_by(alice)))
        assert server.faults.pending() == []  # every fault hit the bot

    lines = seen_by(alice)
    sent.assert_exactly_once_in_order(lines)
    assert report.startswith("#1 NOT DELIVERED: the reply by alice did not reach dana (")
    assert "(HTTP 503) after 3 attempts" in report
    assert [line for line in lines if "NOT DELIVERED" in line] == [report]
    assert lines[lines.index(report) + 1] == "#1 ┆ answer-never"
    for customer in (dana, eve):
        assert customer.texts() == replies[customer.user_id]


def test_messages_written_while_the_agents_network_restarts_are_kept_and_relayed_once(
    tmp_path: Path,
    pubnub_server: PubNubEmulator,
    customers: Callable[[str], Customer],  # noqa: F811
) -> None:
    irc_server = IRCServer(channel_log_dir=tmp_path / "irc-log").start()
    alice: IRCClient | None = None
    try:
        sent = Sent()
        dana = customers("dana")
        with running_bot(
            "Bridge", e2e_config(tmp_path, pubnub_server, irc_server), ready=support_active
        ) as running:
            wait_for(lambda: running.bot.query_room(f"agents:{AGENT_ROOM}").joined)
            sent.write(dana, "before")
            wait_for(sent.all_in(lambda: logged(irc_server)))

            irc_server.stop()  # the agents' network goes away...
            wait_for(lambda: not running.bot.networks["agents"].connected)
            eve = customers("eve")
            sent.write(dana, "outage", 10)
            sent.write(eve, "outage", 3)  # a new conversation meanwhile
            eve.wait_for(ACK)
            support = running.plugin("Support")
            wait_for(lambda: len(support.runtime.desk.unrelayed()) == 13)  # kept, not relayed

            irc_server.start()  # ... and comes back on the same port
            wait_for(sent.all_in(lambda: logged(irc_server)))
            alice = IRCClient(irc_server, "alice")
            alice.join(AGENT_ROOM)
            alice.say(AGENT_ROOM, "!reply 2 eve-reply-after")
            eve.wait_for("eve-reply-after")
    finally:
        if alice is not None:
            alice.close()
        irc_server.stop()

    sent.assert_exactly_once_in_order(logged(irc_server))
    assert dana.texts() == [ACK]
    assert eve.texts() == [ACK, "eve-reply-after"]


def test_malformed_payloads_replayed_after_a_converter_fix_reach_the_agents(
    tmp_path: Path,
    pubnub_server: PubNubEmulator,
    irc_server: IRCServer,
    irc_client: Callable[[str], IRCClient],
    customers: Callable[[str], Customer],  # noqa: F811
) -> None:
    alice = in_agent_room(irc_client)
    boss = irc_client(ADMIN_NICK)
    sent = Sent()
    jay, ivy = customers("jay"), customers("ivy")

    def bot(converter: str) -> Any:
        network = customers_on(pubnub_server, PUBNUB_MESSAGE_CONVERTER=converter)
        config = e2e_config(tmp_path, pubnub_server, irc_server, customers=network)
        return running_bot("Bridge", config, ready=support_active)

    def admin(command: str, answer: str) -> str:
        boss.say(BOT_NICK, command)
        return boss.wait_for_text(ADMIN_NICK, answer).params[-1]

    # The app starts sending {"text": ...}, which the deployed converter does not read.
    malformed = ["ivy-bare-000", "ivy-bare-001"]
    with bot("tests.delivery_e2e_fixtures.StrictConverter") as running:
        alice.wait_for_join(BOT_NICK, AGENT_ROOM)
        sent.write(jay, "readable")
        for text in malformed:
            ivy.client.publish().channel(ivy.channel).message({"text": text}).sync()
        sent.write(jay, "readable")
        wait_for(lambda: len(running.bot.networks["customers"].backend.dead_letters) == 2)
        wait_for(sent.all_in(lambda: seen_by(alice)))
        warning = boss.wait_for_text(ADMIN_NICK, "could not be delivered").params[-1]
        assert "in PubNub channel ivy-support" in warning

    with bot("errbot_pubnub.DefaultMessageConverter"):  # the fix
        alice.wait_for_join(BOT_NICK, AGENT_ROOM)
        assert admin("!pubnub undelivered", "kept for replay").startswith("2 kept for replay")
        answer = admin("!pubnub replay all", "Replayed")
        assert answer == "Replayed 2 undelivered message(s): 2 handled."
        sent.by["ivy"] = malformed
        wait_for(sent.all_in(lambda: seen_by(alice)))
        ivy.wait_for(ACK)
        assert admin("!pubnub replay all", "No undelivered")

    lines = seen_by(alice)
    sent.assert_exactly_once_in_order(lines)
    opened = lines.index("#2 New conversation with ivy (customers:ivy-support):")
    assert lines[opened + 1 : opened + 3] == ["#2 ivy: ivy-bare-000", "Type !claim 2 to take it."]
    assert "#2 ivy: ivy-bare-001" in lines[opened + 3 :]
    assert jay.texts() == [ACK]
    assert ivy.texts() == [ACK]
