"""Helpers for the Support plugin's tests: a real SQLite store, customer messages, real bots."""

from __future__ import annotations

import itertools
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from errbot.backends.base import Message
from errbot.backends.test import TestOccupant
from errbot.bootstrap import setup_bot
from errbot.core import ErrBot

from errbot_support.desk import Desk
from errbot_support.records import Agent, CustomerMessage
from errbot_support.store import Store
from tests.botrunner import RunningBot, make_config, wait_for

START = datetime(2024, 5, 6, 9, 0, tzinfo=timezone.utc)

ALICE = Agent("alice", "Alice")
BOB = Agent("bob", "Bob")
CAROL = Agent("carol", "Carol")


class Clock:
    """A settable clock, so durations in stats are exact."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


_ids = itertools.count(1)


def customer_message(
    room: str = "dana-chat",
    body: str = "hello",
    *,
    name: str = "Dana",
    source_id: str | None = "auto",
    sent_at: datetime = START,
) -> CustomerMessage:
    """A customer's message; each gets a fresh source id unless one is given."""
    return CustomerMessage(
        room=room,
        customer_id=f"{room}/{name.lower()}",
        customer_name=name,
        body=body,
        sent_at=sent_at,
        source_id=str(next(_ids)) if source_id == "auto" else source_id,
    )


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'support.sqlite'}"


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = Store(db_url)
    yield opened
    opened.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def desk(store: Store, clock: Clock) -> Desk:
    return Desk(store, clock)


# --------------------------------------------------------------------------------------------
# A real bot on Errbot's Test backend running the Support plugin
# --------------------------------------------------------------------------------------------

AGENT_ROOM = "support"
COMMAND_REPLIES = "Err"  # the Test backend addresses command replies to the bot itself


@dataclass(frozen=True)
class Sent:
    """A message the bot sent, as the backend was asked to send it."""

    to: str
    body: str
    extras: dict
    parent: Message | None
    message: Message


class SupportBot:
    """Drives a bot like chat users would and records everything it sends.

    The Test backend only queues the text of what a bot sends; the recorder wraps the bot's
    ``send_message`` (before the bot starts, so start-up messages are kept too) to keep each
    message's target and extras. ``refuse`` makes sends to a target raise, as a network that
    is down does.
    """

    def __init__(self, bot: ErrBot) -> None:
        self.bot = bot
        self.running = RunningBot(bot)
        self.sent: list[Sent] = []
        self.refused: dict[str, str] = {}
        self._lock = threading.Lock()
        send_message = self.bot.send_message

        def recording_send_message(message: Message) -> None:
            target = str(message.to)
            with self._lock:
                reason = self.refused.get(target)
            if reason:
                raise ConnectionError(reason)
            with self._lock:
                self.sent.append(
                    Sent(target, message.body, dict(message.extras), message.parent, message)
                )
            send_message(message)

        self.bot.send_message = recording_send_message

    @property
    def plugin(self):
        return self.running.plugin("Support")

    @property
    def desk(self):
        return self.plugin._desk

    def refuse(self, target: str, reason: str = "network is down") -> None:
        with self._lock:
            self.refused[target] = reason

    def accept(self, target: str) -> None:
        with self._lock:
            self.refused.pop(target, None)

    def customer(
        self,
        room: str,
        text: str,
        *,
        name: str | None = None,
        message_id: str | None = None,
        sent_at: datetime | None = None,
    ) -> None:
        """A customer writes in their room; returns once the bot has handled the message."""
        chat = self.bot.query_room(room)
        extras: dict = {}
        if message_id is not None:
            extras["message_id"] = message_id
        if sent_at is not None:
            extras["sent_at"] = sent_at
        message = Message(
            text,
            frm=TestOccupant(name or room.split("-", maxsplit=1)[0], chat),
            to=chat,
            extras=extras,
        )
        self.bot.callback_message(message)

    def say(self, agent: str, text: str, *, room: str | None = AGENT_ROOM) -> int:
        """An agent writes (in the agent room, or directly to the bot with ``room=None``).

        Returns how many messages had been sent before, to wait for what follows.
        """
        mark = len(self.sent)
        if room is None:
            frm = self.bot.build_identifier(agent)
            message = Message(text, frm=frm, to=self.bot.bot_identifier)
        else:
            chat = self.bot.query_room(room)
            message = Message(text, frm=TestOccupant(agent, chat), to=chat)
        self.bot.callback_message(message)
        return mark

    def command(self, agent: str, text: str, *, room: str | None = AGENT_ROOM) -> str:
        """Run a command and return the bot's answer to it."""
        mark = self.say(agent, text, room=room)
        return self.wait_sent(lambda s: s.to == COMMAND_REPLIES, after=mark).body

    def wait_sent(self, predicate, *, after: int = 0, timeout: float = 20.0) -> Sent:
        def found():
            with self._lock:
                return next((s for s in self.sent[after:] if predicate(s)), None)

        return wait_for(found, timeout=timeout)

    def to(self, target: str) -> list[Sent]:
        with self._lock:
            return [s for s in self.sent if s.to == target]

    def bodies(self, target: str) -> list[str]:
        return [s.body for s in self.to(target)]

    def conversation_of(self, room: str) -> int:
        """The number the agent room announced for ``room``'s conversation."""
        sent = self.wait_sent(lambda s: s.to == AGENT_ROOM and f"(`{room}`)" in s.body)
        return int(re.match(r"\*\*#(\d+)\*\*", sent.body).group(1))


def support_config(data_dir: Path, **overrides):
    settings = {
        "SUPPORT_AGENT_ROOM": AGENT_ROOM,
        "SUPPORT_RETRY_INTERVAL": 0.2,
        "SUPPRESS_CMD_NOT_FOUND": True,
    }
    settings.update(overrides)
    return make_config(data_dir, **settings)


def support_active(running: RunningBot) -> bool:
    plugin = running.plugin("Support")
    return plugin is not None and plugin.is_activated


@contextmanager
def support_bot(data_dir: Path, **overrides) -> Iterator[SupportBot]:
    """A Test-backend bot with the Support plugin active, stopped on exit."""
    config = support_config(data_dir, **overrides)
    harness = SupportBot(setup_bot("Test", logging.getLogger("errbot"), config))
    harness.running.start(ready=lambda: support_active(harness.running))
    try:
        yield harness
    finally:
        harness.running.stop()
