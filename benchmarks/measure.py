"""Turning stamped arrivals into figures: rates in a window, percentiles, order, CPU use."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

import psutil

from benchmarks.marks import Arrival, Raw, arrivals

#: A receiver that got nothing new for this long has stalled: what is missing is lost.
STALL_SECONDS = 20.0


class Receiver(Protocol):
    def count(self, tag: str | None = None) -> int: ...

    def take(self) -> list[Raw]: ...


def wait_for_count(count: Callable[[], int], expected: int, stall: float = STALL_SECONDS) -> bool:
    """Wait until ``count()`` reaches ``expected``, as long as it keeps growing."""
    last, last_change = count(), time.monotonic()
    while last < expected:
        time.sleep(0.05)
        now = count()
        if now != last:
            last, last_change = now, time.monotonic()
        elif time.monotonic() - last_change > stall:
            return False
    return True


def percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank percentile (no interpolation: a value that was really observed)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_summary(found: Sequence[Arrival]) -> dict[str, Any]:
    latencies = [a.latency_ms for a in found]
    if not latencies:
        return {"count": 0}
    return {
        "count": len(latencies),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p90_ms": round(percentile(latencies, 90), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "max_ms": round(max(latencies), 1),
    }


def in_order(found: Iterable[Arrival]) -> bool:
    """Whether each publisher's messages in each place arrived in the order it sent them.

    A publisher sends its next message only once the previous one was accepted, so on one
    channel its sequence numbers must arrive increasing.
    """
    last: dict[tuple[str, int], int] = {}
    for arrival in found:
        key = (arrival.where, arrival.publisher)
        if arrival.seq <= last.get(key, -1):
            return False
        last[key] = arrival.seq
    return True


class CpuMeter:
    """CPU seconds used by each process of the benchmark between ``start`` and ``stop``, and
    by everything else on the machine (``others``): on a shared machine, a figure measured
    while others were busy is worth less, and this says so."""

    def __init__(self, pids: dict[str, int]) -> None:
        self._processes = {name: psutil.Process(pid) for name, pid in pids.items()}
        self._start: dict[str, float] = {}
        self.used: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        used = {}
        for name, process in self._processes.items():
            times = process.cpu_times()
            used[name] = times.user + times.system
        machine = psutil.cpu_times()
        used["machine"] = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
        return used

    def start(self) -> None:
        self._start = self._now()

    def since_start(self, name: str) -> float:
        """CPU seconds ``name`` used since :meth:`start` (without stopping)."""
        return self._now()[name] - self._start[name]

    def stop(self) -> None:
        end = self._now()
        used = {name: end[name] - self._start[name] for name in end}
        machine = used.pop("machine")
        used["others"] = max(0.0, machine - sum(used.values()))
        self.used = used

    def per_message_ms(self, messages: int) -> dict[str, float]:
        return {name: round(used / messages * 1000, 3) for name, used in self.used.items()}

    def percent(self, seconds: float) -> dict[str, int]:
        return {name: round(used / seconds * 100) for name, used in self.used.items()}


def flood_rate(
    call_flood: Callable[[], dict[str, Any]],
    receiver: Receiver,
    tag: str,
    cpu: CpuMeter,
    warm_up: float,
) -> dict[str, Any]:
    """Run one flood and measure what ``receiver`` got of it.

    The rate counts the messages that arrived while the publishers were publishing, after the
    first ``warm_up`` seconds (connections, caches and thread pools warm up then): what the
    receiving side keeps up with under the very load it is given (a receiver falling behind
    is measured at its own pace, not at the publishers'). Afterwards every message is waited
    for, so losses and order are checked too.
    """
    before = receiver.count(tag)
    cpu.start()
    flood = call_flood()
    cpu.stop()
    published = flood["published"]
    complete = wait_for_count(lambda: receiver.count(tag), before + published)
    drained = time.time()
    receiver_cpu = cpu.since_start("receiver")
    found = arrivals(receiver.take(), tag)
    window_start, window_end = flood["started"] + warm_up, flood["ended"]
    if window_end - window_start < warm_up:
        # A flood that ended within (or soon after) its warm-up, on a slow or busy machine:
        # counted over all of it rather than over a window too short to mean anything.
        window_start = flood["started"]
    in_window = sum(1 for a in found if window_start <= a.at <= window_end)
    seconds = flood["ended"] - flood["started"]
    received = len(found)
    return {
        "msgs_per_s": round(in_window / max(window_end - window_start, 1e-3), 1),
        "published": published,
        "publish_failures": flood["failed"],
        "published_per_s": round(published / seconds, 1),
        "received": received,
        "lost": published - received,
        "complete": complete,
        "in_order": in_order(found),
        "backlog_drained_s": round(max(0.0, drained - flood["ended"]), 2),
        "cpu_percent": cpu.percent(seconds),
        "cpu_ms_per_msg": cpu.per_message_ms(max(1, published)),
        # Everything the receiving process spent on the flood, backlog included: its cost
        # per message, which the load of other processes on the machine hardly changes.
        "receiver_cpu_ms_per_msg": round(receiver_cpu / max(1, received) * 1000, 3),
    }
