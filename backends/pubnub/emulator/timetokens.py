"""PubNub timetokens: 17-digit counts of 100 ns since the Unix epoch.

Clients use a timetoken as a cursor ("give me what is newer than this"), so two messages must
never share one, even when published within the same 100 ns.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone


class TimetokenClock:
    """Hands out strictly increasing timetokens that follow the wall clock."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            self._last = max(self._last + 1, time.time_ns() // 100)
            return self._last

    @property
    def last(self) -> int:
        """The latest timetoken handed out (0 before the first)."""
        return self._last


def timetoken_to_datetime(timetoken: int | str) -> datetime:
    """The UTC moment a timetoken stands for (microsecond precision)."""
    return datetime.fromtimestamp(int(timetoken) / 10_000_000, tz=timezone.utc)


def datetime_to_timetoken(moment: datetime) -> int:
    return int(moment.timestamp() * 10_000_000)
