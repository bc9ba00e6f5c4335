"""``kill -9`` of real bot processes at chosen points of the relay, and graceful restarts.

Each bot is a real ``errbot`` process with a generated ``config.py`` and the recorder plugin,
which appends every message it receives to a file before returning (and, for chosen texts,
does not return: the message is then "in flight" when the process is killed). Customers publish
with the official SDK to the local PubNub server, which outlives the bots. The record file says
exactly which messages reached Errbot, how often and in which process.

Promise under test: a ``kill -9`` loses nothing, and only the messages in flight at that
instant may reach Errbot twice; a graceful stop loses nothing and doubles nothing.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from errbot_pubnub.emulator import PubNubEmulator
from tests.botrunner import wait_for
from tests.delivery_fixtures import RECORDER, Customers, Recording
from tests.pubnub_fixtures import errbot_config_file

ERRBOT = str(Path(sys.executable).parent / "errbot")
START_TIMEOUT = 60.0


@dataclass(frozen=True)
class Killed:
    """A killed bot: its pid, and the cursors and resume point it had committed."""

    pid: int
    cursors: dict[str, int]
    resume_point: int

    def in_flight(self, lines: list[dict[str, Any]]) -> set[str]:
        """What this bot received but had not durably acknowledged: past its committed
        cursor (or, in a channel without one, past the resume point)."""
        return {
            line["text"]
            for line in lines
            if line["pid"] == self.pid
            and line["timetoken"] > self.cursors.get(line["channel"], self.resume_point)
        }


class BotProcess:
    """Starts, kills and stops ``errbot`` processes sharing one data directory."""

    def __init__(self, directory: Path, server: PubNubEmulator, record: Recording) -> None:
        self.directory = directory
        self.record = record
        self.block_file = directory / "block"
        self.block_file.write_text("")
        self.config = errbot_config_file(
            directory,
            server,
            plugin_dir=RECORDER,
            PUBNUB_RECONNECT_MAX_DELAY=1.0,
            DELIVERY_RECORD_FILE=str(record.path),
            DELIVERY_BLOCK_FILE=str(self.block_file),
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, customers: Customers, server: PubNubEmulator) -> int:
        """Start a bot and wait until it relays (its own ready message); returns its pid.

        The ready message is published once the bot listens: a first start does not catch up.
        """
        self.starts += 1
        log = (self.directory / f"bot-{self.starts}.log").open("wb")
        self.process = subprocess.Popen(
            [ERRBOT, "-c", str(self.config)],
            cwd=self.directory,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        ready = f"ready-{self.starts}"
        if self.starts == 1:
            server.wait_for_subscriber("support", group="support", timeout=START_TIMEOUT)
        customers.say("zed", ready)  # a channel of its own: never stuck behind the others
        self.record.wait_for_texts([ready], timeout=START_TIMEOUT)
        return self.process.pid

    def kill(self) -> Killed:
        """``kill -9`` the bot; what it had committed is what the next one starts from."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        cursors, resume_point = self.committed_state()
        return Killed(self.process.pid, cursors, resume_point)

    def terminate(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(30) == 0

    def block(self, *texts: str) -> None:
        self.block_file.write_text("".join(f"{text}\n" for text in texts))

    def committed_state(self) -> tuple[dict[str, int], int]:
        """The channel cursors and the resume point as the bot last committed them, read as
        another process would."""
        (database,) = (self.directory / "data").glob("pubnub-delivery-*.sqlite")
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
            rows = connection.execute("SELECT channel, timetoken FROM pubnub_channel_cursor")
            cursors = {channel: int(timetoken) for channel, timetoken in rows}
            (resume,) = connection.execute(
                "SELECT value FROM pubnub_delivery_state WHERE name = 'resume_point'"
            ).fetchone()
        return cursors, int(resume)

    def wait_committed(self, channel: str, timetoken: int) -> None:
        wait_for(lambda: self.committed_state()[0].get(channel, 0) >= timetoken)

    def cleanup(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def customers(pubnub_server: PubNubEmulator) -> Iterator[Customers]:
    made = Customers(pubnub_server)
    for user in ("ann", "bob", "cid", "zed"):
        made.join(user)
    yield made
    made.stop()


@pytest.fixture
def bot(
    tmp_path: Path, pubnub_server: PubNubEmulator, customers: Customers
) -> Iterator[BotProcess]:
    process = BotProcess(tmp_path, pubnub_server, Recording(tmp_path / "record.jsonl"))
    yield process
    process.cleanup()


def in_order_per_process(lines: list[dict[str, Any]]) -> bool:
    """Within one process, each channel's messages came in timetoken order."""
    last: dict[tuple[int, str], int] = {}
    for line in lines:
        key = (line["pid"], line["channel"])
        if line["timetoken"] <= last.get(key, 0):
            return False
        last[key] = line["timetoken"]
    return True


class Scenario:
    """The relay under test: what customers sent, and the points where the bot is killed."""

    def __init__(self, bot: BotProcess, customers: Customers, server: PubNubEmulator) -> None:
        self.bot = bot
        self.customers = customers
        self.server = server
        self.record = bot.record
        self.sent: list[str] = []
        self.kills: list[Killed] = []

    def say(self, user: str, text: str) -> int:
        self.sent.append(text)
        return self.customers.say(user, text)

    def start(self) -> None:
        self.bot.start(self.customers, self.server)
        self.sent.append(f"ready-{self.bot.starts}")

    def kill_while_a_plugin_handles_a_message(self) -> None:
        """ann's lane is stuck on "ann-stuck" (recorded, never returned), later ann messages
        wait behind it, bob's lane goes on and its acknowledgements are committed."""
        self.bot.block("ann-stuck")
        for n in range(5):
            self.say("ann", f"ann-{n}")
            self.say("bob", f"bob-{n}")
        self.say("ann", "ann-stuck")
        waiting = [f"ann-waiting-{n}" for n in range(5)]
        for text in waiting:
            self.say("ann", text)
        last_bob = self.say("bob", "bob-after-stuck")
        self.record.wait_for_texts(["ann-stuck", "bob-after-stuck"])
        self.bot.wait_committed("bob-support", last_bob)
        self.kills.append(self.bot.kill())
        assert not set(waiting) & set(self.record.texts())

    def write_while_down(self) -> int:
        """A busy channel (two history pages) and a quiet one; returns cid's timetoken."""
        for n in range(150):
            self.say("ann", f"ann-down-{n}")
        return self.say("cid", "cid-down")

    def kill_while_catching_up(self, last_cid: int) -> None:
        """Stuck on the 76th message of the backlog, everything before it committed."""
        self.bot.block("ann-down-75")
        self.start()
        self.record.wait_for_texts(["ann-down-75"])
        self.bot.wait_committed("ann-support", recorded_timetoken(self.record, "ann-down-74"))
        self.bot.wait_committed("cid-support", last_cid)
        self.kills.append(self.bot.kill())

    def kill_in_the_middle_of_a_burst(self) -> None:
        """At a moment nobody chose: acknowledgements may be waiting for their commit."""
        self.bot.block()
        self.start()
        burst = [f"burst-{n}" for n in range(60)]
        for n, text in enumerate(burst):
            self.say("bob" if n % 2 else "cid", text)
            if n == 30:
                self.record.wait_for_texts(burst[:20])
                self.kills.append(self.bot.kill())

    def stop_gracefully_while_messages_arrive(self) -> list[str]:
        self.start()
        late = [f"late-{n}" for n in range(20)]
        for text in late:
            self.say("bob", text)
        self.bot.terminate()
        return late


def test_kill_9_at_several_points_loses_nothing_and_repeats_only_what_was_in_flight(
    bot: BotProcess, customers: Customers, pubnub_server: PubNubEmulator
) -> None:
    scenario = Scenario(bot, customers, pubnub_server)
    scenario.start()
    scenario.kill_while_a_plugin_handles_a_message()
    last_cid = scenario.write_while_down()
    scenario.kill_while_catching_up(last_cid)
    scenario.kill_in_the_middle_of_a_burst()
    late = scenario.stop_gracefully_while_messages_arrive()
    scenario.start()
    bot.record.wait_for_texts(scenario.sent)
    bot.terminate()

    lines = bot.record.lines()
    counts = Counter(line["text"] for line in lines)
    assert set(counts) == set(scenario.sent)  # nothing lost, nothing invented
    # Exactly what was in flight at each kill came once more; nothing else, and nothing
    # around the graceful stop. The two stuck messages were in flight for sure.
    in_flight = [killed.in_flight(lines) for killed in scenario.kills]
    assert "ann-stuck" in in_flight[0]
    assert "ann-down-75" in in_flight[1]
    assert not {*late, "ready-4", "ready-5"} & set().union(*in_flight)
    expected = {text: 1 + sum(text in kill for kill in in_flight) for text in scenario.sent}
    assert counts == expected
    assert in_order_per_process(lines)


def recorded_timetoken(record: Recording, text: str) -> int:
    (line,) = [line for line in record.lines() if line["text"] == text]
    return int(line["timetoken"])
