"""Customer intake spread over several bot processes, and a ``kill -9`` of one of them.

Three real ``errbot`` processes on the PubNub backend share one PostgreSQL delivery database
(a real server) with ``PUBNUB_SHARE_GROUPS = True``: each subscribes only to the channel groups
the instances' assignment gives it. Customers publish with the official SDK to the local PubNub
server; every process has the recorder plugin, which appends each message it receives (with its
pid) to one file before returning. The process holding the most groups is killed in the middle
of a stream of customer messages: the others take its groups over and catch them up from the
shared cursors, so every message reaches a plugin, and only those the killed process had
received but not durably acknowledged may reach one twice. Then another is stopped gracefully
in the middle of a second stream: the last one takes everything over, nothing lost or doubled.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from errbot_instances.postgres import DEFAULT_BOUND, conninfo
from errbot_pubnub.companion import status_report
from errbot_pubnub.emulator import PubNubEmulator
from tests.botrunner import running_bot, wait_for
from tests.delivery_fixtures import RECORDER, Customers, Recording, bot_config
from tests.pubnub_fixtures import errbot_config_file

psycopg = pytest.importorskip("psycopg", reason="the postgresql extra (psycopg) is not installed")

ERRBOT = str(Path(sys.executable).parent / "errbot")
START_TIMEOUT = 60.0
GROUPS = ("g1", "g2", "g3", "g4")
CHANNELS = {group: [f"{group}-ann", f"{group}-bob"] for group in GROUPS}
STREAM = 160  # customer messages, spread over every channel
KILL_AFTER = 50  # of them published when the busiest process is killed


class SharingBots:
    """Three ``errbot`` processes sharing the channel groups through PostgreSQL."""

    def __init__(self, folder: Path, server: PubNubEmulator, database: str) -> None:
        self.folder = folder
        self.database = database
        self.record = Recording(folder / "record.jsonl")
        self.processes: list[subprocess.Popen[bytes]] = []
        for number in range(3):
            directory = folder / f"bot-{number}"
            directory.mkdir()
            config = errbot_config_file(
                directory,
                server,
                plugin_dir=RECORDER,
                PUBNUB_CHANNEL_GROUP=list(GROUPS),
                PUBNUB_DELIVERY_DB_URL=database,
                PUBNUB_SHARE_GROUPS=True,
                PUBNUB_RECONNECT_MAX_DELAY=1.0,
                DELIVERY_RECORD_FILE=str(self.record.path),
            )
            log = (directory / "bot.log").open("wb")
            self.processes.append(
                subprocess.Popen(
                    [ERRBOT, "-c", str(config)],
                    cwd=directory,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )

    def query(self, statement: str) -> list[tuple]:
        with psycopg.connect(conninfo(self.database), autocommit=True) as connection:
            try:
                return connection.execute(statement).fetchall()
            except psycopg.errors.UndefinedTable:
                return []

    def holders(self) -> dict[str, int]:
        """Each channel group settled on one instance (none handing it over): its pid."""
        rows = self.query(
            "SELECT g.name, i.pid FROM instance_groups g JOIN instances i ON i.id = g.holder"
            " WHERE g.holder = g.target"
        )
        return {name: pid for name, pid in rows}

    def cursors(self) -> dict[str, int]:
        rows = self.query("SELECT channel, timetoken FROM pubnub_channel_cursor")
        return {channel: int(timetoken) for channel, timetoken in rows}

    def pids(self) -> set[int]:
        return {process.pid for process in self.processes}

    def live_pids(self) -> set[int]:
        return {process.pid for process in self.processes if process.poll() is None}

    def kill(self, pid: int) -> None:
        (process,) = (p for p in self.processes if p.pid == pid)
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def terminate(self, pid: int) -> None:
        (process,) = (p for p in self.processes if p.pid == pid)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, self.logs()

    def wait_for(self, condition: Callable[[], object], timeout: float) -> None:
        """``wait_for``, failing with the end of every bot's log."""
        try:
            wait_for(condition, timeout=timeout)
        except AssertionError as failure:
            raise AssertionError(f"{failure}\n{self.logs()}") from None

    def logs(self) -> str:
        return "\n".join(
            f"--- bot-{n}\n" + (self.folder / f"bot-{n}" / "bot.log").read_text()[-2000:]
            for n in range(3)
        )

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def each_group_subscribed_once(server: PubNubEmulator, groups: tuple[str, ...]) -> bool:
    """Whether the waiting long-polls subscribe to each group exactly once."""
    counts = Counter(g for poll in server.subscribers() for g in poll["groups"])
    return counts == Counter(groups)


def settled(bots: SharingBots, pids: set[int]) -> bool:
    """Whether exactly ``pids`` take groups in, and every group is held by one of them."""
    taking = {pid for (pid,) in bots.query("SELECT pid FROM instances WHERE intake")}
    holders = bots.holders()
    return taking == pids and set(holders) == set(GROUPS) and set(holders.values()) <= pids


@pytest.fixture
def customers(pubnub_server: PubNubEmulator) -> Iterator[Customers]:
    made = Customers(pubnub_server)
    for group, channels in CHANNELS.items():
        for channel in channels:
            made.join(channel.split("-")[1], group=group, channel=channel)
    yield made
    made.stop()


@pytest.fixture
def bots(
    tmp_path: Path, pubnub_server: PubNubEmulator, postgres_database: str
) -> Iterator[SharingBots]:
    started = SharingBots(tmp_path, pubnub_server, postgres_database)
    yield started
    started.stop()


def test_three_processes_share_the_groups_and_take_over_a_killed_ones_without_loss(
    bots: SharingBots, customers: Customers, pubnub_server: PubNubEmulator
) -> None:
    try:
        wait_for(lambda: settled(bots, bots.pids()), timeout=START_TIMEOUT)
        wait_for(lambda: each_group_subscribed_once(pubnub_server, GROUPS), timeout=START_TIMEOUT)
    except AssertionError:
        raise AssertionError(f"the groups never settled:\n{bots.logs()}") from None

    # Each group is taken in by exactly the process the database says holds it.
    ready = {}
    for group, channels in CHANNELS.items():
        for channel in channels:
            text = f"ready-{channel}"
            customers.say(channel.split("-")[1], text, channel=channel)
            ready[text] = group
    bots.record.wait_for_texts(list(ready), timeout=START_TIMEOUT)
    holders = bots.holders()
    for line in bots.record.lines():
        assert line["pid"] == holders[ready[line["text"]]], line
    assert Counter(bots.record.texts()) == Counter(dict.fromkeys(ready, 1))

    # A stream of customer messages; the busiest process is killed in its middle.
    victim = busiest(bots.holders())
    survivors = bots.live_pids() - {victim}
    stream = Stream(customers, "msg", STREAM)
    stream.wait_published(KILL_AFTER)
    bots.kill(victim)
    committed = bots.cursors()  # what the killed process acknowledged durably

    # The survivors take its groups within the takeover bound, and subscribe to them.
    bots.wait_for(lambda: settled(bots, survivors), timeout=DEFAULT_BOUND)
    bots.wait_for(lambda: each_group_subscribed_once(pubnub_server, GROUPS), START_TIMEOUT)
    stream.wait_published(STREAM)

    # Every message arrived; only what the killed process had not acknowledged came twice.
    bots.record.wait_for_texts(stream.texts, timeout=START_TIMEOUT)
    lines = bots.record.lines()
    in_flight = {
        line["text"]
        for line in lines
        if line["pid"] == victim and line["timetoken"] > committed.get(line["channel"], 0)
    }
    counts = Counter(text for text in bots.record.texts() if text in stream.texts)
    assert counts == {text: 1 + (text in in_flight) for text in stream.texts}
    stream.assert_in_order(lines)

    # A graceful stop in the middle of another stream hands its groups over: nothing lost,
    # nothing doubled.
    leaving = busiest(bots.holders())
    last = survivors - {leaving}
    second = Stream(customers, "more", STREAM // 2)
    second.wait_published(KILL_AFTER // 2)
    bots.terminate(leaving)
    bots.wait_for(lambda: settled(bots, last), timeout=DEFAULT_BOUND)
    second.wait_published(STREAM // 2)
    bots.record.wait_for_texts(second.texts, timeout=START_TIMEOUT)
    lines = bots.record.lines()
    assert Counter(t for t in bots.record.texts() if t in second.texts) == Counter(second.texts)
    second.assert_in_order(lines)


def busiest(holders: dict[str, int]) -> int:
    """The pid of the process holding the most groups."""
    return Counter(holders.values()).most_common(1)[0][0]


class Stream:
    """Customers writing ``count`` messages over every channel in turn, on a thread."""

    def __init__(self, customers: Customers, label: str, count: int) -> None:
        self.channels = [channel for group in GROUPS for channel in CHANNELS[group]]
        self.texts = [f"{label}-{n:03d}" for n in range(count)]
        self._customers = customers
        self._published = threading.Semaphore(0)
        self._waited = 0
        self._thread = threading.Thread(target=self._write, name=label, daemon=True)
        self._thread.start()

    def channel_of(self, n: int) -> str:
        return self.channels[n % len(self.channels)]

    def _write(self) -> None:
        for n, text in enumerate(self.texts):
            channel = self.channel_of(n)
            self._customers.say(channel.split("-")[1], text, channel=channel)
            self._published.release()
            time.sleep(0.02)

    def wait_published(self, count: int) -> None:
        while self._waited < count:
            assert self._published.acquire(timeout=30), "the customers stopped writing"
            self._waited += 1

    def assert_in_order(self, lines: list[dict]) -> None:
        """Each channel's messages reached the plugins in order, the first time each came."""
        for channel in self.channels:
            texts = [line["text"] for line in lines if line["channel"] == channel]
            firsts = [t for t in dict.fromkeys(texts) if t in self.texts]
            written = [t for n, t in enumerate(self.texts) if self.channel_of(n) == channel]
            assert firsts == written, channel


def test_a_group_given_up_is_let_go_of_before_set_groups_returns_and_a_followed_group_is_shared(
    tmp_path: Path,
    customers: Customers,
    pubnub_server: PubNubEmulator,
    postgres_database: str,
) -> None:
    """One bot in this process: it holds every group; a group taken from it is no longer
    heard once ``set_groups`` returns; a group it is told to follow joins the assignment."""
    record = Recording(tmp_path / "record.jsonl")
    config = bot_config(
        tmp_path,
        pubnub_server,
        record.path,
        PUBNUB_CHANNEL_GROUP=["g1", "g2"],
        PUBNUB_DELIVERY_DB_URL=postgres_database,
        PUBNUB_SHARE_GROUPS=True,
    )
    with running_bot("PubNub", config) as running:
        bot = running.bot
        wait_for(lambda: each_group_subscribed_once(pubnub_server, ("g1", "g2")))
        customers.say("ann", "before", channel="g2-ann")
        record.wait_for_texts(["before"])

        bot.subscription.set_groups(frozenset(), frozenset({"g2"}))
        customers.say("ann", "after", channel="g2-ann")
        customers.say("ann", "marker", channel="g1-ann")
        record.wait_for_texts(["marker"])
        assert "after" not in record.texts()
        assert bot.subscription.groups() == ["g1"]
        assert "Taken in by this instance (PUBNUB_SHARE_GROUPS): g1\n" in status_report(bot)

        bot.follow_channel_group("g3")
        wait_for(lambda: each_group_subscribed_once(pubnub_server, ("g1", "g3")))
        customers.say("ann", "in g3", channel="g3-ann")
        record.wait_for_texts(["in g3"])
        with psycopg.connect(conninfo(postgres_database)) as connection:
            names = connection.execute("SELECT name FROM instance_groups WHERE holder IS NOT NULL")
            assert {name for (name,) in names} == {"g1", "g2", "g3"}
    with psycopg.connect(conninfo(postgres_database)) as connection:  # handed over at the stop
        held = connection.execute("SELECT name FROM instance_groups WHERE holder IS NOT NULL")
        assert held.fetchall() == []


def test_one_bot_sharing_twelve_groups_subscribes_to_ten_and_may_follow_more(
    tmp_path: Path,
    customers: Customers,
    pubnub_server: PubNubEmulator,
    postgres_database: str,
) -> None:
    """With PUBNUB_SHARE_GROUPS the configuration may name more groups than one subscriber
    holds: one bot takes in 10 of them (PubNub's limit), the others wait for another
    instance, and a group the customer session service makes is followed all the same."""
    record = Recording(tmp_path / "record.jsonl")
    twelve = [f"g{n}" for n in range(1, 13)]
    config = bot_config(
        tmp_path,
        pubnub_server,
        record.path,
        PUBNUB_CHANNEL_GROUP=twelve,
        PUBNUB_DELIVERY_DB_URL=postgres_database,
        PUBNUB_SHARE_GROUPS=True,
    )
    with running_bot("PubNub", config) as running:
        bot = running.bot
        wait_for(lambda: each_group_subscribed_once(pubnub_server, tuple(twelve[:10])))
        customers.join("ann", group="g10", channel="g10-ann")
        customers.say("ann", "in g10", channel="g10-ann")
        record.wait_for_texts(["in g10"])
        bot.follow_channel_group("g13")
        assert bot.settings.channel_groups == (*twelve, "g13")

        def unheld() -> list[str]:
            with psycopg.connect(conninfo(postgres_database)) as connection:
                rows = connection.execute("SELECT name, holder FROM instance_groups").fetchall()
            return sorted(name for name, holder in rows if holder is None)

        wait_for(lambda: unheld() == ["g11", "g12", "g13"])  # shared out, to nobody yet
        assert each_group_subscribed_once(pubnub_server, tuple(twelve[:10]))
