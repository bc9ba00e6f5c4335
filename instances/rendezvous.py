"""Which instance should take in which channel group: rendezvous (highest random weight)
hashing over the live instances.

Every instance computes the same answer from the same list, and when an instance comes or
goes only the groups it gains or loses move: about 1/n of them, never a reshuffle.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from typing import NamedTuple


class Holding(NamedTuple):
    """Who takes a group in now (``holder``) and who should (``target``); None: nobody."""

    holder: str | None
    target: str | None


def weight(group: str, instance: str) -> int:
    digest = hashlib.blake2b(f"{group}\0{instance}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def owner(group: str, instances: Collection[str]) -> str | None:
    """The instance that should hold ``group`` among ``instances`` (None if there are none)."""
    return max(instances, key=lambda i: (weight(group, i), i), default=None)


def rebalance(groups: Mapping[str, Holding], live: Collection[str]) -> dict[str, Holding]:
    """The groups whose holding changes, with their new holding.

    A group moves at once when its holder is gone (not among ``live``): a gone instance has
    stopped acting by the time the others count it gone. A live holder keeps its group until
    it hands it over itself, having stopped taking it in first.
    """
    changed = {}
    for name, now in groups.items():
        target = owner(name, live)
        holder = now.holder if now.holder in live else target
        if (holder, target) != now:
            changed[name] = Holding(holder, target)
    return changed
