"""A reminder is posted once, whichever Support bot faces the agents: two real ``errbot``
processes (``tests/support_instances_fixtures.py``: agents on a real IRC server, customers on
the local PubNub server, one real PostgreSQL database), ``SUPPORT_REMINDER_MINUTES`` short.
The active bot reminds the agents of Dana, waiting, and is killed with ``kill -9``; the other
takes over and reminds them of Erin, who wrote since, but not of Dana again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from errbot_pubnub.emulator import PubNubEmulator
from tests.delivery_e2e_fixtures import AGENT_ROOM
from tests.delivery_fixtures import Customers
from tests.irc_fixtures import IRCClient, IRCServer
from tests.support_instances_fixtures import Agent, SupportBots, nick_of
from tests.test_pubnub_shared_groups import each_group_subscribed_once

pytest.importorskip("psycopg", reason="the postgresql extra (psycopg) is not installed")

GROUPS = ("g1",)
BOUND = 10.0


@pytest.fixture
def customers(pubnub_server: PubNubEmulator) -> Iterator[Customers]:
    made = Customers(pubnub_server)
    for name in ("dana", "erin"):
        made.join(name, group="g1", channel=f"{name}-g1")
    yield made
    made.stop()


@pytest.fixture
def bots(
    tmp_path: Path, pubnub_server: PubNubEmulator, irc_server: IRCServer, postgres_database: str
) -> Iterator[SupportBots]:
    started = SupportBots(
        tmp_path,
        pubnub_server,
        irc_server,
        postgres_database,
        GROUPS,
        settings={"SUPPORT_REMINDER_MINUTES": 0.01, "SUPPORT_ACKNOWLEDGEMENT": None},
    )
    yield started
    started.stop()


def reminders(alice: Agent, number: int) -> list[str]:
    """The nicks of the bots that reminded the agents of conversation ``number``."""
    return [
        nick for nick, text in alice.said() if text.startswith(f"#{number} ") and "waited" in text
    ]


def test_a_bot_taking_over_does_not_remind_the_agents_again(
    bots: SupportBots, customers: Customers, irc_client: Callable[[str], IRCClient]
) -> None:
    alice = Agent(irc_client("alice"))
    alice.client.join(AGENT_ROOM)
    bots.start(1)
    bots.wait_for(lambda: bots.active() == 1 and bots.settled({1}))
    bots.start(2)
    bots.wait_for(lambda: bots.settled({1, 2}))
    bots.wait_for(lambda: each_group_subscribed_once(bots.pubnub, GROUPS))
    bots.wait_for(lambda: alice.in_room() == {nick_of(1)})

    customers.say("dana", "where is my parcel?", channel="dana-g1")
    bots.wait_for(lambda: reminders(alice, 1) == [nick_of(1)], timeout=30)
    bots.wait_for(lambda: bots.query("SELECT conversation_id FROM support_reminders") == [(1,)])

    bots.kill(1)
    bots.wait_for(lambda: alice.in_room() - {nick_of(1)} == {nick_of(2)}, timeout=BOUND)
    customers.say("erin", "hello?", channel="erin-g1")
    bots.wait_for(lambda: reminders(alice, 2) == [nick_of(2)], timeout=30)
    # The new active bot looked at both waiting customers: Erin is new, Dana was reminded.
    assert reminders(alice, 1) == [nick_of(1)]
    assert reminders(alice, 2) == [nick_of(2)]
