"""Three Support bots on one PostgreSQL database acting as one bot, killed for real.

Three real ``errbot`` processes (``tests/support_instances_fixtures.py``): agents on a real IRC
server, each bot its own nick; customers on the local PubNub server (official SDK); the Support
store and the PubNub delivery state on one real PostgreSQL server; the customers' channel groups
shared among the bots. One bot at a time is active: only it is in the agent room, relays and
answers commands; all of them take customers in. In the middle of a stream of customer messages
the active bot is killed with ``kill -9``, then a bot that only takes customers in; then both
come back, and the active one stops gracefully. Alice, an agent on IRC, reads the agent room the
whole time: each customer message reaches it once (twice only a message the killed active bot
had posted but not yet marked relayed, once from it and once from its successor), each command
gets one answer, the admin is told once of each lost bot and who took over, and the takeovers
come within the 10 s the issue asks (their times are printed).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from errbot_pubnub.emulator import PubNubEmulator
from tests.delivery_e2e_fixtures import AGENT_ROOM
from tests.delivery_fixtures import Customers
from tests.irc_fixtures import IRCClient, IRCServer, plain
from tests.support_instances_fixtures import (
    ADMIN,
    Agent,
    SupportBots,
    nick_of,
)
from tests.test_pubnub_shared_groups import each_group_subscribed_once

pytest.importorskip("psycopg", reason="the postgresql extra (psycopg) is not installed")

GROUPS = ("g1", "g2", "g3")
CHANNELS = [f"{name}-{group}" for group in GROUPS for name in ("ann", "bob")]
#: The takeover bound the issue asks for: another bot acts within it.
BOUND = 10.0
STATUS = "Instances on this database"


class Stream:
    """Customers writing ``count`` messages over every channel in turn, on a thread; each
    message's last word is its token."""

    def __init__(self, customers: Customers, label: str, count: int) -> None:
        self.tokens = [f"{label}-{n:03d}" for n in range(count)]
        self._customers = customers
        self._published = threading.Semaphore(0)
        self._waited = 0
        self._thread = threading.Thread(target=self._write, name=label, daemon=True)
        self._thread.start()

    def _write(self) -> None:
        for n, token in enumerate(self.tokens):
            channel = CHANNELS[n % len(CHANNELS)]
            self._customers.say(channel.split("-")[0], f"question {token}", channel=channel)
            self._published.release()
            time.sleep(0.03)

    def wait_published(self, count: int) -> None:
        while self._waited < count:
            assert self._published.acquire(timeout=30), "the customers stopped writing"
            self._waited += 1


@pytest.fixture
def customers(pubnub_server: PubNubEmulator) -> Iterator[Customers]:
    made = Customers(pubnub_server)
    for channel in CHANNELS:
        name, group = channel.split("-")
        made.join(name, group=group, channel=channel)
    yield made
    made.stop()


@pytest.fixture
def bots(
    tmp_path: Path, pubnub_server: PubNubEmulator, irc_server: IRCServer, postgres_database: str
) -> Iterator[SupportBots]:
    started = SupportBots(tmp_path, pubnub_server, irc_server, postgres_database, GROUPS)
    yield started
    started.stop()


def seen_once(alice: Agent, tokens: list[str]) -> Callable[[], bool]:
    return lambda: set(tokens) <= {token for _, token in alice.tokens("")}


class Scenario:
    """The bots, Alice in the agent room, the admin, and what was measured and sent."""

    def __init__(self, bots: SupportBots, customers: Customers, alice: Agent, boss: IRCClient):
        self.bots = bots
        self.customers = customers
        self.alice = alice
        self.boss = boss
        self.times: dict[str, float] = {}
        self.status_asked = 0
        self.streams: dict[str, Stream] = {}
        self.hello = [f"hello-{channel}" for channel in CHANNELS]
        self.first = self.second = self.intake = 0

    def ask_status(self) -> str:
        """``!support status`` in the agent room: the nick of the one bot that answered."""
        alice = self.alice
        before = len(alice.answers(STATUS))
        alice.client.say(AGENT_ROOM, "!support status")
        self.status_asked += 1
        self.bots.wait_for(lambda: len(alice.answers(STATUS)) > before, timeout=30)
        [nick] = alice.answers(STATUS)[before:]
        return nick

    def taken_over(self, gone: int) -> int:
        """Wait until another bot than ``gone`` is alone in the agent room: its number."""
        bots, alice = self.bots, self.alice
        bots.wait_for(lambda: len(alice.in_room() - {nick_of(gone)}) == 1, timeout=BOUND)
        now = bots.active()
        assert now is not None and alice.in_room() == {nick_of(now)}
        return now

    def start_all(self) -> None:
        """All three start; one is active and alone in the agent room; all take customers in."""
        bots = self.bots
        for number in (1, 2, 3):
            bots.start(number)
        bots.wait_for(lambda: bots.settled({1, 2, 3}) and bots.active() is not None)
        # Written before any bot listened, a first message would only be in PubNub's history.
        bots.wait_for(lambda: each_group_subscribed_once(bots.pubnub, GROUPS))
        self.first = bots.active()
        bots.wait_for(lambda: self.alice.in_room() == {nick_of(self.first)})
        for channel, token in zip(CHANNELS, self.hello, strict=True):
            self.customers.say(channel.split("-")[0], f"hi {token}", channel=channel)
        bots.wait_for(seen_once(self.alice, self.hello))

    def commands(self) -> None:
        """In the room the active bot answers; a standby written to directly says where to
        write instead."""
        assert self.ask_status() == nick_of(self.first)
        standby = min({1, 2, 3} - {self.first})
        self.alice.client.say(nick_of(standby), "!queue")
        self.bots.wait_for(lambda: self.alice.answers("standing by", "alice"), timeout=30)
        # Replies reach the customers once, whichever bot takes their channel in; no bot
        # mistakes another's reply for a message posing as support.
        for number in range(1, len(CHANNELS) + 1):
            self.alice.client.say(AGENT_ROOM, f"!reply {number} answer-{number}")
        yours = lambda: self.alice.answers("is now yours")  # noqa: E731
        self.bots.wait_for(lambda: len(yours()) >= len(CHANNELS))

    def kill_the_active_one_mid_stream(self) -> None:
        bots = self.bots
        stream = self.streams["one"] = Stream(self.customers, "one", 60)
        stream.wait_published(20)
        killed_at = bots.kill(self.first)
        self.second = self.taken_over(self.first)
        self.times["active killed: another in the agent room"] = time.monotonic() - killed_at
        survivors = {1, 2, 3} - {self.first}
        bots.wait_for(lambda: bots.settled(survivors), timeout=BOUND)
        self.times["active killed: its channel groups taken"] = time.monotonic() - killed_at
        stream.wait_published(60)
        bots.wait_for(seen_once(self.alice, stream.tokens))
        assert self.ask_status() == nick_of(self.second)
        self.intake = (survivors - {self.second}).pop()

    def kill_an_intake_one_mid_stream(self) -> None:
        bots = self.bots
        assert bots.holding_groups(self.intake)
        stream = self.streams["two"] = Stream(self.customers, "two", 40)
        stream.wait_published(15)
        killed_at = bots.kill(self.intake)
        bots.wait_for(lambda: bots.settled({self.second}), timeout=BOUND)
        self.times["intake bot killed: its channel groups taken"] = time.monotonic() - killed_at
        stream.wait_published(40)
        bots.wait_for(seen_once(self.alice, stream.tokens))

    def restart_then_stop_the_active_one(self) -> None:
        """Both come back; the customers write on; the active bot stops gracefully."""
        bots = self.bots
        bots.start(self.first)
        bots.start(self.intake)
        bots.wait_for(lambda: bots.settled({1, 2, 3}))
        stream = self.streams["three"] = Stream(self.customers, "three", 30)
        stream.wait_published(10)
        stopped_at = bots.terminate(self.second)
        third = self.taken_over(self.second)
        self.times["graceful stop: another in the agent room"] = time.monotonic() - stopped_at
        # The stopping bot released the role first, before its networks and plugins stopped.
        said = bots.log_of(self.second)
        released = said.index("released the active role")
        assert said.index("Stopping the PubNub backend") < released, said[-3000:]
        assert released < said.index("Disconnect callback, deactivating all the plugins")
        # Its channel groups were handed over too (no loss is told of it: see admin_told_once).
        bots.wait_for(lambda: bots.settled({1, 2, 3} - {self.second}), timeout=BOUND)
        stream.wait_published(30)
        bots.wait_for(seen_once(self.alice, stream.tokens))
        assert self.ask_status() == nick_of(third)
        status = [plain(line.params[-1]) for line in self.alice.client.messages(AGENT_ROOM)]
        assert any(f"{STATUS} (this one: " in line and ", active)" in line for line in status)

    def relayed_twice(self) -> list[str]:
        """Check that each customer message reached the agents once, and twice only one the
        killed active bot had posted (not yet marked relayed), then its successor; those."""
        by_token: dict[str, list[str]] = {}
        for nick, token in self.alice.tokens(""):
            by_token.setdefault(token, []).append(nick)
        for token in [*self.hello, *self.streams["two"].tokens, *self.streams["three"].tokens]:
            assert len(by_token[token]) == 1, (token, by_token[token])
        doubled = []
        for token in self.streams["one"].tokens:
            nicks = by_token[token]
            assert len(nicks) in (1, 2), (token, nicks)
            if len(nicks) == 2:
                assert nicks == [nick_of(self.first), nick_of(self.second)], (token, nicks)
                doubled.append(token)
        return doubled

    def admin_told_once(self) -> None:
        """The admin heard once of each bot lost, and who took over."""
        lost = [
            plain(line.params[-1])
            for line in self.boss.messages(ADMIN)
            if "was lost" in plain(line.params[-1])
        ]
        assert Counter(lost) == Counter(dict.fromkeys(lost, 1)), lost
        took_over = "took over as the active instance"
        assert [line for line in lost if "the active one, was lost" in line and took_over in line]
        assert sum("its channel groups went to the others" in line for line in lost) == 2, lost


def test_three_bots_act_as_one_through_kills_restarts_and_a_graceful_stop(
    bots: SupportBots,
    customers: Customers,
    irc_client: Callable[[str], IRCClient],
) -> None:
    alice = Agent(irc_client("alice"))
    alice.client.join(AGENT_ROOM)
    scenario = Scenario(bots, customers, alice, irc_client(ADMIN))
    scenario.start_all()
    scenario.commands()
    scenario.kill_the_active_one_mid_stream()
    scenario.kill_an_intake_one_mid_stream()
    scenario.restart_then_stop_the_active_one()

    doubled = scenario.relayed_twice()
    # Each command one answer; the standby's refusal once.
    assert len(alice.answers(STATUS)) == scenario.status_asked
    assert len(alice.answers("standing by", "alice")) == 1
    scenario.admin_told_once()
    assert len(alice.answers("is now yours")) == len(CHANNELS)
    # No bot mistook another's reply for a message posing as support: not in the room, nor
    # to the admins.
    assert alice.answers("posing as support") == []
    assert not [line for line in scenario.boss.lines() if "posing" in line.params[-1]]
    times = {name: round(seconds, 2) for name, seconds in scenario.times.items()}
    print(f"\ntakeover times (s): {times}")
    print(f"relayed twice (in flight when killed): {len(doubled)} of 60")
