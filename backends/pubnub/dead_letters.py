"""Messages that could not be delivered, kept with everything needed to understand them later.

A customer's message must never vanish silently: when the converter cannot read it (or delivery
fails), the raw payload lands here, admins are told, and ``!pubnub undelivered`` shows it.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from errbot_pubnub.message import timetoken_to_datetime, utc_now


@dataclass(frozen=True)
class DeadLetter:
    """One undelivered message: where and when it was sent, by whom, what it said, and why."""

    channel: str
    timetoken: int
    publisher: str | None
    payload: Any
    reason: str
    meta: Any = None
    recorded_at: datetime = field(default_factory=utc_now)

    @property
    def sent_at(self) -> datetime:
        return timetoken_to_datetime(self.timetoken)


class DeadLetterBox:
    """The most recent dead letters, newest last; the oldest fall out beyond ``limit``."""

    def __init__(self, limit: int) -> None:
        self._letters: deque[DeadLetter] = deque(maxlen=limit)
        self._total = 0
        self._lock = threading.Lock()

    def add(self, letter: DeadLetter) -> None:
        with self._lock:
            self._letters.append(letter)
            self._total += 1

    @property
    def total(self) -> int:
        """How many were ever recorded, including those no longer kept."""
        return self._total

    def __len__(self) -> int:
        return len(self._letters)

    def __iter__(self) -> Iterator[DeadLetter]:
        with self._lock:
            return iter(list(self._letters))

    def latest(self, count: int) -> list[DeadLetter]:
        with self._lock:
            return list(self._letters)[-count:] if count > 0 else []
