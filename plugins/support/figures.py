"""The figures of ``stats``: conversations by state, times to a first reply and to resolution,
ratings, overall and by agent. Plain arithmetic over conversations the desk read."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from errbot_support.records import Conversation, State


@dataclass(frozen=True)
class Durations:
    """Summary of a set of durations (first reply, resolution)."""

    count: int = 0
    median: timedelta | None = None
    mean: timedelta | None = None

    @classmethod
    def of(cls, values: Iterable[timedelta]) -> Durations:
        seconds = [v.total_seconds() for v in values]
        if not seconds:
            return cls()
        return cls(
            count=len(seconds),
            median=timedelta(seconds=statistics.median(seconds)),
            mean=timedelta(seconds=statistics.fmean(seconds)),
        )


@dataclass(frozen=True)
class Ratings:
    """The customers' ratings (1 to 5) of a set of conversations."""

    count: int = 0
    mean: float | None = None

    @classmethod
    def of(cls, conversations: Iterable[Conversation]) -> Ratings:
        given = [c.rating for c in conversations if c.rating is not None]
        return cls(len(given), statistics.fmean(given)) if given else cls()


@dataclass(frozen=True)
class AgentStats:
    name: str
    open_now: int
    resolved: int
    first_reply: Durations
    resolution: Durations
    rating: Ratings = field(default_factory=Ratings)


@dataclass(frozen=True)
class Stats:
    since: datetime
    by_state: dict[State, int]  # every conversation ever, by its current state
    opened: int  # conversations opened since ``since``
    resolved: int  # of those, resolved by now
    first_reply: Durations
    resolution: Durations
    agents: list[AgentStats] = field(default_factory=list)
    rating: Ratings = field(default_factory=Ratings)


def figures(
    since: datetime,
    opened: list[Conversation],
    open_now: list[Conversation],
    by_state: dict[State, int],
) -> Stats:
    """The figures of the conversations ``opened`` since ``since`` and those ``open_now``."""
    names = {c.agent.casefold(): c.agent_name for c in [*opened, *open_now] if c.agent}
    agents = [
        AgentStats(
            name=names[key],
            open_now=sum(1 for c in open_now if _owned(c, key) and c.is_open),
            resolved=sum(1 for c in opened if _owned(c, key) and not c.is_open),
            first_reply=_first_replies(c for c in opened if _owned(c, key)),
            resolution=_resolutions(c for c in opened if _owned(c, key)),
            rating=Ratings.of(c for c in opened if _owned(c, key)),
        )
        for key in sorted(names, key=lambda k: names[k].casefold())
    ]
    return Stats(
        since=since,
        by_state=by_state,
        opened=len(opened),
        resolved=sum(1 for c in opened if not c.is_open),
        first_reply=_first_replies(opened),
        resolution=_resolutions(opened),
        agents=agents,
        rating=Ratings.of(opened),
    )


def _owned(conversation: Conversation, key: str) -> bool:
    return conversation.agent is not None and conversation.agent.casefold() == key


def _first_replies(found: Iterable[Conversation]) -> Durations:
    return Durations.of(c.first_reply_at - c.opened_at for c in found if c.first_reply_at)


def _resolutions(found: Iterable[Conversation]) -> Durations:
    return Durations.of(c.resolved_at - c.opened_at for c in found if c.resolved_at)
