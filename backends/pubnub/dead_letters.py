"""Messages that could not be delivered, kept with everything needed to understand them later.

A customer's message must never vanish silently: when the converter cannot read it (or delivery
fails), the raw payload lands here, admins are told, ``!pubnub undelivered`` shows it, and
``!pubnub replay`` runs it through the (fixed) converter again. :class:`DurableDeadLetters`
keeps them in the delivery database, so they survive restarts; :class:`DeadLetterBox` keeps
them in memory. Both keep the newest ``limit`` and number them for the replay command.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import delete, func, select, update

from errbot_pubnub.delivery_store import DeliveryDatabase, dead_letters, to_json
from errbot_pubnub.message import timetoken_to_datetime, utc_now

log = logging.getLogger(__name__)


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
    subscription: str | None = None
    id: int | None = None  # given when kept

    @property
    def sent_at(self) -> datetime:
        return timetoken_to_datetime(self.timetoken)


class DeadLetters(Protocol):
    """Where the inbound pipeline keeps undelivered messages."""

    total: int

    def add(self, letter: DeadLetter) -> DeadLetter:
        """Keep ``letter``; returns it with its id."""

    def get(self, letter_id: int) -> DeadLetter | None: ...

    def remove(self, letter_id: int) -> bool: ...

    def set_reason(self, letter_id: int, reason: str) -> None: ...

    def latest(self, count: int) -> list[DeadLetter]: ...

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[DeadLetter]: ...


class DeadLetterBox:
    """The newest dead letters in memory, oldest first; the oldest fall out beyond ``limit``."""

    def __init__(self, limit: int) -> None:
        self._letters: OrderedDict[int, DeadLetter] = OrderedDict()
        self._limit = limit
        self._ids = itertools.count(1)
        self._total = 0
        self._lock = threading.Lock()

    def add(self, letter: DeadLetter) -> DeadLetter:
        with self._lock:
            kept = replace(letter, id=next(self._ids))
            self._letters[kept.id] = kept  # type: ignore[index]
            while len(self._letters) > self._limit:
                self._letters.popitem(last=False)
            self._total += 1
            return kept

    @property
    def total(self) -> int:
        """How many were ever recorded since start, including those no longer kept."""
        return self._total

    def get(self, letter_id: int) -> DeadLetter | None:
        with self._lock:
            return self._letters.get(letter_id)

    def remove(self, letter_id: int) -> bool:
        with self._lock:
            return self._letters.pop(letter_id, None) is not None

    def set_reason(self, letter_id: int, reason: str) -> None:
        with self._lock:
            letter = self._letters.get(letter_id)
            if letter is not None:
                self._letters[letter_id] = replace(letter, reason=reason)

    def __len__(self) -> int:
        return len(self._letters)

    def __iter__(self) -> Iterator[DeadLetter]:
        with self._lock:
            return iter(list(self._letters.values()))

    def latest(self, count: int) -> list[DeadLetter]:
        with self._lock:
            return list(self._letters.values())[-count:] if count > 0 else []


class DurableDeadLetters:
    """Dead letters in the delivery database: they survive restarts and crashes.

    A letter is committed before its message is acknowledged, so a message is always either
    delivered, kept here, or delivered again after a restart.
    """

    def __init__(self, database: DeliveryDatabase, limit: int) -> None:
        self._database = database
        self._limit = limit
        self._total = 0
        self._count_lock = threading.Lock()

    @property
    def total(self) -> int:
        """How many were recorded since start (``len()`` says how many are kept)."""
        return self._total

    def add(self, letter: DeadLetter) -> DeadLetter:
        row = {
            "channel": letter.channel,
            "timetoken": letter.timetoken,
            "publisher": letter.publisher,
            "subscription": letter.subscription,
            "payload": to_json(letter.payload),
            "meta": None if letter.meta is None else to_json(letter.meta),
            "reason": letter.reason,
            "recorded_at": letter.recorded_at.isoformat(),
        }
        with self._database.engine.begin() as connection:
            inserted = connection.execute(dead_letters.insert().values(**row))
            letter_id = inserted.inserted_primary_key[0]
            oldest_kept = connection.execute(
                select(dead_letters.c.id)
                .order_by(dead_letters.c.id.desc())
                .offset(self._limit - 1)
                .limit(1)
            ).scalar()
            if oldest_kept is not None:
                dropped = connection.execute(
                    delete(dead_letters).where(dead_letters.c.id < oldest_kept)
                ).rowcount
                if dropped:
                    log.warning(
                        "Dropped %d old undelivered message(s) from the list (limit %d); "
                        "the log has their payloads.",
                        dropped,
                        self._limit,
                    )
        with self._count_lock:
            self._total += 1
        return replace(letter, id=int(letter_id))

    def get(self, letter_id: int) -> DeadLetter | None:
        with self._database.engine.connect() as connection:
            row = connection.execute(
                select(dead_letters).where(dead_letters.c.id == letter_id)
            ).first()
        return _letter(row) if row is not None else None

    def remove(self, letter_id: int) -> bool:
        with self._database.engine.begin() as connection:
            removed = connection.execute(delete(dead_letters).where(dead_letters.c.id == letter_id))
        return bool(removed.rowcount)

    def set_reason(self, letter_id: int, reason: str) -> None:
        with self._database.engine.begin() as connection:
            connection.execute(
                update(dead_letters).where(dead_letters.c.id == letter_id).values(reason=reason)
            )

    def __len__(self) -> int:
        with self._database.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(dead_letters)).scalar())

    def __iter__(self) -> Iterator[DeadLetter]:
        with self._database.engine.connect() as connection:
            rows = connection.execute(select(dead_letters).order_by(dead_letters.c.id)).all()
        return iter([_letter(row) for row in rows])

    def latest(self, count: int) -> list[DeadLetter]:
        if count <= 0:
            return []
        with self._database.engine.connect() as connection:
            rows = connection.execute(
                select(dead_letters).order_by(dead_letters.c.id.desc()).limit(count)
            ).all()
        return [_letter(row) for row in reversed(rows)]


def _letter(row: Any) -> DeadLetter:
    return DeadLetter(
        channel=row.channel,
        timetoken=int(row.timetoken),
        publisher=row.publisher,
        payload=json.loads(row.payload),
        reason=row.reason,
        meta=None if row.meta is None else json.loads(row.meta),
        recorded_at=datetime.fromisoformat(row.recorded_at),
        subscription=row.subscription,
        id=int(row.id),
    )
