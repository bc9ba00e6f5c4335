"""Helpers for the Support plugin's tests: a real SQLite store, customer messages, real bots."""

from __future__ import annotations

import contextlib
import itertools
import logging
import queue
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import errbot.rendering
import pytest
from errbot.backends.base import Message
from errbot.backends.test import TestOccupant
from errbot.bootstrap import setup_bot
from errbot.core import ErrBot

from errbot_pubnub.emulator import PubNubEmulator
from errbot_pubnub.sdk import new_client
from errbot_support.desk import Desk
from errbot_support.records import Agent, CustomerMessage
from errbot_support.store import Store
from tests.botrunner import RunningBot, make_config, running_bot, wait_for
from tests.bridge_fixtures import CORE_PLUGINS
from tests.pubnub_fixtures import (
    PUBLISH_KEY,
    SUBSCRIBE_KEY,
    PubNubEvents,
    pubnub_config,
    stop_clients,
    subscribed,
)

T = TypeVar("T")
R = TypeVar("R")

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
def desk(store: Store, clock: Clock) -> Iterator[Desk]:
    opened = Desk(store, clock)
    yield opened
    opened.close()  # writes the queued marks and stops their writer


# --------------------------------------------------------------------------------------------
# A real bot on Errbot's Test backend running the Support plugin
# --------------------------------------------------------------------------------------------

AGENT_ROOM = "support"
COMMAND_REPLIES = "Err"  # the Test backend addresses command replies to the bot itself


#: What the Test backend shows of a message: Errbot's Markdown-to-text converter.
SHOWN = errbot.rendering.text()
_SHOWN_LOCK = threading.Lock()  # a Markdown converter is not thread-safe


def read_on_test_backend(markdown: str) -> str:
    """``markdown`` as a person reads it on Errbot's Test (plain text) backend."""
    with _SHOWN_LOCK:
        return SHOWN.convert(markdown)


@dataclass(frozen=True)
class Sent:
    """A message the bot sent: ``body`` as people read it on the Test backend, ``markdown`` as
    the backend was asked to send it."""

    to: str
    body: str
    extras: dict
    parent: Message | None
    message: Message
    markdown: str = ""


class SupportBot:
    """Drives a bot like chat users would and records everything it sends.

    The Test backend only queues the text of what a bot sends; the recorder wraps the bot's
    ``send_message`` (before the bot starts, so start-up messages are kept too) to keep each
    message's target and extras. ``refuse`` makes sends to a target raise, as a network that
    is down does; ``refuse_content`` makes posts holding a word raise as a network refusing
    them for what they are does; ``hold`` makes sends wait until ``release``, as a stalled
    network does.
    """

    def __init__(self, bot: ErrBot, agents: ErrBot | None = None) -> None:
        self.bot = bot
        # Where agents are: the bot itself, or the Bridge network hosting the agent room
        # (what is recorded then is what really reached that network).
        self.agents = agents if agents is not None else bot
        self.running = RunningBot(bot)
        self.sent: list[Sent] = []
        self.refused: dict[str, str] = {}
        self.refused_content: dict[str, str] = {}  # target -> posts holding this are refused
        self.held: dict[str, threading.Event] = {}
        self._waiting: dict[str, int] = {}  # sends held at the moment, per target
        self.thread_stamps = False  # True: stamp sent messages like Slack (threads cannot run here)
        self._lock = threading.Lock()
        send_message = self.agents.send_message

        def recording_send_message(message: Message) -> None:
            target = str(message.to)
            with self._lock:
                held = self.held.get(target)
            if held is not None:
                with self._lock:
                    self._waiting[target] = self._waiting.get(target, 0) + 1
                held.wait(timeout=30)
                with self._lock:
                    self._waiting[target] -= 1
            with self._lock:
                reason = self.refused.get(target)
                word = self.refused_content.get(target)
                content = [word] if word and word in message.body else []
            if reason:
                raise ConnectionError(reason)
            if content:  # as the ``irc`` library refuses a line: MessageTooLong is a ValueError
                raise ValueError(f"the network refuses posts holding {content[0]!r}")
            with self._lock:
                if self.thread_stamps and target == AGENT_ROOM:
                    # What errbot-backend-slackv3 does after posting: keep Slack's timestamp.
                    message.extras["ts"] = [f"1700000000.{len(self.sent):06d}"]
            send_message(message)  # what the network refused is not recorded as sent
            with self._lock:
                self.sent.append(
                    Sent(
                        target,
                        read_on_test_backend(message.body),
                        dict(message.extras),
                        message.parent,
                        message,
                        message.body,
                    )
                )

        self.agents.send_message = recording_send_message

    @property
    def plugin(self):
        return self.running.plugin("Support")

    @property
    def desk(self):
        return self.plugin.runtime.desk

    def refuse(self, target: str, reason: str = "network is down") -> None:
        with self._lock:
            self.refused[target] = reason

    def refuse_content(self, target: str, word: str) -> None:
        """Posts to ``target`` holding ``word`` are refused for what they hold."""
        with self._lock:
            self.refused_content[target] = word

    def admins_told(self) -> list[str]:
        """What the bot told its admins (``BOT_ADMINS`` of the test configuration)."""
        return self.bodies("admin")

    def accept(self, target: str) -> None:
        with self._lock:
            self.refused.pop(target, None)

    def hold(self, target: str) -> None:
        with self._lock:
            self.held[target] = threading.Event()

    def held_sends(self, target: str) -> int:
        """How many sends to ``target`` wait for :meth:`release` right now."""
        with self._lock:
            return self._waiting.get(target, 0)

    def release(self, target: str) -> None:
        with self._lock:
            held = self.held.pop(target, None)
        if held is not None:
            held.set()

    def customer(
        self,
        room: str,
        text: str,
        *,
        name: str | None = None,
        message_id: str | None = None,
        sent_at: datetime | None = None,
    ) -> None:
        """A customer writes in their room; returns once the bot has handled the message and,
        unless a send is held, its relay has posted all it could."""
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
        self.relayed()

    def relayed(self, timeout: float = 30.0) -> None:
        """Wait until the agent rooms' relays have posted all they can (unless a send is
        held: then they cannot finish)."""
        with self._lock:
            held = bool(self.held)
        runtime = self.plugin.runtime if not held else None
        relay = runtime.agents.relays if runtime is not None else None
        if relay is not None:
            assert relay.wait_until_idle(timeout), "the relay did not finish"

    def say(
        self, agent: str, text: str, *, room: str | None = AGENT_ROOM, extras: dict | None = None
    ) -> int:
        """An agent writes (in the agent room, or directly to the bot with ``room=None``).

        Returns how many messages had been sent before, to wait for what follows.
        """
        mark = len(self.sent)
        if room is None:
            frm = self.agents.build_identifier(agent)
            message = Message(text, frm=frm, to=self.agents.bot_identifier, extras=extras)
        else:
            chat = self.agents.query_room(room)
            message = Message(text, frm=TestOccupant(agent, chat), to=chat, extras=extras)
        self.agents.callback_message(message)
        return mark

    def command(
        self, agent: str, text: str, *, room: str | None = AGENT_ROOM, extras: dict | None = None
    ) -> str:
        """Run a command and return the bot's answer to it (one command at a time: commands
        run on Errbot's thread pool, so answers to overlapping ones could come in any order)."""
        mark = self.say(agent, text, room=room, extras=extras)
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
        sent = self.wait_sent(lambda s: s.to == AGENT_ROOM and f"({room})" in s.body)
        return int(re.match(r"#(\d+) ", sent.body).group(1))


def support_config(data_dir: Path, **overrides):
    settings = {
        "SUPPORT_AGENT_ROOM": AGENT_ROOM,
        "SUPPORT_RETRY_INTERVAL": 0.2,
        "SUPPRESS_CMD_NOT_FOUND": True,
    }
    settings.update(overrides)
    return make_config(data_dir, **settings)


def all_at_once(act: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``act`` on each item, each on a thread of its own, all released at the same moment:
    the races the store, the desk and the plugin must settle."""
    barrier = threading.Barrier(len(items))

    def run(item: T) -> R:
        barrier.wait()
        return act(item)

    with ThreadPoolExecutor(len(items)) as pool:
        return list(pool.map(run, items))


def refused_activation(tmp_path: Path, sentence: str, **overrides: Any) -> str:
    """Start a Test-backend bot with ``overrides`` and return the line that told the admins
    the plugin could not activate, which must contain ``sentence``; the plugin must be off."""
    with running_bot("Test", support_config(tmp_path, **overrides)) as running:
        told: list[str] = []

        def admins_told() -> bool:
            with contextlib.suppress(queue.Empty):
                told.append(running.bot.pop_message(timeout=0.1))
            return any(sentence in text for text in told)

        wait_for(admins_told)
        assert not running.plugin("Support").is_activated
    [line] = [line for text in told for line in text.splitlines() if sentence in line]
    return line


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


# --------------------------------------------------------------------------------------------
# Bridged bots: customers on the local PubNub server (official SDK), agents on another network
# --------------------------------------------------------------------------------------------

GROUP = "support"
SUPPORT_USER = "support"


def customers_network(server: PubNubEmulator) -> dict[str, Any]:
    """The ``BRIDGE_BACKENDS`` entry of the customers: PubNub, where nobody runs commands."""
    return {
        "BACKEND": "PubNub",
        "BOT_IDENTITY": {
            "publish_key": PUBLISH_KEY,
            "subscribe_key": SUBSCRIBE_KEY,
            "user_id": SUPPORT_USER,
        },
        "PUBNUB_CHANNEL_GROUP": GROUP,
        "PUBNUB_ORIGIN": server.origin,
        "PUBNUB_SSL": False,
        "BRIDGE_COMMANDS": False,
    }


def bridged_config(data_dir: Path, server: PubNubEmulator, agents: dict[str, Any], **overrides):
    settings: dict[str, Any] = {
        "BRIDGE_BACKENDS": {"agents": agents, "customers": customers_network(server)},
        "CORE_PLUGINS": CORE_PLUGINS,
        "BOT_ADMINS": ("agents:admin",),
        "BRIDGE_RECONNECT_DELAY": 0.1,
        "BRIDGE_RECONNECT_MAX_DELAY": 0.5,
        "BRIDGE_START_TIMEOUT": 30,
        "SUPPORT_AGENT_ROOM": f"agents:{AGENT_ROOM}",
        "SUPPORT_CUSTOMER_NETWORK": "customers",
        "SUPPORT_RETRY_INTERVAL": 0.2,
    }
    settings.update(overrides)
    return make_config(data_dir, **settings)


@contextmanager
def bridged_support_bot(
    data_dir: Path, server: PubNubEmulator, **overrides: Any
) -> Iterator[SupportBot]:
    """Customers on PubNub, agents on Errbot's Test backend, one bridged bot."""
    config = bridged_config(data_dir, server, {"BACKEND": "Test"}, **overrides)
    bridge = setup_bot("Bridge", logging.getLogger("errbot"), config)
    harness = SupportBot(bridge, agents=bridge.hosted_backends()["agents"])
    harness.running.start(ready=lambda: support_active(harness.running))
    try:
        yield harness
    finally:
        harness.running.stop()


class Customer:
    """A customer app on the official PubNub SDK: its own channel in the support group."""

    def __init__(self, server: PubNubEmulator, user_id: str) -> None:
        self.user_id = user_id
        self.channel = f"{user_id}-support"
        self.client = new_client(pubnub_config(server, user_id))
        self.client.add_channel_to_channel_group().channels([self.channel]).channel_group(
            GROUP
        ).sync()
        self.events: PubNubEvents = subscribed(self.client, channels=[self.channel])
        self._received: list[Any] = []

    @property
    def room(self) -> str:
        """The customer's room as the bridged bot names it."""
        return f"customers:{self.channel}"

    def write(self, text: str, attachments: list[dict[str, str]] | None = None) -> int:
        payload: dict[str, Any] = {
            "kind": "from_customer",
            "time": datetime.now(timezone.utc).isoformat(),
            "text": text,
        }
        if attachments:
            payload["attachments"] = attachments
        return int(
            self.client.publish().channel(self.channel).message(payload).sync().result.timetoken
        )

    def received(self) -> list[Any]:
        """Everything the support side published to this customer so far, oldest first."""
        while True:
            try:
                message = self.events.messages.get_nowait()
            except queue.Empty:
                return list(self._received)
            if message.publisher == SUPPORT_USER:
                self._received.append(message)

    def texts(self) -> list[str]:
        return [m.message["text"] for m in self.received()]

    def wait_for(self, text: str) -> Any:
        """The first message received whose text contains ``text``."""
        return wait_for(
            lambda: next((m for m in self.received() if text in m.message["text"]), None)
        )

    def stop(self) -> None:
        stop_clients([self.client])


@pytest.fixture
def customers(pubnub_server: PubNubEmulator) -> Iterator[Any]:
    """``customers("dana")``: customer apps on ``pubnub_server``, stopped at teardown."""
    made: list[Customer] = []

    def make(user_id: str) -> Customer:
        customer = Customer(pubnub_server, user_id)
        made.append(customer)
        return customer

    yield make
    for customer in made:
        customer.stop()
