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
from collections.abc import Callable, Sequence

from errbot_common.batch_writer import BatchWriter

log = logging.getLogger(__name__)

#: The writer commits at most this often: marks queued meanwhile share a commit.
MARK_INTERVAL = 0.02
_RETRY_AFTER_ERROR = 1.0


class RelayedMarks:
    """Queues entry ids and writes them with ``write`` (one call for a batch)."""

    def __init__(self, write: Callable[[Sequence[int]], None]) -> None:
        self._writer: BatchWriter[int] = BatchWriter(
            write,
            name="support-marks",
            interval=MARK_INTERVAL,
            retry_after=_RETRY_AFTER_ERROR,
            on_error=lambda _: log.exception("Could not mark relayed messages; trying again."),
        )

    def add(self, entry_ids: Sequence[int]) -> None:
        """Queue marks; after :meth:`close` they are written at once."""
        self._writer.add(entry_ids)

    def flush(self) -> None:
        """Write every queued mark now, and wait for a batch being written; raises if the
        database refuses (the marks stay queued)."""
        self._writer.flush()

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued and stop the writer; later marks are written synchronously."""
        self._writer.close(timeout)
