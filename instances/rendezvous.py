"""Which instance should take in which channel group: rendezvous (highest random weight)
hashing over the live instances, with each instance's load bounded.

Every instance computes the same answer from the same lists. Each group goes to the instance
that weighs highest for it among those not yet full, every instance taking at most its equal
share (the number of groups divided by the number of instances, rounded up), and never more
than :data:`GROUPS_PER_SUBSCRIBER`, what one PubNub subscriber may hold: intake is spread
evenly, and when an instance comes or goes mostly the groups it gains or loses move. Groups
beyond what the live instances can hold go to nobody until another instance joins.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Collection, Iterable, Mapping
from typing import NamedTuple

#: PubNub lets one subscribing client hold at most 10 channel groups: each instance takes in
#: at most this many, and a bot alone may name at most this many.
GROUPS_PER_SUBSCRIBER = 10


class Holding(NamedTuple):
    """Who takes a group in now (``holder``) and who should (``target``); None: nobody."""

    holder: str | None
    target: str | None


def weight(group: str, instance: str) -> int:
    digest = hashlib.blake2b(f"{group}\0{instance}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def targets(
    groups: Iterable[str], instances: Collection[str], capacity: int = GROUPS_PER_SUBSCRIBER
) -> dict[str, str | None]:
    """The instance that should hold each group: None for a group beyond what the instances
    can hold, each at most ``capacity`` (for all of them if there are no instances). Groups
    are given out in natural order (``support-9`` before ``support-10``), so those left to
    nobody are the last made."""
    names = sorted(set(groups), key=natural)
    if not instances:
        return dict.fromkeys(names)
    share = min(math.ceil(len(names) / len(instances)), capacity)
    load = dict.fromkeys(instances, 0)
    chosen: dict[str, str | None] = {}
    for name in names:
        free = [i for i in instances if load[i] < share]
        best = max(free, key=lambda i: (weight(name, i), i)) if free else None
        if best is not None:
            load[best] += 1
        chosen[name] = best
    return chosen


def unheld(holdings: Mapping[str, Holding]) -> list[str]:
    """The groups nobody should take in (more than the instances can hold), in order."""
    return sorted((n for n, h in holdings.items() if h.target is None), key=natural)


def natural(name: str) -> tuple[tuple[int, int, str], ...]:
    """A sort key that puts ``support-9`` before ``support-10``."""
    parts = re.split(r"(\d+)", name)
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in parts)


def rebalance(
    groups: Mapping[str, Holding], live: Collection[str], capacity: int = GROUPS_PER_SUBSCRIBER
) -> dict[str, Holding]:
    """The groups whose holding changes, with their new holding.

    A group moves at once when its holder is gone (not among ``live``): a gone instance has
    stopped acting by the time the others count it gone. A live holder keeps its group until
    it hands it over itself, having stopped taking it in first.
    """
    changed = {}
    for name, target in targets(groups, live, capacity).items():
        now = groups[name]
        holder = now.holder if now.holder in live else target
        if (holder, target) != now:
            changed[name] = Holding(holder, target)
    return changed
