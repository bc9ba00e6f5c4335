"""Several instances of the bot on one PostgreSQL database: intake and relay throughput with
1, 2, 4... instances against a bare SDK subscriber's ceiling, the takeover after ``kill -9``
(:mod:`benchmarks.takeover`), and 100,000 customer channels shared out
(:mod:`benchmarks.simulation`).

A real PostgreSQL server is started as the tests start it (``tests/postgres_server.py``); each
measurement has a database of its own. The bots are real processes of one configuration
(:mod:`benchmarks.instance_bot`): customers on the local PubNub server, agents on Errbot's
``Test`` backend, the Support store and the delivery state on the shared database, the channel
groups shared out (``PUBNUB_SHARE_GROUPS``). Intake is what all instances record in the shared
store; relay is what the active one posts to the agent room.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from benchmarks import sdk
from benchmarks.instance_pool import AgentRooms, InstanceBots, wait_until
from benchmarks.measure import CpuMeter, flood_rate, wait_for_count
from benchmarks.publishers import CustomersProcess
from benchmarks.server import ServerProcess
from tests.postgres_server import PostgresServer


@dataclass(frozen=True)
class InstancesPlan:
    """How big each measurement is (small enough for a few minutes on two cores)."""

    instances: tuple[int, ...] = (1, 2, 4)
    groups: int = 8  # channel groups shared out (a subscriber holds at most 10)
    customers: int = 200  # customer channels, spread over the groups
    flood_seconds: float = 6.0
    warm_up_seconds: float = 1.0
    takeover_seconds: float = 10.0  # INSTANCES_TAKEOVER_SECONDS of the bots
    takeover_instances: int = 3  # one active, one left to take an intake-only one's groups
    takeover_rate: float = 50.0  # customer messages a second while instances are killed
    takeover_kill_after: float = 3.0  # seconds into the stream
    takeover_stream_seconds: float = 16.0
    simulation_channels: int = 100_000
    simulation_group_size: int = 2_000
    simulation_instances: int = 5
    simulation_sample: int = 250  # channels that each get one message


class Layout:
    """Channel groups and their customers' channels: ``<prefix>g<k>`` holds ``<prefix>g<k>-<n>``."""

    def __init__(self, prefix: str, groups: int, channels: int) -> None:
        self.groups = [f"{prefix}g{k}" for k in range(groups)]
        per_group = -(-channels // groups)
        self.channels = {
            group: [f"{group}-{n}" for n in range(min(per_group, channels - k * per_group))]
            for k, group in enumerate(self.groups)
        }

    def all_channels(self) -> list[str]:
        """Every channel, the groups' taking turns (so any slice touches every group)."""
        lists = list(self.channels.values())
        longest = max(len(c) for c in lists)
        return [c[n] for n in range(longest) for c in lists if n < len(c)]

    @staticmethod
    def group_of(channel: str) -> str:
        return channel.rsplit("-", 1)[0]


class StoreCounter:
    """Samples how many customer messages of ``tag`` the shared store holds, on a thread: the
    instances' intake, read from the database as another process would."""

    def __init__(self, database: str, tag: str, interval: float = 0.1) -> None:
        import psycopg

        from errbot_instances.postgres import conninfo

        self._connection = psycopg.connect(conninfo(database), autocommit=True)
        self._pattern = f"{tag} %"
        self._interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="store-counter", daemon=True)

    def count(self) -> int:
        row = self._connection.execute(
            "SELECT count(*) FROM support_entries WHERE body LIKE %s", (self._pattern,)
        ).fetchone()
        return int(row[0])

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), self.count()))
            self._stop.wait(self._interval)

    def __enter__(self) -> StoreCounter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._connection.close()

    def last(self) -> int:
        """The count at the last sample."""
        return self.samples[-1][1] if self.samples else 0

    def rate(self, start: float, end: float) -> float:
        """Messages recorded a second between the samples nearest inside [start, end]."""
        inside = [(t, c) for t, c in self.samples if start <= t <= end]
        if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
            return 0.0
        (t1, c1), (t2, c2) = inside[0], inside[-1]
        return round((c2 - c1) / (t2 - t1), 1)

    def reached(self, count: int) -> float | None:
        """When the store first held ``count`` of them, if it did."""
        return next((t for t, c in self.samples if c >= count), None)


class TreeCpu:
    """CPU seconds used by a process and its children (PostgreSQL: the postmaster and a
    backend per session) between :meth:`start` and :meth:`stop`, so that the database's share
    is told apart from everything else on the machine."""

    def __init__(self, pid: int) -> None:
        self._root = psutil.Process(pid)
        self._start: dict[int, float] = {}
        self.used = 0.0

    def _now(self) -> dict[int, float]:
        used = {}
        for process in [self._root, *self._root.children(recursive=True)]:
            try:
                times = process.cpu_times()
            except psutil.Error:  # ended meanwhile
                continue
            used[process.pid] = times.user + times.system
        return used

    def start(self) -> None:
        self._start = self._now()

    def stop(self) -> None:
        self.used = sum(t - self._start.get(pid, 0.0) for pid, t in self._now().items())


def each_group_subscribed_once(server: ServerProcess, groups: list[str]) -> bool:
    """Whether the waiting long-polls on the server subscribe to each group exactly once."""
    counts = Counter(g for poll in server.control.subscribers() for g in poll["groups"])
    return all(counts[g] == 1 for g in groups) and sum(counts.values()) == len(groups)


class InstancesBench:
    """The instances measurements, on the server and customers of a :class:`Bench`."""

    def __init__(
        self,
        plan: InstancesPlan,
        work: Path,
        say: Callable[[str], None],
        *,
        server: ServerProcess,
        customers: CustomersProcess,
        admin: Any,
    ) -> None:
        self.plan = plan
        self.work = work
        self.say = say
        self.server = server
        self.customers = customers
        self.admin = admin
        self.postgres = PostgresServer()
        self._databases = 0

    def close(self) -> None:
        self.postgres.stop()

    # ------------------------------------------------------------------ shared steps

    def layout(self, prefix: str, groups: int, channels: int) -> Layout:
        layout = Layout(prefix, groups, channels)
        for group, names in layout.channels.items():
            sdk.add_to_group(self.admin, group, names)
        return layout

    def bots(self, name: str, layout: Layout) -> InstanceBots:
        self._databases += 1
        database = self.postgres.new_database(f"bench_{self._databases}_{name}")
        folder = self.work / f"instances-{name}"
        folder.mkdir(parents=True, exist_ok=True)
        return InstanceBots(
            folder,
            origin=self.server.origin,
            database=database,
            groups=layout.groups,
            takeover_seconds=self.plan.takeover_seconds,
            rooms=AgentRooms(),
        )

    def start_settled(self, bots: InstanceBots, numbers: list[int], timeout: float) -> float:
        """Start ``numbers`` and wait until they share the groups out, one active, each group
        subscribed once; the seconds it took."""
        started = time.time()
        bots.start(numbers)
        wait_until(
            lambda: (
                bots.settled(numbers)
                and bots.active() is not None
                and each_group_subscribed_once(self.server, bots.groups)
            ),
            timeout,
            interval=0.2,
        )
        return round(time.time() - started, 2)

    def open_conversations(self, bots: InstanceBots, channels: list[str]) -> None:
        """Each customer writes once (opening their conversation), relayed before measuring."""
        self.customers.call("each", channels=channels, tag="hello")
        if not wait_for_count(lambda: bots.rooms.count("hello"), len(channels)):
            raise RuntimeError("the customers' first messages did not all reach the agents")

    # ------------------------------------------------------------------ throughput

    def ceiling(self) -> dict[str, Any]:
        """What a bare SDK subscriber of the same groups receives, from the same publishers."""
        plan = self.plan
        layout = self.layout("ceil", plan.groups, plan.customers)
        self.say("instances: the bare SDK subscriber's ceiling")
        client = sdk.client(self.server.origin, "bare-subscriber")
        recorder = sdk.Recorder()
        cpu = CpuMeter(
            {"server": self.server.pid, "customers": self.customers.pid, "receiver": os.getpid()}
        )
        try:
            sdk.subscribe(client, recorder, groups=layout.groups)
            return flood_rate(
                lambda: self.customers.call(
                    "flood", channels=layout.all_channels(), seconds=plan.flood_seconds, tag="ceil"
                ),
                recorder,
                "ceil",
                cpu,
                plan.warm_up_seconds,
            )
        finally:
            sdk.stop(client)

    def throughput(self, count: int) -> dict[str, Any]:
        """``count`` instances under a flood: what they record (intake) and relay."""
        plan = self.plan
        layout = self.layout(f"n{count}", plan.groups, plan.customers)
        channels = layout.all_channels()
        bots = self.bots(f"n{count}", layout)
        numbers = list(range(1, count + 1))
        try:
            self.say(f"instances: {count} instance(s) starting")
            settle = self.start_settled(bots, numbers, timeout=60 + 30 * count)
            self.open_conversations(bots, channels)
            bots.rooms.take()
            active = bots.active()
            pids = {"server": self.server.pid, "customers": self.customers.pid}
            pids.update({f"instance-{n}": bots.pid(n) for n in numbers if n != active})
            pids["receiver"] = bots.pid(active)  # the active one: it relays
            cpu = CpuMeter(pids)
            flood: dict[str, Any] = {}

            def call_flood() -> dict[str, Any]:
                flood.update(
                    self.customers.call(
                        "flood", channels=channels, seconds=plan.flood_seconds, tag="flood"
                    )
                )
                return flood

            self.say(f"instances: {count} instance(s) under a flood")
            database_cpu = TreeCpu(self.postgres.pid())

            def measured_flood() -> dict[str, Any]:
                database_cpu.start()
                try:
                    return call_flood()
                finally:
                    database_cpu.stop()

            with StoreCounter(bots.database, "flood") as store:
                relay = flood_rate(measured_flood, bots.rooms, "flood", cpu, plan.warm_up_seconds)
                wait_for_count(store.last, flood["published"])
                recorded = store.last()
            window = (flood["started"] + plan.warm_up_seconds, flood["ended"])
            all_recorded = store.reached(flood["published"])
            seconds = flood["ended"] - flood["started"]
            postgres = round(database_cpu.used / seconds * 100)
            # PostgreSQL is among the others of the machine for the CPU meter: told apart.
            relay["cpu_percent"]["postgres"] = postgres
            relay["cpu_percent"]["others"] = max(0, relay["cpu_percent"]["others"] - postgres)
            return {
                "instances": count,
                "groups": plan.groups,
                "customers": len(channels),
                "settle_s": settle,
                "intake_msgs_per_s": store.rate(*window),
                "relay_msgs_per_s": relay["msgs_per_s"],
                "published": flood["published"],
                "recorded": recorded,
                "all_recorded_s": (
                    round(all_recorded - flood["started"], 2) if all_recorded else None
                ),
                "relay": relay,
            }
        finally:
            bots.close()


def run(
    plan: InstancesPlan,
    work: Path,
    say: Callable[[str], None],
    *,
    server: ServerProcess,
    customers: CustomersProcess,
    admin: Any,
) -> dict[str, Any]:
    """Every instances measurement of ``plan``; the report's ``instances`` part."""
    from benchmarks import simulation, takeover

    bench = InstancesBench(plan, work, say, server=server, customers=customers, admin=admin)
    try:
        before = bench.ceiling()
        rows = [bench.throughput(count) for count in plan.instances]
        after = bench.ceiling()
        moves = takeover.measure(bench) if plan.takeover_instances else None
        shared = simulation.measure(bench) if plan.simulation_channels else None
    finally:
        bench.close()
    ceiling = round((before["msgs_per_s"] + after["msgs_per_s"]) / 2, 1)
    return {
        "plan": {name: getattr(plan, name) for name in plan.__dataclass_fields__},
        "ceiling_msgs_per_s": ceiling,
        "ceiling_before": before,
        "ceiling_after": after,
        "throughput": rows,
        "takeover": moves,
        "simulation": shared,
    }
