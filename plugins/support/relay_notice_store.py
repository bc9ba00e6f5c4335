"""The relays' notices kept until posted, so that a ``kill -9`` loses none.

A notice (a customer flooding, a message set aside, a message in a customer's chat by someone
else) is committed before the relay is handed it, and marked posted once all of it was posted:
after a crash the relay posts those not marked, so a notice is posted once, or twice if the
crash came between its post and its mark (like a customer message in flight). An instance
standing by (several bots on PostgreSQL) keeps its notices here for the active instance, whose
relays read them with the messages waiting, woken as for a customer message.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from errbot_support import announcements
from errbot_support.database import READ_ONLY, without_waiting_for_the_disk
from errbot_support.tables import relay_notices


@dataclass(frozen=True)
class Notice:
    """``id``: None for a notice kept in memory only (the database could not take it)."""

    id: int | None
    number: int | None
    text: str


class NoticeStore:
    def __init__(self, engine: Engine, writer: AbstractContextManager) -> None:
        """``writer``: what the store's writers hold while they write (see database.py)."""
        self._engine = engine
        self._writer = writer

    def record(
        self,
        room_key: str,
        number: int | None,
        text: str,
        source: str | None = None,
        *,
        announce: bool = False,
    ) -> Notice | None:
        """Keep a notice for the agent room ``room_key`` (committed to disk on return); None
        if one about ``source`` was kept already (posted, or waiting to be). ``announce``:
        wake the active instance's relays at commit (kept by an instance standing by)."""
        row = {
            "agent_room": room_key,
            "number": number,
            "body": text,
            "created_at": datetime.now(timezone.utc),
            "posted": False,
            "source": source,
        }
        try:
            with self._writer, self._engine.begin() as connection:
                notice_id = connection.execute(
                    insert(relay_notices).values(row).returning(relay_notices.c.id)
                ).scalar_one()
                if announce:
                    announcements.recorded(connection, room_key)
        except IntegrityError:
            if source is None:
                raise
            return None
        return Notice(notice_id, number, text)

    def waiting(self, room_key: str) -> list[Notice]:
        """The notices for ``room_key`` not yet posted, oldest first."""
        query = (
            select(relay_notices.c.id, relay_notices.c.number, relay_notices.c.body)
            .where(relay_notices.c.agent_room == room_key, relay_notices.c.posted.is_(False))
            .order_by(relay_notices.c.id)
        )
        with self._engine.connect().execution_options(**{READ_ONLY: True}) as connection:
            return [Notice(row.id, row.number, row.body) for row in connection.execute(query)]

    def posted(self, notice_id: int) -> None:
        """Mark a notice posted (without waiting for the disk: a power cut may repeat it)."""
        with (
            self._writer,
            self._engine.connect() as connection,
            without_waiting_for_the_disk(connection),
            connection.begin(),
        ):
            connection.execute(
                update(relay_notices).where(relay_notices.c.id == notice_id).values(posted=True)
            )
