"""A queue with one writer thread that writes what was queued in batches.

Writing each item in a transaction of its own costs a commit per item. Items queued from any
thread are written by one thread instead, at most every ``interval``: whatever was queued
meanwhile shares one write (one commit). A write that fails keeps its items queued, in order, and
is tried again after ``retry_after``. The PubNub backend queues its acknowledgements this way,
the Support plugin its marks of relayed messages.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class BatchWriter(Generic[T]):
    """Queues items and writes them with ``write`` (one call for a batch) on its own thread.

    ``write`` raises to say the batch was not written. With ``write_empty``, a writer woken by
    :meth:`wake` calls ``write([])`` too (for what the owner writes besides the items), and
    ``idle_wait()`` says how long it may sleep with nothing queued (``None``: until woken).
    """

    def __init__(
        self,
        write: Callable[[list[T]], None],
        *,
        name: str,
        interval: float,
        retry_after: float = 1.0,
        on_error: Callable[[Exception], None] | None = None,
        write_empty: bool = False,
        idle_wait: Callable[[], float | None] = lambda: None,
    ) -> None:
        self._write = write
        self._name = name
        self._interval = interval
        self._retry_after = retry_after
        self._on_error = on_error
        self._write_empty = write_empty
        self._idle_wait = idle_wait
        self._queued: list[T] = []
        self._added = 0  # items queued so far; ``_written`` of them are written
        self._written = 0
        self._lock = threading.Lock()  # guards the queue, the counts and _closed
        self._progress = threading.Condition(self._lock)
        self._writing = threading.Lock()  # held while a batch is taken and written
        self._wake = threading.Event()  # something was queued, or the writer must stop
        self._stop = threading.Event()  # cuts the writer's pauses short
        self._closed = False
        self._thread: threading.Thread | None = None  # started by the first item or wake

    def add(self, items: Iterable[T]) -> None:
        """Queue ``items``; after :meth:`close` they are written at once, on this thread."""
        items = list(items)
        with self._lock:
            closed = self._closed
            if not closed:
                self._queued.extend(items)
                self._added += len(items)
                self._start()
        if closed:
            with self._writing:
                self._write(items)
        else:
            self._wake.set()

    def wake(self) -> None:
        """Have the writer run soon even with nothing queued (see ``write_empty``)."""
        with self._lock:
            if self._closed:
                return
            self._start()
        self._wake.set()

    def flush(self) -> None:
        """Write every queued item now, on this thread, after a batch being written; raises
        if ``write`` does (the items stay queued)."""
        with self._writing:
            self._write_queued()

    def wait_written(self, timeout: float) -> bool:
        """Wait until the writer has written every item queued before this call."""
        with self._lock:
            target = self._added
            self._wake.set()
            return self._progress.wait_for(
                lambda: self._written >= target or not self._writer_alive(), timeout
            ) and (self._written >= target)

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued and stop the writer; later items are written synchronously."""
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
            log.exception("%s: could not write what was queued", self._name)

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def _writer_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while True:
            self._wake.wait(self._idle_wait())
            with self._lock:
                if self._closed:
                    return
                self._wake.clear()
            try:
                with self._writing:
                    self._write_queued()
            except Exception as exc:
                if self._on_error is not None:
                    self._on_error(exc)
                self._stop.wait(self._retry_after)
                self._wake.set()
                continue
            self._stop.wait(self._interval)

    def _write_queued(self) -> None:
        with self._lock:
            batch, self._queued = self._queued, []
            target = self._added
        if batch or self._write_empty:
            try:
                self._write(batch)
            except Exception:
                with self._lock:
                    self._queued[:0] = batch
                raise
        with self._lock:
            self._written = max(self._written, target)
            self._progress.notify_all()
