"""Channel groups filling up: a full group means new customers the bot never hears.

PubNub refuses to add a channel to a full group, but it refuses the app that adds it (a customer
app registering its channel), not the bot, which is not told. So the bot compares each group's
size with the capacity of the plan (``PUBNUB_GROUP_CAPACITY``) whenever it lists the groups
(every catch-up, and periodically), and reports a refusal when it adds a channel itself.
"""

from __future__ import annotations

import threading

from errbot_pubnub.admin_notices import AdminNotices
from errbot_pubnub.settings import MAX_CHANNEL_GROUPS, MAX_SHARED_CHANNEL_GROUPS

NEARLY_FULL = 0.9
_MORE_ALONE = f"Add another group to PUBNUB_CHANNEL_GROUP (up to {MAX_CHANNEL_GROUPS})"
_MORE_SHARED = (
    f"Add another group to PUBNUB_CHANNEL_GROUP (up to {MAX_SHARED_CHANNEL_GROUPS}; each "
    f"instance takes in at most {MAX_CHANNEL_GROUPS}, so start another instance when every one "
    f"holds {MAX_CHANNEL_GROUPS})"
)


class GroupCapacity:
    """Remembers the groups' sizes and warns admins (rate-limited) as they fill up."""

    def __init__(self, capacity: int, notices: AdminNotices, *, shared: bool = False) -> None:
        self.capacity = capacity
        self._more = _MORE_SHARED if shared else _MORE_ALONE
        self._notices = notices
        self._sizes: dict[str, int] = {}
        self._lock = threading.Lock()

    def sizes(self) -> dict[str, int]:
        with self._lock:
            return dict(self._sizes)

    def check(self, sizes: dict[str, int]) -> None:
        with self._lock:
            self._sizes.update(sizes)
        for group, size in sizes.items():
            if size >= self.capacity:
                self._notices.notify(
                    f"channel group {group} full",
                    f"PubNub channel group {group} holds {size} channels, its capacity "
                    f"(PUBNUB_GROUP_CAPACITY = {self.capacity}): PubNub refuses to add more, so "
                    f"new customers whose app registers its channel there are never heard. "
                    f"{self._more} and have the app register new channels in it, or remove the "
                    "channels of finished conversations.",
                )
            elif size >= NEARLY_FULL * self.capacity:
                self._notices.notify(
                    f"channel group {group} nearly full",
                    f"PubNub channel group {group} holds {size} of its {self.capacity} channels: "
                    "add another group to PUBNUB_CHANNEL_GROUP before it is full.",
                )

    def refused(self, group: str, reason: str) -> None:
        """PubNub refused to add a channel to ``group`` because it is full."""
        with self._lock:
            self._sizes[group] = max(self._sizes.get(group, 0), self.capacity)
        self._notices.notify(
            f"channel group {group} full",
            f"PubNub refused to add a channel to channel group {group}: it is full ({reason}). "
            f"{self._more}.",
        )

    def describe(self, group: str, size: int) -> str:
        if size >= self.capacity:
            return f"{group} ({size}/{self.capacity}, full)"
        if size >= NEARLY_FULL * self.capacity:
            return f"{group} ({size}/{self.capacity}, nearly full)"
        return f"{group} ({size}/{self.capacity})"
