"""When agents are there to answer, so that a customer writing at night is told so.

Written the way people say it: ``("Mon-Fri 09:00-18:00", "Sat 10:00-13:00")`` in a named time
zone, so that summer time moves with the clock on the office wall.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(
    r"^\s*(?P<days>[a-z]{3}(?:\s*-\s*[a-z]{3})?(?:\s*,\s*[a-z]{3}(?:\s*-\s*[a-z]{3})?)*)"
    r"\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Span:
    days: frozenset[int]  # Monday is 0
    start: time
    end: time | None  # None: until midnight ("24:00")

    def covers(self, local: datetime) -> bool:
        at = local.time()
        return (
            local.weekday() in self.days
            and self.start <= at
            and (self.end is None or at < self.end)
        )


@dataclass(frozen=True)
class BusinessHours:
    zone: ZoneInfo
    spans: tuple[Span, ...]

    def open_at(self, moment: datetime) -> bool:
        """Whether ``moment`` (timezone-aware) falls within business hours."""
        local = moment.astimezone(self.zone)
        return any(span.covers(local) for span in self.spans)


def parse(specs: Iterable[str], zone: str) -> BusinessHours:
    """Business hours from ``specs`` in the time zone ``zone``; ``ValueError`` says what is
    wrong in words an operator can act on."""
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{zone!r} is not a time zone name such as 'Europe/Paris'") from None
    spans = tuple(_span(spec) for spec in specs)
    if not spans:
        raise ValueError("no opening hours are given")
    return BusinessHours(tz, spans)


def _span(spec: str) -> Span:
    found = _SPAN.match(spec) if isinstance(spec, str) else None
    if found is None:
        raise ValueError(f"{spec!r} is not like 'Mon-Fri 09:00-18:00'")
    start, end = _time(found["start"], spec), _time(found["end"], spec)
    if start is None or (end is not None and end <= start):
        raise ValueError(f"{spec!r} ends before it starts (hours cannot run past midnight)")
    return Span(_days(found["days"], spec), start, end)


def _days(text: str, spec: str) -> frozenset[int]:
    days: set[int] = set()
    for part in text.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"{spec!r} names a day that is not one of {', '.join(DAYS)}")
        a, b = DAYS.index(first), DAYS.index(last or first)
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return frozenset(days)


def _time(text: str, spec: str) -> time | None:
    """A time of day; ``None`` for "24:00" (midnight at the end of the day)."""
    hours, minutes = (int(n) for n in text.split(":"))
    if (hours, minutes) == (24, 0):
        return None
    if hours > 23 or minutes > 59:
        raise ValueError(f"{spec!r} has {text}, which is not a time of day")
    return time(hours, minutes)
