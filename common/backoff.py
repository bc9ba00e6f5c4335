"""Exponential backoff, for everything the project retries.

Jitter spreads the retries of many bots (or many replies) hit by the same outage, so they do not
all come back at the same instant and cause the next one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """``delay(n)`` before the n-th retry (n >= 1): ``base * 2**(n-1)`` capped at ``cap``,
    times a random 0.5-1 unless ``jitter`` is off."""

    base: float
    cap: float
    jitter: bool = True

    def delay(self, attempt: int) -> float:
        exponent = min(max(attempt, 1) - 1, 32)
        delay = min(self.cap, self.base * 2**exponent)
        return delay * random.uniform(0.5, 1.0) if self.jitter else delay
