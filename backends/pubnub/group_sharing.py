"""``PUBNUB_SHARE_GROUPS``: this instance takes in only its share of the channel groups.

The instances on the delivery database elect and assign (:mod:`errbot_instances`); the
subscription is told which groups to add and which to give up as the share changes. What an
instance standing by has to tell the admins about its intake is told by the active instance
(:mod:`errbot_instances.handed_notices`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from errbot_instances import assignment, handed_notices, process
from errbot_instances.assignment import AllGroups, GroupAssignment, OnChange
from errbot_instances.election import Alone, Election
from errbot_instances.postgres import Liveness

log = logging.getLogger(__name__)


class GroupSharing:
    """This instance among the others on one database, and its share of the groups."""

    def __init__(
        self,
        url: str,
        groups: Iterable[str],
        on_change: OnChange,
        liveness: Liveness | None,
        *,
        warn_admins: Callable[[str], None] = lambda warning: None,
    ) -> None:
        """Join the instances on ``url`` and start taking in this one's share of ``groups``
        (``on_change(added, removed)`` subscribes accordingly); while this instance is the
        active one, ``warn_admins`` tells the admins what the others kept for them."""
        self._url = url
        self._warn_admins = warn_admins
        self._watch: handed_notices.NoticeWatch | None = None
        self._election: Election | Alone | None = process.join(url, liveness)
        self._unwatch = self._election.watch(self._became_active, self._became_inactive)
        self._assignment: GroupAssignment | AllGroups | None = assignment.share(
            self._election, on_change, groups=groups, on_lost=_instances_lost
        ).start()

    def add_groups(self, groups: Iterable[str]) -> None:
        """Groups followed from now on: the instances share them out too."""
        if self._assignment is not None:
            self._assignment.add_groups(groups)

    def hand_over(self, warning: str) -> bool:
        """Whether ``warning`` for the admins was kept for the active instance to tell,
        because this one stands by; False: this instance tells them itself."""
        return handed_notices.hand_over(self._election, warning)

    def stop(self) -> None:
        """Hand this instance's channel groups to the others at once (they catch them up)."""
        shared, self._assignment = self._assignment, None
        if shared is not None:
            shared.stop()
        self._unwatch()
        self._became_inactive("this instance is stopping")
        election, self._election = self._election, None
        if election is not None:
            process.leave(election)

    def _became_active(self) -> None:
        election = self._election
        if isinstance(election, Election) and self._watch is None:
            self._watch = handed_notices.NoticeWatch(
                self._url, self._warn_admins, election.liveness
            ).start()

    def _became_inactive(self, why: str) -> None:
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.stop()


def _instances_lost(instances: list[tuple[str, str, int]]) -> None:
    for instance, host, pid in instances:
        log.warning(
            "Instance %s (%s, pid %d) went silent: its channel groups are taken over.",
            instance,
            host,
            pid,
        )
