"""The stamp every benchmark message carries, so any receiver can tell who sent it, in which
order, and when.

A text holds ``<tag> <publisher>.<sequence> <publish time>``; the publish time is taken from the
sender's clock just before publishing, on the same machine as the receiver, so an arrival time
minus it is the message's latency.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

MARK = re.compile(r"\b(?P<tag>[a-z]+\d*) (?P<publisher>\d+)\.(?P<seq>\d+) (?P<sent>\d+\.\d+)")

#: What a receiver hands over: arrival time, where it arrived (channel or room), the text.
Raw = tuple[float, str, str]


def mark(tag: str, publisher: int, seq: int) -> str:
    return f"{tag} {publisher}.{seq} {time.time():.6f}"


@dataclass(frozen=True)
class Arrival:
    at: float
    where: str
    tag: str
    publisher: int
    seq: int
    sent: float

    @property
    def latency_ms(self) -> float:
        return (self.at - self.sent) * 1000


def arrivals(raw: Iterable[Raw], tag: str) -> list[Arrival]:
    """The messages of ``tag`` among ``raw``, in arrival order."""
    found = []
    for at, where, text in raw:
        stamp = MARK.search(text)
        if stamp is not None and stamp["tag"] == tag:
            found.append(
                Arrival(
                    at,
                    where,
                    tag,
                    int(stamp["publisher"]),
                    int(stamp["seq"]),
                    float(stamp["sent"]),
                )
            )
    return found


class Inbox:
    """What a receiver got, stamped on arrival, with running counts of each mark's tag.

    ``add`` is all a receiving thread does (no parsing while measuring); counting reads the
    marks of what arrived since the last count, so polling it stays cheap.
    """

    def __init__(self) -> None:
        self._raw: list[Raw] = []
        self._counted = 0
        self._tags: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, at: float, where: str, text: str) -> None:
        with self._lock:
            self._raw.append((at, where, text))

    def count(self, tag: str | None = None) -> int:
        """Everything received so far, or only the messages marked with ``tag``."""
        with self._lock:
            fresh = self._raw[self._counted :]
            self._counted = len(self._raw)
            for _, _, text in fresh:
                stamp = MARK.search(text)
                if stamp is not None:
                    self._tags[stamp["tag"]] += 1
            return len(self._raw) if tag is None else self._tags[tag]

    def take(self) -> list[Raw]:
        """Everything received so far (and forget it)."""
        with self._lock:
            raw, self._raw = self._raw, []
            self._counted = 0
            self._tags.clear()
        return raw
