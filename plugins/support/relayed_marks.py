"""Marks that agents have seen messages, written in batches.

Marking each relayed message in a transaction of its own costs a commit per message, about a
sixth of the plugin's work for one. A mark that is late only means that a ``kill -9`` in that
moment makes the message be relayed again: it is one of the messages in flight. So marks are
queued and a writer thread commits whatever was queued, at most every :data:`MARK_INTERVAL`.
A relay pass over the store calls :meth:`RelayedMarks.flush` first, so it never takes a
message that was relayed but not yet marked for one that waits.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

log = logging.getLogger(__name__)

#: The writer commits at most this often: marks queued meanwhile share a commit.
MARK_INTERVAL = 0.02
_RETRY_AFTER_ERROR = 1.0


class RelayedMarks:
    """Queues entry ids and writes them with ``write`` (one call for a batch)."""

    def __init__(self, write: Callable[[Sequence[int]], None]) -> None:
        self._write = write
        self._queued: list[int] = []
        self._lock = threading.Lock()  # guards _queued and _closed
        self._writing = threading.Lock()  # held while a batch is taken and written
        self._wake = threading.Event()  # something was queued, or the writer must stop
        self._stop = threading.Event()  # cuts the writer's pauses short
        self._closed = False
        self._thread: threading.Thread | None = None  # started by the first mark

    def add(self, entry_ids: Sequence[int]) -> None:
        """Queue marks; after :meth:`close` they are written at once."""
        with self._lock:
            closed = self._closed
            if not closed:
                self._queued.extend(entry_ids)
                self._wake.set()
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="support-marks", daemon=True
                    )
                    self._thread.start()
        if closed:
            with self._writing:
                self._write(entry_ids)

    def flush(self) -> None:
        """Write every queued mark now, and wait for a batch being written; raises if the
        database refuses (the marks stay queued)."""
        with self._writing:
            self._write_queued()

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued and stop the writer; later marks are written synchronously."""
        with self._lock:
            self._closed = True
            thread = self._thread
        self._stop.set()
        self._wake.set()
        if thread is not None:
            thread.join(timeout)
        try:
            self.flush()
        except Exception:
            log.exception("Could not mark relayed messages; they will be relayed again.")

    def _run(self) -> None:
        while True:
            self._wake.wait()
            with self._lock:
                if self._closed:
                    return
                self._wake.clear()
            try:
                with self._writing:
                    self._write_queued()
            except Exception:
                log.exception("Could not mark relayed messages; trying again.")
                self._stop.wait(_RETRY_AFTER_ERROR)
                self._wake.set()
                continue
            self._stop.wait(MARK_INTERVAL)

    def _write_queued(self) -> None:
        with self._lock:
            batch, self._queued = self._queued, []
        if not batch:
            return
        try:
            self._write(batch)
        except Exception:
            with self._lock:
                self._queued[:0] = batch
            raise
