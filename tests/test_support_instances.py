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
    START_TIMEOUT,
    Agent,
    SupportBots,
    nick_of,
)

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


def test_three_bots_act_as_one_through_kills_restarts_and_a_graceful_stop(
    bots: SupportBots,
    customers: Customers,
    irc_client: Callable[[str], IRCClient],
) -> None:
    alice = Agent(irc_client("alice"))
    alice.client.join(AGENT_ROOM)
    boss = irc_client(ADMIN)
    times: dict[str, float] = {}
    status_asked = 0

    def ask_status() -> str:
        """``!support status`` in the agent room: one answer, from the active bot."""
        nonlocal status_asked
        before = len(alice.answers(STATUS))
        alice.client.say(AGENT_ROOM, "!support status")
        status_asked += 1
        bots.wait_for(lambda: len(alice.answers(STATUS)) > before, timeout=30)
        [nick] = alice.answers(STATUS)[before:]
        return nick

    # All three start; one is active and alone in the agent room; all take customers in.
    for number in (1, 2, 3):
        bots.start(number)
    bots.wait_for(lambda: bots.settled({1, 2, 3}) and bots.active() is not None)
    first = bots.active()
    bots.wait_for(lambda: alice.in_room() == {nick_of(first)})
    hello = [f"hello-{channel}" for channel in CHANNELS]
    for channel, token in zip(CHANNELS, hello, strict=True):
        customers.say(channel.split("-")[0], f"hi {token}", channel=channel)
    bots.wait_for(seen_once(alice, hello))

    # Commands: in the room the active bot answers; a standby written to directly says where
    # to write instead, once.
    assert ask_status() == nick_of(first)
    standby = min({1, 2, 3} - {first})
    alice.client.say(nick_of(standby), "!queue")
    bots.wait_for(lambda: alice.answers("standing by", "alice"), timeout=30)

    # kill -9 of the active bot in the middle of a stream of customer messages.
    stream = Stream(customers, "one", 60)
    stream.wait_published(20)
    killed_at = bots.kill(first)
    bots.wait_for(lambda: len(alice.in_room() - {nick_of(first)}) == 1, timeout=BOUND)
    times["active killed: another in the agent room"] = time.monotonic() - killed_at
    second = bots.active()
    assert second is not None and alice.in_room() == {nick_of(second)}
    survivors = {1, 2, 3} - {first}
    bots.wait_for(lambda: bots.settled(survivors), timeout=BOUND)
    times["active killed: its channel groups taken"] = time.monotonic() - killed_at
    stream.wait_published(60)
    bots.wait_for(seen_once(alice, stream.tokens))
    assert ask_status() == nick_of(second)

    # kill -9 of a bot that only takes customers in, in the middle of another stream.
    intake = (survivors - {second}).pop()
    assert bots.holding_groups(intake)
    more = Stream(customers, "two", 40)
    more.wait_published(15)
    killed_at = bots.kill(intake)
    bots.wait_for(lambda: bots.settled({second}), timeout=BOUND)
    times["intake bot killed: its channel groups taken"] = time.monotonic() - killed_at
    more.wait_published(40)
    bots.wait_for(seen_once(alice, more.tokens))

    # Both come back; the customers write on; the active bot stops gracefully: at once.
    bots.start(first)
    bots.start(intake)
    bots.wait_for(lambda: bots.settled({1, 2, 3}))
    last = Stream(customers, "three", 30)
    last.wait_published(10)
    stopped_at = bots.terminate(second)
    bots.wait_for(lambda: len(alice.in_room() - {nick_of(second)}) == 1, timeout=BOUND)
    times["graceful stop: another in the agent room"] = time.monotonic() - stopped_at
    third = bots.active()
    last.wait_published(30)
    bots.wait_for(seen_once(alice, last.tokens))
    assert ask_status() == nick_of(third)
    status = [plain(line.params[-1]) for line in alice.client.messages(AGENT_ROOM)]
    assert any(f"{STATUS} (this one: " in line and ", active)" in line for line in status)

    # Each customer message reached the agents once; twice only one the killed active bot had
    # posted (and not yet marked relayed), once from it and once from its successor.
    said = alice.tokens("")
    by_token: dict[str, list[str]] = {}
    for nick, token in said:
        by_token.setdefault(token, []).append(nick)
    for token in [*hello, *more.tokens, *last.tokens]:
        assert len(by_token[token]) == 1, (token, by_token[token])
    doubled = []
    for token in stream.tokens:
        nicks = by_token[token]
        assert len(nicks) in (1, 2), (token, nicks)
        if len(nicks) == 2:
            assert nicks == [nick_of(first), nick_of(second)], (token, nicks)
            doubled.append(token)
    # Each command one answer; the standby's refusal once.
    assert len(alice.answers(STATUS)) == status_asked
    assert len(alice.answers("standing by", "alice")) == 1

    # The admin heard once of each bot lost, and who took over.
    lost = [
        plain(line.params[-1])
        for line in boss.messages(ADMIN)
        if "was lost" in plain(line.params[-1])
    ]
    assert Counter(lost) == Counter(dict.fromkeys(lost, 1)), lost
    took_over = f"took over as the active instance"
    assert [line for line in lost if "the active one, was lost" in line and took_over in line]
    assert sum("its channel groups went to the others" in line for line in lost) == 2, lost

    print(f"\ntakeover times (s): {({k: round(v, 2) for k, v in times.items()})}")
    print(f"relayed twice (in flight when killed): {len(doubled)} of {len(stream.tokens)}")
    assert START_TIMEOUT  # the harness's patience for a start, not a measure
