"""The measurements, one method each, sharing one local PubNub server and one customers' process.

Processes: the server and the customers (publishers, and the customers' devices receiving
replies) each run in their own process; this process hosts what is measured, in turn: a bare
SDK subscriber (the ceiling) or the bot (the relay). Ceiling and relay are measured with the
same publishers, on the same channel group, one after the other (the ceiling both before and
after the relay, so a drift of the machine shows).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import memory, own_path, paced, sdk
from benchmarks.bot import RunningBot, config
from benchmarks.marks import arrivals, mark
from benchmarks.measure import (
    CpuMeter,
    flood_rate,
    in_order,
    latency_summary,
    wait_for_count,
)
from benchmarks.publishers import CustomersProcess
from benchmarks.server import ServerProcess

ANNOUNCED = re.compile(r"#(?P<number>\d+) New conversation with .*?\(customers:(?P<channel>\S+)\)")
AGENT = "alice"


@dataclass(frozen=True)
class Plan:
    """How big each measurement is."""

    customers: tuple[int, ...] = (1, 100, 1000)
    flood_seconds: float = 6.0
    warm_up_seconds: float = 1.0  # the start of each flood, left out of its rate
    publisher_threads: int = 8
    latency_customers: int = 100
    rate: float = 100.0
    latency_seconds: float = 15.0
    catch_up: tuple[tuple[int, int], ...] = ((100, 10), (1000, 10), (1000, 100))
    catch_up_messages: int = 10  # written to each active channel while the bot is down
    stored_conversations: int = 10_000
    open_conversations: int = 1_000
    entries_per_conversation: int = 6
    pipeline_messages: int = 3000
    ceiling_twice: bool = True  # before and after the relay: a drifting machine shows
    memory_of_an_empty_bot: bool = True  # what the conversations add to it
    sustained_rates: tuple[float, ...] = (100, 200, 300, 400, 500, 600, 700, 800, 900, 1000)
    sustained_seconds: float = 5.0
    sustained_p99_ms: float = 100.0
    channel_workers: int | None = None  # PUBNUB_CHANNEL_WORKERS; None: the backend's default
    pipeline_customers: int = 100
    # Agents on IRC (ngircd) at Errbot's default pace: a burst of new customers, one's flood.
    burst_customers: int = 300
    paced_rate: float = 1.0  # IRC_CHANNEL_RATE, seconds between two lines
    burst_announce_timeout: float = 120.0
    one_customer_flood_seconds: float = 2.0
    flood_window_seconds: float = 60.0


class Bench:
    def __init__(self, plan: Plan, work_dir: Path, progress: Callable[[str], None]) -> None:
        self.plan = plan
        self.work = work_dir
        self.say = progress
        self.server = ServerProcess(work_dir / "server.log")
        self.customers: CustomersProcess | None = None
        try:
            self.customers = CustomersProcess(
                self.server.origin, plan.publisher_threads, work_dir / "customers.log"
            )
            self.admin = sdk.client(self.server.origin, "bench-admin")
        except BaseException:
            self.close()
            raise
        self.cpu = CpuMeter(
            {"server": self.server.pid, "customers": self.customers.pid, "receiver": os.getpid()}
        )

    def close(self) -> None:
        if self.customers is not None:
            self.customers.close()
        if getattr(self, "admin", None) is not None:
            sdk.stop(self.admin)
        self.server.close()

    # --- helpers ----------------------------------------------------------------------------

    def _group(self, name: str, size: int) -> list[str]:
        channels = [f"{name}-{n}" for n in range(size)]
        sdk.add_to_group(self.admin, name, channels)
        return channels

    def _start_bot(self, name: str, group: str) -> RunningBot:
        customers = {}
        if self.plan.channel_workers:
            customers["PUBNUB_CHANNEL_WORKERS"] = self.plan.channel_workers
        return RunningBot(config(self.work / f"bot-{name}", self.server.origin, group, customers))

    def _open_conversations(self, bot: RunningBot, channels: list[str]) -> dict[str, int]:
        """Each customer writes once (opening their conversation); returns their numbers."""
        self.customers.call("each", channels=channels, tag="hello")
        if not wait_for_count(lambda: bot.agent_room.count("hello"), len(channels)):
            raise RuntimeError("the first messages of the customers did not all reach agents")
        numbers = {}
        for _, _, text in bot.agent_room.take():
            found = ANNOUNCED.search(text)
            if found:
                numbers[found["channel"]] = int(found["number"])
        return numbers

    def _flood(self, channels: list[str], tag: str) -> Callable[[], dict[str, Any]]:
        return lambda: self.customers.call(
            "flood", channels=channels, seconds=self.plan.flood_seconds, tag=tag
        )

    # --- agents on a paced network ----------------------------------------------------------

    def paced(self) -> dict[str, Any]:
        """A burst of new customers and one customer's flood, agents on IRC (benchmarks.paced)."""
        plan = self.plan
        self.say(f"{plan.burst_customers} new customers at once, agents on IRC")
        burst = paced.burst(
            self.work,
            self.server.origin,
            self.admin,
            self.customers,
            count=plan.burst_customers,
            rate=plan.paced_rate,
            announce_timeout=plan.burst_announce_timeout,
        )
        self.say("one customer's flood, agents on IRC")
        flood = paced.flood(
            self.work,
            self.server.origin,
            self.admin,
            self.customers,
            seconds=plan.one_customer_flood_seconds,
            rate=plan.paced_rate,
            window=plan.flood_window_seconds,
        )
        return {"burst": burst, "flood": flood}

    # --- the bot's own cost ------------------------------------------------------------------

    def pipeline(self, messages: int | None = None, profile: bool = False) -> dict[str, Any]:
        """CPU per customer message on the bot's own path, one thread (benchmarks.own_path)."""
        count = messages or self.plan.pipeline_messages
        self.say(f"the bot's own path: {count} messages, one thread")
        group = "pipe"
        channels = self._group(group, self.plan.pipeline_customers)
        bot = self._start_bot(group, group)
        try:
            self._open_conversations(bot, channels)
            return own_path.measure(
                bot, channels, group, count, writers=self.plan.publisher_threads, profile=profile
            )
        finally:
            bot.stop()

    # --- throughput -------------------------------------------------------------------------

    def ceiling(self, group: str, channels: list[str], tag: str) -> dict[str, Any]:
        """What a bare official-SDK subscriber of the group receives."""
        client = sdk.client(self.server.origin, "bare-subscriber")
        recorder = sdk.Recorder()
        try:
            sdk.subscribe(client, recorder, groups=[group])
            return flood_rate(
                self._flood(channels, tag), recorder, tag, self.cpu, self.plan.warm_up_seconds
            )
        finally:
            sdk.stop(client)

    def throughput(self, customers: int, then: Callable[..., Any] | None = None) -> dict[str, Any]:
        """Ceiling, relay, ceiling again, for ``customers`` customers; ``then(bot, channels,
        numbers)`` runs more measurements on the same bot before it stops (its dict is added
        to the result)."""
        group = f"tp{customers}"
        channels = self._group(group, customers)
        self.say(f"{customers} customer(s): ceiling")
        before = self.ceiling(group, channels, "ceila")
        self.say(f"{customers} customer(s): relay")
        bot = self._start_bot(group, group)
        extra: dict[str, Any] = {}
        try:
            numbers = self._open_conversations(bot, channels)
            relay = flood_rate(
                self._flood(channels, "relay"),
                bot.agent_room,
                "relay",
                self.cpu,
                self.plan.warm_up_seconds,
            )
            if then is not None:
                extra = then(bot, channels, numbers)
        finally:
            bot.stop()
        after = None
        ceiling = before["msgs_per_s"]
        if self.plan.ceiling_twice:
            self.say(f"{customers} customer(s): ceiling again")
            after = self.ceiling(group, channels, "ceilb")
            ceiling = (before["msgs_per_s"] + after["msgs_per_s"]) / 2
        return {
            "customers": customers,
            "ceiling_msgs_per_s": round(ceiling, 1),
            "relay_msgs_per_s": relay["msgs_per_s"],
            "ratio": round(relay["msgs_per_s"] / ceiling, 3) if ceiling else None,
            "relay": relay,
            "ceiling_before": before,
            "ceiling_after": after,
            **extra,
        }

    # --- latency ----------------------------------------------------------------------------

    def steady(
        self, bot: RunningBot, channels: list[str], numbers: dict[str, int]
    ) -> dict[str, Any]:
        """The measurements at steady rates, on the bot that relayed the flood."""
        return {
            "latency": self.latency(bot, channels, numbers),
            "sustained": self.sustained(bot, channels),
        }

    def sustained(self, bot: RunningBot, channels: list[str]) -> dict[str, Any]:
        """The highest steady rate the bot relays with p99 under the target and none lost.

        A flood says how fast the bot goes while overwhelmed; this says what it keeps up
        with, which is what a support team sizes for. Rates rise step by step until one
        fails (or the last is reached).
        """
        steps = []
        best = 0.0
        for rate in self.plan.sustained_rates:
            count = max(1, round(rate * self.plan.sustained_seconds))
            self.say(f"sustained: {rate:g} msg/s")
            paced = self.customers.call(
                "paced", channels=channels, rate=rate, count=count, tag="steady"
            )
            wait_for_count(lambda: bot.agent_room.count("steady"), paced["published"])
            found = arrivals(bot.agent_room.take(), "steady")
            figures = latency_summary(found)
            kept_up = (
                len(found) == paced["published"]
                and figures.get("p99_ms", float("inf")) < self.plan.sustained_p99_ms
                and paced["most_late_ms"] < self.plan.sustained_p99_ms
            )
            steps.append({"rate_per_s": rate, "lost": paced["published"] - len(found), **figures})
            if not kept_up:
                break
            best = rate
        return {
            "msgs_per_s": best,
            "p99_limit_ms": self.plan.sustained_p99_ms,
            "steps": steps,
        }

    def latency(
        self, bot: RunningBot, channels: list[str], numbers: dict[str, int]
    ) -> dict[str, Any]:
        """Both directions at a steady rate, on a bot that already relayed a flood."""
        count = max(1, round(self.plan.rate * self.plan.latency_seconds))
        self.say(f"latency: customer -> agent room, {self.plan.rate:g} msg/s")
        paced = self.customers.call(
            "paced", channels=channels, rate=self.plan.rate, count=count, tag="lat"
        )
        wait_for_count(lambda: bot.agent_room.count("lat"), paced["published"])
        inbound = arrivals(bot.agent_room.take(), "lat")
        self.say(f"latency: !reply -> customer, {self.plan.rate:g} msg/s")
        outbound, late_ms = self._replies(bot, channels, numbers, count)
        return {
            "customer_to_agent": {
                "rate_per_s": self.plan.rate,
                "published": paced["published"],
                "lost": paced["published"] - len(inbound),
                "in_order": in_order(inbound),
                "most_late_publish_ms": paced["most_late_ms"],
                **latency_summary(inbound),
            },
            "reply_to_customer": {
                "rate_per_s": self.plan.rate,
                "sent": count,
                "lost": count - len(outbound),
                "most_late_command_ms": late_ms,
                **latency_summary(outbound),
            },
        }

    def _replies(
        self, bot: RunningBot, channels: list[str], numbers: dict[str, int], count: int
    ) -> tuple[list[Any], float]:
        """Agents answer with ``!reply`` at a steady rate; customers' devices stamp arrivals."""
        self.customers.call("listen", groups=[bot_group(bot)])
        try:
            # Each first reply claims its conversation: done before measuring.
            for n, channel in enumerate(channels):
                bot.say(AGENT, f"!reply {numbers[channel]} {mark('claim', 0, n)}")
            wait_for_count(lambda: self.customers.call("heard_count", tag="claim"), len(channels))
            self.customers.call("heard")
            late = 0.0
            start = time.monotonic() + 0.05
            for n in range(count):
                wait = start + n / self.plan.rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                else:
                    late = max(late, -wait)
                channel = channels[n % len(channels)]
                bot.say(AGENT, f"!reply {numbers[channel]} {mark('reply', 0, n)}")
            wait_for_count(lambda: self.customers.call("heard_count", tag="reply"), count)
            raw = [tuple(item) for item in self.customers.call("heard")]
            return arrivals(raw, "reply"), round(late * 1000, 1)
        finally:
            self.customers.call("unlisten")

    # --- catch-up ---------------------------------------------------------------------------

    def catch_up(self, channels: int, active: int) -> dict[str, Any]:
        """Time to relay what was written to ``active`` of ``channels`` channels while the bot
        was stopped, from the moment it is started again."""
        group = f"cu{channels}x{active}"
        names = self._group(group, channels)
        self.say(f"catch-up: {active} active of {channels} channels")
        bot = self._start_bot(group, group)
        try:  # a first run leaves the cursor and resume point a restart catches up from
            backend = bot.bot.hosted_backends()["customers"]
            wait_for_count(lambda: int(backend.tracker.resume_timetoken() is not None), 1)
        finally:
            bot.stop()
        written = self.customers.call(
            "each", channels=names[:active], tag="down", per_channel=self.plan.catch_up_messages
        )
        started = time.time()
        bot = self._start_bot(group, group)
        try:
            complete = wait_for_count(lambda: bot.agent_room.count("down"), written["published"])
            found = arrivals(bot.agent_room.take(), "down")
        finally:
            bot.stop()
        last = max((a.at for a in found), default=started)
        return {
            "channels": channels,
            "active_channels": active,
            "messages": written["published"],
            "relayed": len(found),
            "complete": complete,
            "in_order": in_order(found),
            "seconds": round(last - started, 2),
            "start_seconds": round(bot.active_at - started, 2),
            "after_start_seconds": round(last - bot.active_at, 2),
        }

    # --- memory -----------------------------------------------------------------------------

    def memory(self) -> dict[str, Any]:
        plan = self.plan
        self.say(
            f"memory: {plan.stored_conversations} stored conversations, "
            f"{plan.open_conversations} open"
        )
        group = "mem"
        channels = self._group(group, plan.open_conversations)
        empty = None
        if plan.memory_of_an_empty_bot:
            empty = memory.measure(
                self.work / "bot-mem-empty", self.server.origin, "mem-empty", self.customers, []
            )
        data_dir = self.work / "bot-mem"
        memory.fill(
            data_dir,
            [f"customers:{c}" for c in channels],
            plan.stored_conversations,
            plan.entries_per_conversation,
        )
        full = memory.measure(data_dir, self.server.origin, group, self.customers, channels)
        return {
            "stored_conversations": plan.stored_conversations,
            "open_conversations": plan.open_conversations,
            "entries_per_conversation": plan.entries_per_conversation,
            "rss_mb_empty_bot": empty["rss_mb_active"] if empty else None,
            "rss_mb_started": full["rss_mb_active"],
            "rss_mb_after_each_open_customer_wrote": full["rss_mb_relayed"],
            "peak_rss_mb": full["peak_rss_mb"],
            "relayed": full["relayed"],
        }


def bot_group(bot: RunningBot) -> str:
    backend = bot.bot.hosted_backends()["customers"]
    return backend.settings.channel_groups[0]
