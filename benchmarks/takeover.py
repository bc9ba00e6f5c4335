"""Takeover after ``kill -9``, in the middle of a steady stream of customer messages.

First the active instance is killed: the time until another instance is active in the
database and until it relays again (a message reaches the agent room from it). Then an
instance that only takes customers in: the time until its channel groups are held by the
others, and until what was written to them meanwhile has reached the agents (caught up from
the cursors in the shared database). Each stream's messages are then counted: none may be
lost; a message may reach the agents twice only if the killed active instance had posted it.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import TYPE_CHECKING, Any, NamedTuple

from benchmarks.instance_pool import InstanceBots, wait_until
from benchmarks.marks import MARK, Raw
from benchmarks.measure import wait_for_count
from benchmarks.scenarios import ANNOUNCED

if TYPE_CHECKING:
    from benchmarks.instances import InstancesBench, Layout


class Stream:
    """Customers writing at a steady rate on a thread (``paced`` in the customers' process)."""

    def __init__(self, bench: InstancesBench, channels: list[str], tag: str) -> None:
        plan = bench.plan
        count = round(plan.takeover_rate * plan.takeover_stream_seconds)
        self.tag = tag
        self.result: dict[str, Any] = {}
        self._thread = threading.Thread(
            target=lambda: self.result.update(
                bench.customers.call(
                    "paced", channels=channels, rate=plan.takeover_rate, count=count, tag=tag
                )
            ),
            name=f"stream-{tag}",
            daemon=True,
        )
        self._thread.start()

    def join(self) -> int:
        """Wait until every message is published; how many were."""
        self._thread.join()
        return self.result["published"]


class Posted(NamedTuple):
    """A stream's message as it reached the agent room."""

    at: float  # when it arrived
    where: str  # its conversation, ``#N``
    key: str  # ``publisher.sequence``: the message
    sent: float  # when it was published
    by: int  # the instance that posted it


def _marks(posted: list[tuple[Raw, int]], tag: str) -> list[Posted]:
    found = []
    for (at, where, text), number in posted:
        stamp = MARK.search(text)
        if stamp is not None and stamp["tag"] == tag:
            key = f"{stamp['publisher']}.{stamp['seq']}"
            found.append(Posted(at, where, key, float(stamp["sent"]), number))
    return found


def _conversations(posted: list[tuple[Raw, int]]) -> dict[str, str]:
    """Conversation (``#N``) -> customer channel, from the announcements."""
    found = {}
    for (_, _, text), _ in posted:
        match = ANNOUNCED.search(text)
        if match:
            found[f"#{match['number']}"] = match["channel"]
    return found


def _counted(found: list[Posted], published: int) -> dict[str, Any]:
    times = Counter(p.key for p in found)
    return {
        "published": published,
        "relayed": len(times),
        "lost": published - len(times),
        "relayed_twice": sum(1 for n in times.values() if n == 2),
        "relayed_more": sum(1 for n in times.values() if n > 2),
    }


def _after(bots: InstanceBots, stream: Stream) -> list[Posted]:
    """Every message of the stream, once the customers are done and the agents got them."""
    published = stream.join()
    wait_for_count(lambda: bots.rooms.count(stream.tag), published)
    time.sleep(1.0)  # a message relayed twice would come now
    return _marks(bots.rooms.take_posted(), stream.tag)


def kill_active(bench: InstancesBench, bots: InstanceBots, channels: list[str]) -> dict[str, Any]:
    first = bots.active()
    stream = Stream(bench, channels, "ta")
    time.sleep(bench.plan.takeover_kill_after)
    bench.say(f"takeover: kill -9 of the active instance (bot {first})")
    killed = bots.kill(first)
    active_at = wait_until(lambda: bots.active() not in (None, first), 60)
    second = bots.active()
    found = _after(bots, stream)
    again = min((p.at for p in found if p.by == second and p.at > killed), default=None)
    twice = {key for key, n in Counter(p.key for p in found).items() if n > 1}
    return {
        "killed": first,
        "new_active": second,
        "active_s": round(active_at - killed, 2),
        "relays_again_s": round(again - killed, 2) if again else None,
        **_counted(found, stream.result["published"]),
        # Relayed twice only if the killed one had posted it (not yet marked relayed).
        "twice_first_posted_by_the_killed_one": len(
            {p.key for p in found if p.key in twice and p.by == first}
        ),
    }


def kill_intake(
    bench: InstancesBench, bots: InstanceBots, layout: Layout, conversations: dict[str, str]
) -> dict[str, Any]:
    active = bots.active()
    holders = bots.holders()
    victim = min(n for n in holders.values() if n is not None and n != active)
    theirs = {g for g, n in holders.items() if n == victim}
    survivors = bots.live() - {victim}
    stream = Stream(bench, layout.all_channels(), "tb")
    time.sleep(bench.plan.takeover_kill_after)
    bench.say(f"takeover: kill -9 of an intake-only instance (bot {victim}, {len(theirs)} groups)")
    killed = bots.kill(victim)
    taken = wait_until(lambda: bots.settled(survivors), 60)
    found = _after(bots, stream)
    # Written to its groups between the kill and the takeover: nobody took it in then, so it
    # came from history once another instance held the group.
    meanwhile = [
        p.at
        for p in found
        if layout.group_of(conversations.get(p.where, "")) in theirs and killed <= p.sent <= taken
    ]
    return {
        "killed": victim,
        "groups": len(theirs),
        "groups_taken_s": round(taken - killed, 2),
        "written_meanwhile": len(meanwhile),
        "caught_up_s": round(max(meanwhile) - killed, 2) if meanwhile else None,
        **_counted(found, stream.result["published"]),
    }


def measure(bench: InstancesBench) -> dict[str, Any]:
    plan = bench.plan
    layout = bench.layout("to", plan.groups, plan.customers)
    bots = bench.bots("takeover", layout)
    numbers = list(range(1, plan.takeover_instances + 1))
    try:
        bench.say(f"takeover: {len(numbers)} instances starting")
        bench.start_settled(bots, numbers, timeout=60 + 30 * len(numbers))
        bench.open_conversations(bots, layout.all_channels())
        conversations = _conversations(bots.rooms.take_posted())
        active = kill_active(bench, bots, layout.all_channels())
        intake = kill_intake(bench, bots, layout, conversations)
    finally:
        bots.close()
    return {
        "instances": len(numbers),
        "takeover_seconds_setting": plan.takeover_seconds,
        "active_killed": active,
        "intake_killed": intake,
    }
