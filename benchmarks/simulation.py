"""100,000 customer channels on the local PubNub server, in groups of 2,000, shared out among
at least five instances (real bot processes on one PostgreSQL database), every one with the
same configuration: all the groups named, ``PUBNUB_SHARE_GROUPS`` on.

Once the instances have settled: every group is held by exactly one live instance (read from
the database) and subscribed to by exactly one long-poll on the server; then one customer
message in each channel of a sample spread over every group, each of which must reach the
agent room once.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from benchmarks.marks import MARK
from benchmarks.measure import wait_for_count

if TYPE_CHECKING:
    from benchmarks.instances import InstancesBench


def spread(groups: list[list[str]], count: int) -> list[str]:
    """``count`` channels taken evenly from every group, and evenly within each group."""
    per_group = -(-count // len(groups))
    picked = []
    for channels in groups:
        step = max(1, len(channels) // per_group)
        picked.append(channels[::step][:per_group])
    return [c[n] for n in range(per_group) for c in picked if n < len(c)][:count]


def measure(bench: InstancesBench) -> dict[str, Any]:
    plan = bench.plan
    groups = -(-plan.simulation_channels // plan.simulation_group_size)
    bench.say(
        f"simulation: {plan.simulation_channels} channels in {groups} groups of "
        f"{plan.simulation_group_size}"
    )
    started = time.monotonic()
    layout = bench.layout("sim", groups, plan.simulation_channels)
    grouped_s = round(time.monotonic() - started, 2)
    channels = layout.all_channels()
    sample = spread(list(layout.channels.values()), plan.simulation_sample)
    bots = bench.bots("simulation", layout)
    numbers = list(range(1, plan.simulation_instances + 1))
    try:
        bench.say(f"simulation: {len(numbers)} instances starting")
        settle = bench.start_settled(bots, numbers, timeout=120 + 60 * len(numbers))
        holders = bots.holders()
        bench.say(f"simulation: one message in each of {len(sample)} channels")
        sent = bench.customers.call("each", channels=sample, tag="sim")
        arrived = wait_for_count(lambda: bots.rooms.count("sim"), sent["published"])
        time.sleep(2.0)  # a message relayed twice would come now
        posted = bots.rooms.take_posted()
        held_once = bots.settled(numbers)
    finally:
        bots.close()
    times = Counter()
    posters = Counter()
    for (_, _, text), number in posted:
        stamp = MARK.search(text)
        if stamp is not None and stamp["tag"] == "sim":
            times[f"{stamp['publisher']}.{stamp['seq']}.{stamp['sent']}"] += 1
            posters[number] += 1
    per_instance = Counter(holders.values())
    return {
        "channels": len(channels),
        "groups": len(layout.groups),
        "group_size": plan.simulation_group_size,
        "instances": len(numbers),
        "groups_configured_per_instance": len(layout.groups),
        "channels_grouped_s": grouped_s,
        "settle_s": settle,
        "groups_per_instance": sorted(per_instance.values()),
        "every_group_held_by_one": (
            held_once and set(holders) == set(layout.groups) and None not in per_instance
        ),
        "sample_channels": len(sample),
        "sample_groups": len({layout.group_of(c) for c in sample}),
        "published": sent["published"],
        "all_arrived": arrived,
        "relayed_once": sum(1 for n in times.values() if n == 1),
        "relayed_more_than_once": sum(1 for n in times.values() if n > 1),
        "lost": sent["published"] - len(times),
        "relayed_by": sorted(posters),
    }
