"""One agent room's notices waiting for its relay: kept in the store first, posted before any
customer message, each once, and marked posted only once posted."""

from __future__ import annotations

import logging
import threading

from sqlalchemy.exc import SQLAlchemyError

from errbot_support.relay_notice_store import Notice, NoticeStore

log = logging.getLogger(__name__)


class NoticeQueue:
    """The notices of the room ``room_key``, oldest first. Shared by whoever tells (any
    thread) and the relay's thread, which alone posts them."""

    def __init__(self, store: NoticeStore, room_key: str, room: object) -> None:
        self._store = store
        self._room_key = room_key
        self._room = room  # for the log
        self._lock = threading.Lock()
        self._waiting: list[Notice] = []
        self._ids: set[int] = set()  # kept notices queued or posted here

    def __bool__(self) -> bool:
        return bool(self._waiting)

    def add(
        self, number: int | None, text: str, *, kept: bool = True, source: str | None = None
    ) -> bool:
        """Queue ``text`` (about conversation ``number``); ``kept``: recorded first, so that a
        crash before it is posted does not lose it (if the database refuses, it is queued all
        the same from memory); none if a notice of the same ``source`` was kept already.
        Returns whether one was queued."""
        notice: Notice | None = Notice(None, number, text)
        if kept:
            try:
                notice = self._store.record(self._room_key, number, text, source)
            except SQLAlchemyError as exc:
                log.warning("A notice for %s could not be recorded (%s): %r", self._room, exc, text)
        return notice is not None and self._queue(notice)

    def reload(self) -> bool:
        """Queue those a crash left unposted in the store; returns whether any was new."""
        return any([self._queue(notice) for notice in self._store.waiting(self._room_key)])

    def first(self) -> Notice:
        with self._lock:
            return self._waiting[0]

    def posted(self) -> None:
        """The first one was posted: it goes, and the store hears of it."""
        with self._lock:
            notice = self._waiting.pop(0)
        if notice.id is not None:
            try:
                self._store.posted(notice.id)
            except SQLAlchemyError:  # posted again after a restart, not before
                log.exception("Could not mark a notice in %s posted.", self._room)

    def _queue(self, notice: Notice) -> bool:
        with self._lock:
            if notice.id is not None:
                if notice.id in self._ids:
                    return False
                self._ids.add(notice.id)
            self._waiting.append(notice)
            return True
