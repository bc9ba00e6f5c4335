"""Channel groups that no instance may take in: more groups than the live instances can hold,
at most :data:`~errbot_instances.rendezvous.GROUPS_PER_SUBSCRIBER` each (what one PubNub
subscriber may hold). They wait, unheld, until another instance joins.

The sync that leaves groups unheld writes one sentence about them in the ``instance_losses``
table (under no instance's id), and the active instance tells the admins once, as it tells
of lost instances (:class:`~errbot_instances.losses.LossWatch`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

from errbot_instances.losses import record
from errbot_instances.rendezvous import GROUPS_PER_SUBSCRIBER, Holding, unheld

if TYPE_CHECKING:
    import psycopg

#: The ``instance`` of the sentences about unheld groups: no instance's id.
NO_INSTANCE = ""


def sentence(groups: list[str], capacity: int = GROUPS_PER_SUBSCRIBER) -> str:
    """One sentence for the admins about ``groups`` (in order), which no instance takes in."""
    if len(groups) == 1:
        named, verb, them = f"Channel group {groups[0]}", "has", "it"
    elif len(groups) <= 3:
        listed = f"{', '.join(groups[:-1])} and {groups[-1]}"
        named, verb, them = f"Channel groups {listed}", "have", "them"
    else:
        named = f"Channel groups {groups[0]} ... {groups[-1]} ({len(groups)} groups)"
        verb, them = "have", "them"
    return (
        f"{named} {verb} no instance to take {them} in: each instance takes in at most "
        f"{capacity}; start another instance."
    )


def tell_newly_unheld(
    connection: psycopg.Connection,
    before: Mapping[str, Holding],
    after: Mapping[str, Holding],
    added: Collection[str],
    live: Collection[str],
) -> list[str]:
    """Write the sentence about the groups this sync left to nobody (``before`` and ``after``
    it; ``added``: groups it made), if any; the groups are returned.

    A group counts as newly unheld when it had an instance before, was just made, or when no
    group had one (the first instance of a start). With no live instance at all nobody is
    told: the next instance to start takes the groups in.
    """
    if not live:
        return []
    nobody_before = all(h.target is None for h in before.values())
    newly = [
        name
        for name in unheld(after)
        if nobody_before or name in added or before[name].target is not None
    ]
    if newly:
        record(connection, NO_INSTANCE, sentence(newly))
    return newly
