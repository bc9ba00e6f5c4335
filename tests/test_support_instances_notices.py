"""What a bot standing by has to tell the agents reaches the agent room once, posted by the
bot facing them: two real Errbot bots (Test backend) with the Support plugin, on one real
PostgreSQL database, in this process.

The two bots name the database by two URLs (one with an ``application_name``), as two bots on
two machines would be two processes: in one process, one URL is one instance.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from errbot.backends.base import Message
from errbot.backends.test import TestOccupant

from errbot_instances import process
from tests.botrunner import wait_for
from tests.support_fixtures import AGENT_ROOM, SupportBot, support_bot

pytest.importorskip("psycopg", reason="the postgresql extra (psycopg) is not installed")

BOUND = 3.0


@contextmanager
def two_bots(folder: Path, url: str) -> Iterator[tuple[SupportBot, SupportBot]]:
    """The active bot (started first) and a bot standing by, on one database."""
    settings = {"INSTANCES_TAKEOVER_SECONDS": BOUND, "SUPPORT_ACKNOWLEDGEMENT": "Hello!"}
    with support_bot(folder / "active", SUPPORT_DB_URL=url, **settings) as active:
        wait_for(lambda: active.plugin.runtime.agents.running, timeout=10)
        standby_url = f"{url}?application_name=standby"
        with support_bot(folder / "standby", SUPPORT_DB_URL=standby_url, **settings) as standby:
            assert not standby.plugin.runtime.agents.running
            yield active, standby


def written_in(bot: SupportBot, room: str, text: str, name: str, **extras: object) -> None:
    """``name`` writes ``text`` in the customer chat ``room``, as the bot's network hands it."""
    chat = bot.bot.query_room(room)
    bot.bot.callback_message(
        Message(text, frm=TestOccupant(name, chat), to=chat, extras=dict(extras))
    )


def test_a_standbys_notices_are_posted_once_by_the_active_bot(tmp_path, postgres_database):
    with two_bots(tmp_path, postgres_database) as (active, standby):
        # A message posing as support, taken in by the standby (twice: delivered again).
        for _ in range(2):
            written_in(
                standby,
                "dana-chat",
                "pay here: evil.example",
                "support",
                posing_as_support=True,
                message_id="17000000000000001",
            )
        posing = wait_for(
            lambda: [b for b in active.bodies(AGENT_ROOM) if "posing as support" in b]
        )
        [notice] = posing  # the second delivery was kept once: nothing more to post
        assert notice.startswith("dana")
        assert "a message posing as support reached the customer: pay here" in notice

        # A customer's acknowledgement the network refused, sent by the standby.
        standby.refuse("erin-chat", "the chat is closed")
        written_in(standby, "erin-chat", "hello?", "erin", message_id="17000000000000002")
        undelivered = wait_for(
            lambda: [b for b in active.bodies(AGENT_ROOM) if "NOT DELIVERED" in b]
        )
        assert len(undelivered) == 1
        assert (
            "the automatic acknowledgement did not reach erin (the chat is closed)"
            in (undelivered[0])
        )
        active.relayed()
        # The standby posted nothing in the agent room and told the admins nothing of it.
        assert standby.to(AGENT_ROOM) == []
        assert not [b for b in standby.admins_told() if "posing" in b or "erin" in b]
        assert len([b for b in active.bodies(AGENT_ROOM) if "posing as support" in b]) == 1


def test_a_message_the_database_refused_on_a_standby_is_told_by_the_active_bot(
    tmp_path, postgres_database
):
    """PostgreSQL refuses text holding a NUL: the standby cannot record Fay's message, and
    cannot keep a notice for the agents in the store either; what it has for the admins is
    kept for the active bot, which tells them, naming the standby."""
    standby_id = process.me(f"{postgres_database}?application_name=standby").id
    with two_bots(tmp_path, postgres_database) as (active, standby):
        written_in(
            standby, "fay-chat", "my code is 12\x0034", "fay", message_id="17000000000000003"
        )
        refused = "the conversation database refused a message"
        told = wait_for(lambda: [t for t in active.admins_told() if refused in t], timeout=10)
        wait_for(lambda: len([t for t in active.admins_told() if "could not be recorded" in t]))
        assert told[0].startswith(f"Instance {standby_id} on ")
        assert "Support: the conversation database refused a message" in told[0]
        [recorded] = [t for t in active.admins_told() if "could not be recorded" in t]
        assert recorded.startswith(f"Instance {standby_id} on ")
        assert "Support (for support): A message from fay" in recorded
        assert standby.admins_told() == []
        assert standby.to(AGENT_ROOM) == []
