"""Where a received message is accepted (once) and where it is acknowledged (handled).

The backend asks its :class:`DeliveryTracker` at exactly two points: ``accept`` when a message
arrives (a duplicate is refused there), and ``acknowledge`` after ``callback_message`` returned
for it (or it was kept as a dead letter). ``resume_timetoken`` tells where to subscribe from.
A tracker that persists these is what lets a restarted bot resume without gaps or repeats.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Protocol


class DeliveryTracker(Protocol):
    def resume_timetoken(self) -> int | None:
        """The timetoken to subscribe from; ``None`` to start with what is sent from now on."""

    def accept(self, channel: str, timetoken: int) -> bool:
        """Whether the message is new; ``False`` for one already accepted (drop it)."""

    def acknowledge(self, channel: str, timetoken: int) -> None:
        """The message was handled: never deliver it again."""

    def last_handled(self, channel: str) -> int | None:
        """The timetoken of the newest message handled in ``channel``."""


class RecentDeliveries:
    """A tracker kept in memory: refuses repeats among the last ``window`` messages seen.

    It protects a running bot from the overlaps of SDK reconnects; it remembers nothing across
    restarts, so a new process subscribes from "now".
    """

    def __init__(self, window: int = 10_000) -> None:
        self._seen: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._window = window
        self._handled: dict[str, int] = {}
        self._lock = threading.Lock()

    def resume_timetoken(self) -> int | None:
        return None

    def accept(self, channel: str, timetoken: int) -> bool:
        key = (channel, timetoken)
        with self._lock:
            if key in self._seen:
                return False
            self._seen[key] = None
            if len(self._seen) > self._window:
                self._seen.popitem(last=False)
            return True

    def acknowledge(self, channel: str, timetoken: int) -> None:
        with self._lock:
            if timetoken > self._handled.get(channel, 0):
                self._handled[channel] = timetoken

    def last_handled(self, channel: str) -> int | None:
        with self._lock:
            return self._handled.get(channel)
