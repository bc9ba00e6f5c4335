"""Which instance should take in which channel group: rendezvous (highest random weight)
hashing over the live instances, with each instance's load bounded.

Every instance computes the same answer from the same lists. Each group goes to the instance
that weighs highest for it among those not yet full, every instance taking at most its equal
share (the number of groups divided by the number of instances, rounded up): intake is spread
evenly, and when an instance comes or goes mostly the groups it gains or loses move.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Collection, Iterable, Mapping
from typing import NamedTuple


class Holding(NamedTuple):
    """Who takes a group in now (``holder``) and who should (``target``); None: nobody."""

    holder: str | None
    target: str | None


def weight(group: str, instance: str) -> int:
    digest = hashlib.blake2b(f"{group}\0{instance}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def targets(groups: Iterable[str], instances: Collection[str]) -> dict[str, str | None]:
    """The instance that should hold each group (None for all if there are no instances)."""
    names = sorted(set(groups))
    if not instances:
        return dict.fromkeys(names)
    share = math.ceil(len(names) / len(instances))
    load = dict.fromkeys(instances, 0)
    chosen: dict[str, str | None] = {}
    for name in names:
        best = max((i for i in instances if load[i] < share), key=lambda i: (weight(name, i), i))
        load[best] += 1
        chosen[name] = best
    return chosen


def rebalance(groups: Mapping[str, Holding], live: Collection[str]) -> dict[str, Holding]:
    """The groups whose holding changes, with their new holding.

    A group moves at once when its holder is gone (not among ``live``): a gone instance has
    stopped acting by the time the others count it gone. A live holder keeps its group until
    it hands it over itself, having stopped taking it in first.
    """
    changed = {}
    for name, target in targets(groups, live).items():
        now = groups[name]
        holder = now.holder if now.holder in live else target
        if (holder, target) != now:
            changed[name] = Holding(holder, target)
    return changed
