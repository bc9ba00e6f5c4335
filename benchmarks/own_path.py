"""The bot's own cost for one customer message, on one thread, with nothing competing.

Floods measure what the bot achieves while publishers and the server share the machine with it,
which on two cores says as much about the machine as about the bot. This measures the bot's
path alone: from the PubNub backend's inbound pipeline (where the SDK hands a message over)
through the Bridge, Errbot and the Support plugin (recorded in SQLite, relayed) to the agents'
``Test`` backend, plus the acknowledgement. It hands prepared messages to the pipeline's
``handle`` one after the other, on a bot connected to the local server as usual, waits until
the agent room's relay (on a thread of its own) has posted them all, and reads the process's
CPU time: the figure moves with the code, hardly with the machine's load.

``python -m benchmarks.pipeline [--messages N] [--profile]`` prints it (that module starts the
bench; this one only measures); ``--profile`` adds the functions where the time goes (cProfile).
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import time
from datetime import datetime, timezone
from typing import Any

from pubnub.models.consumer.pubsub import PNMessageResult

from benchmarks.bot import RunningBot
from benchmarks.marks import mark
from benchmarks.publishers import CUSTOMER, payload
from errbot_pubnub.sdk import Inbound

CUSTOMERS = 100
WARM_UP = 200


def prepared(channels: list[str], count: int, group: str, writers: int) -> list[Inbound]:
    """Messages as the SDK listener hands them over, with timetokens ahead of the server's,
    each by the customer of its channel (the channel at position ``p`` is customer
    ``p % writers``'s, as the publishers open them)."""
    base = int(datetime.now(timezone.utc).timestamp() * 10**7) + 10**9
    found = []
    for n in range(count):
        at = n % len(channels)
        channel, customer = channels[at], CUSTOMER.format(at % writers)
        result = PNMessageResult(
            payload(mark("pipe", 0, n)), group, channel, base + n, publisher=customer
        )
        found.append(Inbound(channel, base + n, customer, result))
    return found


def measure(
    bot: RunningBot,
    channels: list[str],
    group: str,
    count: int,
    *,
    writers: int,
    profile: bool = False,
) -> dict[str, Any]:
    """CPU and wall time per message for ``count`` messages (after a warm-up); ``writers``:
    how many customers the publishers write as."""
    backend = bot.bot.hosted_backends()["customers"]
    items = prepared(channels, WARM_UP + count, group, writers)
    # The relays post on threads of their own: waited for, their work counted.
    relay = bot.support.runtime.agents.relays
    for item in items[:WARM_UP]:
        backend.inbound.handle(item)
    relay.wait_until_idle()
    profiler = cProfile.Profile() if profile else None
    before = bot.agent_room.count("pipe")
    cpu, wall = time.process_time(), time.perf_counter()
    if profiler is not None:
        profiler.enable()
    for item in items[WARM_UP:]:
        backend.inbound.handle(item)
    relay.wait_until_idle()
    if profiler is not None:
        profiler.disable()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    relayed = bot.agent_room.count("pipe") - before
    if profiler is not None:
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
    return {
        "messages": count,
        "relayed": relayed,
        "cpu_ms_per_msg": round(cpu / count * 1000, 3),
        "wall_ms_per_msg": round(wall / count * 1000, 3),
    }
