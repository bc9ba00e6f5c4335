"""Helpers for the Support plugin's tests: a real SQLite store and customer messages."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from errbot_support.desk import Desk
from errbot_support.records import Agent, CustomerMessage
from errbot_support.store import Store

START = datetime(2024, 5, 6, 9, 0, tzinfo=timezone.utc)

ALICE = Agent("alice", "Alice")
BOB = Agent("bob", "Bob")
CAROL = Agent("carol", "Carol")


class Clock:
    """A settable clock, so durations in stats are exact."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


_ids = itertools.count(1)


def customer_message(
    room: str = "dana-chat",
    body: str = "hello",
    *,
    name: str = "Dana",
    source_id: str | None = "auto",
    sent_at: datetime = START,
) -> CustomerMessage:
    """A customer's message; each gets a fresh source id unless one is given."""
    return CustomerMessage(
        room=room,
        customer_id=f"{room}/{name.lower()}",
        customer_name=name,
        body=body,
        sent_at=sent_at,
        source_id=str(next(_ids)) if source_id == "auto" else source_id,
    )


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'support.sqlite'}"


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = Store(db_url)
    yield opened
    opened.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def desk(store: Store, clock: Clock) -> Desk:
    return Desk(store, clock)
