"""``kill -9`` of the whole product at chosen points of the relay: nothing lost, and only what
was in flight relayed twice.

Each bot is a real ``errbot`` process with a generated ``config.py``: the Bridge with customers
on the PubNub backend (official SDK clients on the local PubNub server, which outlives the
bots) and agents on a real IRC server, the Support plugin on an SQLite file. Alice, an agent,
stays in the agent room on IRC the whole time: the lines she receives are what reached the
agents, counted per customer message.

The points: (1) messages recorded by the plugin but not relayed (the bot cannot enter the agent
room: it has a key); (2) in the middle of relaying a backlog written while the bot was dead,
more than 100 messages on one channel, with a paragraph longer than an IRC line and a NUL among
them (posted in pieces, and with a mark). What was in flight at (2) is exactly what Alice saw but
the database had not yet marked relayed (marks are written in batches, see
``errbot_support.relayed_marks``); that, and only that, may appear twice. Then a graceful
restart while customers write, which must lose and double nothing.
"""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from errbot_pubnub.emulator import PubNubEmulator
from errbot_support.relay_settings import RELAY_BATCH
from tests.botrunner import wait_for
from tests.bridge_fixtures import CORE_PLUGINS
from tests.delivery_e2e_fixtures import (
    ACK,
    AGENT_ROOM,
    BOT_NICK,
    agents_network,
    customers_on,
    last_word,
    plain,
)
from tests.irc_fixtures import IRCClient, IRCLine, IRCServer
from tests.support_fixtures import Customer, customers  # noqa: F401

ERRBOT = str(Path(sys.executable).parent / "errbot")
START_TIMEOUT = 60.0
ROOM_KEY = "agents-only"


class SupportProcess:
    """Starts, kills and stops ``errbot`` processes sharing one data directory."""

    def __init__(self, folder: Path, pubnub: PubNubEmulator, irc: IRCServer) -> None:
        self.folder = folder
        self.pubnub = pubnub
        self.database = folder / "support.sqlite"
        (folder / "data").mkdir()
        self.config = folder / "config.py"
        self.config.write_text(
            textwrap.dedent(
                f"""
                import logging
                BACKEND = "Bridge"
                BOT_DATA_DIR = {str(folder / "data")!r}
                BOT_LOG_FILE = None
                BOT_EXTRA_PLUGIN_DIR = None
                BOT_LOG_LEVEL = logging.INFO
                BOT_ADMINS = ("agents:boss!*@*",)
                CORE_PLUGINS = {CORE_PLUGINS!r}
                BRIDGE_START_TIMEOUT = 30
                BRIDGE_BACKENDS = {{
                    "agents": {agents_network(irc)!r},
                    "customers": {customers_on(pubnub)!r},
                }}
                SUPPORT_AGENT_ROOM = "agents:{AGENT_ROOM}"
                SUPPORT_CUSTOMER_NETWORK = "customers"
                SUPPORT_DB_URL = "sqlite:///{self.database}"
                SUPPORT_RETRY_INTERVAL = 0.2
                """
            )
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = (self.folder / f"bot-{self.starts}.log").open("wb")
        self.process = subprocess.Popen(
            [ERRBOT, "-c", str(self.config)],
            cwd=self.folder,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def subscribed(self) -> bool:
        """Whether the bot listens on PubNub (a first start delivers what is written after)."""
        return any(poll["user_id"] == "support" for poll in self.pubnub.subscribers())

    def wait_for(self, condition: Callable[[], Any], timeout: float = START_TIMEOUT) -> None:
        """Wait for ``condition``, failing at once (with the log) if the bot has died."""
        try:
            wait_for(lambda: condition() or self.process.poll() is not None, timeout=timeout)
        except AssertionError:
            raise AssertionError(
                f"{condition!r} not met; bot-{self.starts}.log tells why"
            ) from None
        if self.process.poll() is not None:
            log = (self.folder / f"bot-{self.starts}.log").read_text()
            raise AssertionError(f"the bot ended ({self.process.returncode}):\n{log[-3000:]}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def terminate(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(30) == 0

    def relay_states(self) -> dict[str, str]:
        """Each recorded customer message (by its token, its last word) and whether it is
        marked relayed, read as another process would."""
        if not self.database.exists():
            return {}
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True) as connection:
            rows = connection.execute(
                "SELECT body, relay FROM support_entries WHERE kind = 'customer'"
            ).fetchall()
        return {last_word(body): relay for body, relay in rows}

    def cleanup(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


class Alice:
    """The agent on IRC: the bot's lines in the agent room, split by the bot's connections."""

    def __init__(self, client: IRCClient) -> None:
        self.client = client

    def _bot_lines(self) -> list[IRCLine]:
        return [
            line
            for line in self.client.lines()
            if line.nick == BOT_NICK and line.command in ("JOIN", "QUIT", "PRIVMSG")
        ]

    def tokens(self) -> list[str]:
        """The last word of every line the bot said in the agent room, repeats included."""
        return [
            last_word(plain(line.params[-1]))
            for line in self._bot_lines()
            if line.command == "PRIVMSG" and line.params[0] == AGENT_ROOM
        ]

    def bot_left(self, times: int) -> Callable[[], bool]:
        """Whether the bot's connection has ended ``times`` times in all."""
        return lambda: [line.command for line in self._bot_lines()].count("QUIT") >= times

    def bot_joined(self, times: int) -> Callable[[], bool]:
        return lambda: [line.command for line in self._bot_lines()].count("JOIN") >= times

    def saw_all(self, expected: list[str]) -> Callable[[], bool]:
        return Missing(expected, self.tokens)


class Missing:
    """A condition: every expected token was seen; its repr names those still missing."""

    def __init__(self, expected: list[str], seen: Callable[[], list[str]]) -> None:
        self.expected = expected
        self.seen = seen

    def __call__(self) -> bool:
        return not self.missing()

    def missing(self) -> list[str]:
        seen = set(self.seen())
        return [token for token in self.expected if token not in seen]

    def __repr__(self) -> str:
        return f"tokens never seen: {self.missing()}"


@pytest.fixture
def bot(tmp_path: Path, pubnub_server: PubNubEmulator, irc_server: IRCServer) -> Iterator[Any]:
    process = SupportProcess(tmp_path, pubnub_server, irc_server)
    yield process
    process.cleanup()


class Scenario:
    """Customers writing, the bot started and killed, and what Alice saw meanwhile."""

    def __init__(self, bot: SupportProcess, alice: Alice, people: dict[str, Customer]) -> None:
        self.bot = bot
        self.alice = alice
        self.people = people
        self.sent: dict[str, list[str]] = {name: [] for name in people}
        self.in_flight: set[str] = set()

    def write(self, name: str, label: str, count: int = 1, before: str = "") -> None:
        """``count`` messages from ``name``, each ending with its token (after ``before``)."""
        for _ in range(count):
            token = f"{name}-{label}-{len(self.sent[name]):03d}"
            self.people[name].write(f"{before} {token}" if before else token)
            self.sent[name].append(token)

    def everything(self) -> list[str]:
        return [token for tokens in self.sent.values() for token in tokens]

    def kill_with_messages_recorded_but_not_relayed(self) -> None:
        """Every conversation opens (acknowledged to the customer) and is recorded, but the
        agent room has a key the bot does not have: nothing is relayed."""
        self.alice.client.send(f"MODE {AGENT_ROOM} +k {ROOM_KEY}")
        self.alice.client.wait_for(lambda line: line.command == "MODE")
        bot = self.bot
        bot.start()
        bot.wait_for(bot.subscribed)
        for name in self.people:
            self.write(name, "first")
        self.write("dana", "first", 2)
        for customer in self.people.values():
            bot.wait_for(lambda c=customer: ACK in c.texts())
        bot.wait_for(lambda: set(bot.relay_states()) == set(self.everything()))
        assert set(bot.relay_states().values()) == {"recorded"}
        bot.kill()
        self.alice.client.send(f"MODE {AGENT_ROOM} -k")

    def kill_in_the_middle_of_a_backlog(self) -> None:
        """Written while the bot was dead (more than 100 on one channel), killed while relaying.

        In flight: what Alice saw from this bot but the database had not marked relayed.
        """
        self.write("dana", "down", 120)
        self.write("eve", "down", 2)
        # What IRC cannot carry as it is: a line too long, a NUL; in pieces and with a mark.
        self.write("eve", "down", before=" ".join(f"word{n:03d}" for n in range(120)))
        self.write("eve", "down", 2)
        self.write("fay", "down", before="a nul \u0000 here")
        self.write("fay", "down", 2)
        bot, alice = self.bot, self.alice
        bot.start()
        bot.wait_for(alice.bot_joined(1))
        bot.wait_for(lambda: sum(t.startswith("dana-down") for t in alice.tokens()) >= 40)
        bot.kill()
        wait_for(alice.bot_left(1))  # all the killed bot sent has reached the room by now
        relayed = {token for token, state in bot.relay_states().items() if state == "relayed"}
        self.in_flight = set(alice.tokens()) & set(self.everything()) - relayed

    def restart_gracefully_while_customers_write(self) -> None:
        bot, alice = self.bot, self.alice
        bot.start()
        bot.wait_for(alice.bot_joined(2))
        self.write("eve", "live", 3)
        bot.wait_for(alice.saw_all(self.sent["eve"]))
        self.write("fay", "late", 5)
        bot.terminate()
        wait_for(alice.bot_left(2))
        bot.start()
        bot.wait_for(alice.bot_joined(3))
        self.write("gus", "last")
        bot.wait_for(alice.saw_all(self.everything()))
        bot.terminate()


def test_kill_9_while_messages_wait_for_the_agent_room_and_in_the_middle_of_a_backlog(
    bot: SupportProcess,
    irc_client: Callable[[str], IRCClient],
    customers: Callable[[str], Customer],  # noqa: F811
) -> None:
    alice = Alice(irc_client("alice"))
    alice.client.join(AGENT_ROOM)
    people = {name: customers(name) for name in ("dana", "eve", "fay", "gus")}
    scenario = Scenario(bot, alice, people)
    scenario.kill_with_messages_recorded_but_not_relayed()
    scenario.kill_in_the_middle_of_a_backlog()
    scenario.restart_gracefully_while_customers_write()

    everything = scenario.everything()
    seen = alice.tokens()
    # Nothing lost; what was in flight at the kill came twice, everything else once (the
    # messages recorded before the first kill included).
    # Marks trail the relay by one pass over the store (at most RELAY_BATCH messages) or by
    # the marks' writer's interval (a few messages at this pace), never by a whole backlog.
    assert len(scenario.in_flight) <= RELAY_BATCH, scenario.in_flight
    counts = Counter(token for token in seen if token in everything)
    assert counts == {token: 1 + (token in scenario.in_flight) for token in everything}
    for name, tokens in scenario.sent.items():  # in order, the first time each came
        assert list(dict.fromkeys(t for t in seen if t.startswith(f"{name}-"))) == tokens
    for customer in people.values():
        assert customer.texts() == [ACK], customer.user_id
    said = [
        plain(line.params[-1])
        for line in alice.client.messages(AGENT_ROOM)
        if line.nick == BOT_NICK
    ]
    assert any("a nul \u2400 here" in line for line in said)
    words = {word for line in said for word in re.findall(r"word\d{3}", line)}
    assert words == {f"word{n:03d}" for n in range(120)}  # the long line, in pieces, whole
