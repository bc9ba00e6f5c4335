"""What every part of the store shares: the engine, its read and write transactions, and
conversations read with their tags."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert

from errbot_support.database import READ_ONLY
from errbot_support.records import Conversation, Delivery, Kind
from errbot_support.statements import CONVERSATIONS, OPEN_IN_ROOM, with_tag_list
from errbot_support.tables import entries


@dataclass(frozen=True)
class NewEntry:
    """A transcript entry to add; the store assigns its id."""

    kind: Kind
    body: str
    created_at: datetime
    author: str | None = None
    author_name: str | None = None
    delivery: Delivery | None = None
    notice: str | None = None
    sender: str | None = None  # the instance sending it (several bots), if any


class StoreBase:
    """The engine and its transactions (``Store`` opens them)."""

    engine: Any
    #: What this process's writers hold while they write (see database.py); other writers of
    #: the same database, such as the relays' notices, hold it too.
    writer: Any
    _fold: Any

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """A write transaction, taking turns with this process's other writers."""
        with self.writer, self.engine.begin() as connection:
            yield connection

    def _reading(self) -> Connection:
        """A connection for reads: on SQLite they need no write lock (see database.py)."""
        return self.engine.connect().execution_options(**{READ_ONLY: True})

    def _find_open(self, c: Connection, room: str) -> Row | None:
        return c.execute(OPEN_IN_ROOM, {"room": room}).first()

    @staticmethod
    def _insert_entry(c: Connection, number: int, new: NewEntry) -> int:
        return c.execute(
            insert(entries).values(
                conversation_id=number,
                kind=new.kind.value,
                author=new.author,
                author_name=new.author_name,
                body=new.body,
                created_at=new.created_at,
                delivery=new.delivery.value if new.delivery else None,
                notice=new.notice,
                sender=new.sender,
            )
        ).inserted_primary_key[0]

    @staticmethod
    def _rows_by_id(c: Connection, numbers: Iterable[int]) -> list[Row]:
        wanted = list(numbers)
        if not wanted:
            return []
        return c.execute(CONVERSATIONS, {"numbers": wanted}).all()

    def _conversation(self, c: Connection, number: int) -> Conversation | None:
        found = self._conversations(self._rows_by_id(c, [number]))
        return found[0] if found else None

    def _by_number(self, c: Connection, numbers: Iterable[int]) -> dict[int, Conversation]:
        """These conversations, by number (each read once)."""
        found = self._conversations(self._rows_by_id(c, numbers))
        return {conversation.number: conversation for conversation in found}

    @staticmethod
    def _conversations(rows: Iterable[Row]) -> list[Conversation]:
        """Rows of :func:`~errbot_support.statements.conversations_with_tags` as records."""
        return [with_tag_list(row) for row in rows]
