"""Customers writing faster than agents can read: noticed once per flood, never dropped.

A conversation floods while its customer wrote more than the set number of messages in the
last minute (as the relay first saw them), and until what it wrote has all been relayed. The
agent room is told once when a flood begins; every message is kept and relayed all the same,
grouped, and on a paced network at a share of the room that leaves the others their turn.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

WINDOW = 60.0  # seconds: the rate is per minute


class FloodWatch:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._seen: dict[int, deque[float]] = {}  # conversation -> when its messages came
        self._counted: dict[int, int] = {}  # conversation -> last entry id counted
        self._flooding: set[int] = set()

    def saw(self, number: int, entry_id: int) -> bool:
        """Count a message of conversation ``number`` (once per entry); True when this one
        makes a flood begin, which the agent room should hear of."""
        if entry_id <= self._counted.get(number, 0):
            return False
        self._counted[number] = entry_id
        now = self._clock()
        times = self._seen.setdefault(number, deque())
        times.append(now)
        self._forget_before(now - WINDOW)
        if len(times) > self.per_minute and number not in self._flooding:
            self._flooding.add(number)
            return True
        return False

    def flooding(self, number: int, *, waiting: bool) -> bool:
        """Whether ``number`` floods: from the message that went past the rate until the
        rate is kept again and nothing of it waits (``waiting``) any more."""
        self._forget_before(self._clock() - WINDOW)
        calm = len(self._seen.get(number, ())) <= self.per_minute
        if number in self._flooding and not waiting and calm:
            self._flooding.discard(number)
        return number in self._flooding

    def _forget_before(self, since: float) -> None:
        for number in list(self._seen):
            times = self._seen[number]
            while times and times[0] < since:
                times.popleft()
            if not times:
                del self._seen[number]

    def settle(self, waiting: set[int]) -> None:
        """Let the floods end of the conversations of which nothing waits (``waiting``: those
        with messages waiting), once their customers keep the rate again."""
        for number in list(self._flooding):
            if number not in waiting:
                self.flooding(number, waiting=False)
