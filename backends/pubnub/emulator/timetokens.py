"""PubNub timetokens: 17-digit counts of 100 ns since the Unix epoch.

Clients use a timetoken as a cursor ("give me what is newer than this"), so two messages must
never share one, even when published within the same 100 ns.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

#: How far ahead of the wall clock a client's cursor may pull the clock (10 minutes).
MAX_CLOCK_LEAD = 10 * 60 * 10_000_000


class TimetokenClock:
    """Hands out strictly increasing timetokens that follow the wall clock."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            self._last = max(self._last + 1, time.time_ns() // 100)
            return self._last

    def advance_past(self, timetoken: int) -> None:
        """Never hand out a timetoken at or below one a client already holds as its cursor
        (a message stamped below it would never reach that client). Cursors from the far
        future are ignored rather than followed."""
        if timetoken <= time.time_ns() // 100 + MAX_CLOCK_LEAD:
            with self._lock:
                self._last = max(self._last, timetoken)

    @property
    def last(self) -> int:
        """The latest timetoken handed out (0 before the first)."""
        return self._last


def timetoken_to_datetime(timetoken: int | str) -> datetime:
    """The UTC moment a timetoken stands for (microsecond precision)."""
    return datetime.fromtimestamp(int(timetoken) / 10_000_000, tz=timezone.utc)


def datetime_to_timetoken(moment: datetime) -> int:
    return int(moment.timestamp() * 10_000_000)
