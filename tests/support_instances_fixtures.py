"""Several Support bots acting as one, as real processes: the harness of their end-to-end test.

Each bot is a real ``errbot`` process with a generated ``config.py``: the Bridge with agents on a
real IRC server (each bot its own nick, ``helpdesk1``...) and customers on the PubNub backend
(official SDK clients on the local PubNub server), the Support plugin and the PubNub delivery
state on one real PostgreSQL database, the customers' channel groups shared among the bots
(``PUBNUB_SHARE_GROUPS``). What reached the agents is what an IRC client in the agent room read.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from errbot_instances.postgres import conninfo
from errbot_pubnub.emulator import PubNubEmulator
from tests.botrunner import wait_for
from tests.bridge_fixtures import CORE_PLUGINS, irc_network
from tests.delivery_e2e_fixtures import AGENT_ROOM, customers_on, last_word
from tests.irc_fixtures import IRCClient, IRCLine, IRCServer, plain

ERRBOT = str(Path(sys.executable).parent / "errbot")
START_TIMEOUT = 60.0
ADMIN = "boss"
#: The takeover bound the bots are given (INSTANCES_TAKEOVER_SECONDS), shorter than the
#: default 10 s so that the test waits less for a silent instance to count as gone.
TAKEOVER_SECONDS = 4.0


def nick_of(number: int) -> str:
    return f"helpdesk{number}"


class SupportBots:
    """``errbot`` processes on one PostgreSQL database, started, killed and stopped by number."""

    def __init__(
        self,
        folder: Path,
        pubnub: PubNubEmulator,
        irc: IRCServer,
        database: str,
        groups: tuple[str, ...],
        *,
        settings: dict[str, Any] | None = None,
    ) -> None:
        """``settings``: more bot settings, the same for every bot."""
        self.settings = settings or {}
        self.folder = folder
        self.pubnub = pubnub
        self.irc = irc
        self.database = database
        self.groups = groups
        self.processes: dict[int, subprocess.Popen[bytes]] = {}
        self.starts: dict[int, int] = {}

    def config(self, number: int) -> Path:
        directory = self.folder / f"bot-{number}"
        (directory / "data").mkdir(parents=True, exist_ok=True)
        agents = irc_network(
            self.irc,
            nick=nick_of(number),
            CHATROOM_PRESENCE=(),  # the active instance joins the agent room, the others not
            BRIDGE_RECONNECT_DELAY=0.1,
            BRIDGE_RECONNECT_MAX_DELAY=0.5,
        )
        customers = customers_on(
            self.pubnub,
            PUBNUB_CHANNEL_GROUP=list(self.groups),
            PUBNUB_DELIVERY_DB_URL=self.database,
            PUBNUB_SHARE_GROUPS=True,
        )
        config = directory / "config.py"
        config.write_text(
            textwrap.dedent(
                f"""
                import logging
                BACKEND = "Bridge"
                BOT_DATA_DIR = {str(directory / "data")!r}
                BOT_LOG_FILE = None
                BOT_EXTRA_PLUGIN_DIR = None
                BOT_LOG_LEVEL = logging.INFO
                BOT_ADMINS = ("agents:{ADMIN}!*@*",)
                CORE_PLUGINS = {CORE_PLUGINS!r}
                BRIDGE_START_TIMEOUT = 30
                BRIDGE_BACKENDS = {{"agents": {agents!r}, "customers": {customers!r}}}
                SUPPORT_AGENT_ROOM = "agents:{AGENT_ROOM}"
                SUPPORT_CUSTOMER_NETWORK = "customers"
                SUPPORT_DB_URL = {self.database!r}
                SUPPORT_RETRY_INTERVAL = 0.2
                INSTANCES_TAKEOVER_SECONDS = {TAKEOVER_SECONDS!r}
                """
            )
            + "".join(f"{name} = {value!r}\n" for name, value in self.settings.items())
        )
        return config

    def start(self, number: int) -> None:
        self.starts[number] = self.starts.get(number, 0) + 1
        log = (self.folder / f"bot-{number}-{self.starts[number]}.log").open("wb")
        self.processes[number] = subprocess.Popen(
            [ERRBOT, "-c", str(self.config(number))],
            cwd=self.folder / f"bot-{number}",
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def kill(self, number: int) -> float:
        """SIGKILL; the moment just before it was sent."""
        t = time.monotonic()
        self.processes[number].send_signal(signal.SIGKILL)
        self.processes[number].wait(10)
        return t

    def terminate(self, number: int) -> float:
        t = time.monotonic()
        self.processes[number].send_signal(signal.SIGTERM)
        assert self.processes[number].wait(30) == 0, self.logs()
        return t

    def live(self) -> set[int]:
        return {n for n, p in self.processes.items() if p.poll() is None}

    def pids(self, numbers: set[int]) -> set[int]:
        return {self.processes[n].pid for n in numbers}

    def number_of(self, pid: int) -> int:
        return next(n for n, p in self.processes.items() if p.pid == pid)

    # ------------------------------------------------------------------ the shared database

    def query(self, statement: str) -> list[tuple]:
        import psycopg

        with psycopg.connect(conninfo(self.database), autocommit=True) as connection:
            try:
                return connection.execute(statement).fetchall()
            except psycopg.errors.UndefinedTable:
                return []

    def active(self) -> int | None:
        """The number of the bot the database says is active, if any."""
        rows = self.query("SELECT pid FROM instances WHERE role = 'active'")
        live = self.pids(self.live())
        found = [pid for (pid,) in rows if pid in live]
        return self.number_of(found[0]) if len(found) == 1 else None

    def settled(self, numbers: set[int]) -> bool:
        """Whether exactly the bots ``numbers`` take channel groups in, every group held by one
        of them and none being handed over."""
        taking = {pid for (pid,) in self.query("SELECT pid FROM instances WHERE intake")}
        rows = self.query(
            "SELECT g.name, i.pid FROM instance_groups g JOIN instances i ON i.id = g.holder"
            " WHERE g.holder = g.target"
        )
        holders = dict(rows)
        wanted = self.pids(numbers)
        return (
            taking == wanted
            and set(holders) == set(self.groups)
            and set(holders.values()) <= wanted
        )

    def holding_groups(self, number: int) -> bool:
        pid = self.processes[number].pid
        rows = self.query(
            "SELECT count(*) FROM instance_groups g JOIN instances i ON i.id = g.holder"
            f" WHERE i.pid = {pid:d}"
        )
        return bool(rows and rows[0][0])

    def wait_for(self, condition: Callable[[], Any], timeout: float = START_TIMEOUT) -> Any:
        try:
            return wait_for(condition, timeout=timeout)
        except AssertionError as failure:
            raise AssertionError(f"{failure}\n{self.logs()}") from None

    def log_of(self, number: int) -> str:
        """The log of bot ``number``'s latest start."""
        return (self.folder / f"bot-{number}-{self.starts[number]}.log").read_text()

    def logs(self) -> str:
        parts = [
            "--- sessions: " + repr(row)
            for row in self.query(
                "SELECT pid, state, wait_event_type, wait_event, left(query, 120)"
                " FROM pg_stat_activity WHERE datname = current_database()"
            )
        ]
        for number, starts in sorted(self.starts.items()):
            for start in range(1, starts + 1):
                path = self.folder / f"bot-{number}-{start}.log"
                parts.append(f"--- bot-{number}-{start}\n{path.read_text()[-3000:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


class Agent:
    """A person on IRC in the agent room: every line the bots said there, by nick and time."""

    def __init__(self, client: IRCClient) -> None:
        self.client = client
        self.seen_at: dict[int, float] = {}  # line index -> when first looked at

    def bot_lines(self) -> list[IRCLine]:
        return [line for line in self.client.lines() if line.nick.startswith("helpdesk")]

    def said(self) -> list[tuple[str, str]]:
        """(nick, text) of what the bots said in the agent room, oldest first."""
        return [
            (line.nick, plain(line.params[-1]))
            for line in self.bot_lines()
            if line.command == "PRIVMSG" and line.params[0] == AGENT_ROOM
        ]

    def tokens(self, prefix: str) -> list[tuple[str, str]]:
        """(nick, token) of each line ending with a token starting with ``prefix``."""
        return [
            (nick, last_word(text))
            for nick, text in self.said()
            if last_word(text).startswith(prefix)
        ]

    def joins(self, nick: str) -> int:
        return sum(
            1
            for line in self.bot_lines()
            if line.command == "JOIN" and line.nick == nick and AGENT_ROOM in line.params
        )

    def in_room(self) -> set[str]:
        """The bot nicks in the agent room now, by the JOIN, PART and QUIT lines read."""
        present: set[str] = set()
        for line in self.bot_lines():
            if line.command == "JOIN" and AGENT_ROOM in line.params:
                present.add(line.nick)
            elif (
                line.command == "PART" and AGENT_ROOM in line.params[:1]
            ) or line.command == "QUIT":
                present.discard(line.nick)
        return present

    def answers(self, text: str, target: str = AGENT_ROOM) -> list[str]:
        """The nicks that said something containing ``text`` to ``target``."""
        return [
            line.nick
            for line in self.bot_lines()
            if line.command == "PRIVMSG"
            and line.params[0] == target
            and text in plain(line.params[-1])
        ]
