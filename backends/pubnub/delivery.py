"""Where a received message is accepted (once) and where it is acknowledged (handled).

The backend asks its :class:`DeliveryTracker` at exactly two points: ``accept`` when a message
arrives (a repeat is refused there), and ``acknowledge`` after ``callback_message`` returned
for it (or it was kept as a dead letter). ``last_handled`` (a channel's cursor) and
``resume_point`` tell catch-up where to start. :class:`DurableDeliveries` persists all of it, so
a restarted bot resumes without gaps or repeats; :class:`RecentDeliveries` keeps it in memory.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Protocol

from errbot_common.batch_writer import BatchWriter
from errbot_pubnub.delivery_store import DeliveryDatabase

log = logging.getLogger(__name__)

#: The writer commits at most this often: acknowledgements arriving meanwhile share a commit.
FLUSH_INTERVAL = 0.05
_RESUME_CHECK_INTERVAL = 0.25
_RETRY_AFTER_ERROR = 1.0


class DeliveryTracker(Protocol):
    def resume_timetoken(self, group: str | None = None) -> int | None:
        """Where catch-up starts for a channel without a cursor (in ``group``, whose own resume
        point comes first when it has one); ``None`` on a first start."""

    def accept(self, channel: str, timetoken: int) -> bool:
        """Whether the message is new; ``False`` for one already accepted (drop it)."""

    def acknowledge(self, channel: str, timetoken: int) -> None:
        """The message was handled: never deliver it again."""

    def last_handled(self, channel: str) -> int | None:
        """The timetoken of the newest message handled in ``channel``."""

    def caught_up(self, until: int, groups: Iterable[str] | None = None) -> None:
        """Every message up to ``until`` was handled or is in flight: the new resume point (of
        ``groups`` only, when given)."""

    def reload(self) -> None:
        """Read back what other instances recorded (cursors, resume points) before a catch-up
        of groups they may have held."""

    def flush(self, timeout: float) -> bool:
        """Wait until what was acknowledged so far is durable; False on timeout."""

    def close(self) -> None:
        """Write what is left and let go of resources."""


class RecentDeliveries:
    """A tracker kept in memory: refuses repeats among the last ``window`` messages seen.

    It protects a running bot from the overlaps of SDK reconnects; it remembers nothing across
    restarts, so a new process subscribes from "now".
    """

    def __init__(self, window: int = 10_000) -> None:
        self._seen: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._window = window
        self._handled: dict[str, int] = {}
        self._lock = threading.Lock()

    def resume_timetoken(self, group: str | None = None) -> int | None:
        return None

    def accept(self, channel: str, timetoken: int) -> bool:
        key = (channel, timetoken)
        with self._lock:
            if key in self._seen:
                return False
            self._seen[key] = None
            if len(self._seen) > self._window:
                self._seen.popitem(last=False)
            return True

    def acknowledge(self, channel: str, timetoken: int) -> None:
        with self._lock:
            if timetoken > self._handled.get(channel, 0):
                self._handled[channel] = timetoken

    def last_handled(self, channel: str) -> int | None:
        with self._lock:
            return self._handled.get(channel)

    def caught_up(self, until: int, groups: Iterable[str] | None = None) -> None:
        """Nothing to remember: a new process starts from "now" anyway."""

    def reload(self) -> None:
        """Nothing is shared."""

    def flush(self, timeout: float) -> bool:
        return True

    def close(self) -> None:
        """Nothing to release."""


class DurableDeliveries:
    """A tracker backed by the delivery database, with acknowledgements written in batches.

    ``acknowledge`` only updates memory and queues the pair; a writer thread commits every
    queued pair in one transaction, at most every :data:`FLUSH_INTERVAL`. A process killed
    before a commit loses nothing: the messages it acknowledged last are simply caught up and
    delivered again (and recognised downstream), which is the "at most the messages in flight
    may be relayed twice" of a ``kill -9``.

    The resume point moves to a catch-up's end only once nothing at or before it is still in
    flight, so a channel without a cursor never skips a message that was accepted but not yet
    handled when the process died.
    """

    def __init__(
        self,
        database: DeliveryDatabase,
        window: int,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        state = database.load(window)
        self._database = database
        self._window = window
        self._on_error = on_error
        self._cursors = dict(state.cursors)
        self._seen: OrderedDict[tuple[str, int], None] = OrderedDict.fromkeys(state.recent)
        self._in_flight: dict[tuple[str, int], None] = {}
        self._resume_point = state.resume_point
        self._pending_resume: int | None = None
        self._group_resume = dict(state.group_resume_points)
        self._pending_groups: dict[str, int] = {}
        self._next_resume_check = 0.0
        self._lock = threading.Lock()
        self.commits = 0  # transactions written (for ``!pubnub status`` and benchmarks)
        self._writer: BatchWriter[tuple[str, int]] = BatchWriter(
            self._write,
            name="pubnub-acks",
            interval=FLUSH_INTERVAL,
            retry_after=_RETRY_AFTER_ERROR,
            on_error=self._tell_error,
            write_empty=True,  # a resume point may be due with no acknowledgement queued
            idle_wait=lambda: (
                _RESUME_CHECK_INTERVAL if self._pending_resume or self._pending_groups else None
            ),
        )
        self._writer.wake()

    @property
    def database(self) -> DeliveryDatabase:
        return self._database

    # --- the tracker ----------------------------------------------------------------------

    def resume_timetoken(self, group: str | None = None) -> int | None:
        with self._lock:
            if group is not None and group in self._group_resume:
                return self._group_resume[group]
            return self._resume_point

    def accept(self, channel: str, timetoken: int) -> bool:
        key = (channel, timetoken)
        with self._lock:
            if key in self._seen or key in self._in_flight:
                return False
            self._remember(key)
            self._in_flight[key] = None
            return True

    def acknowledge(self, channel: str, timetoken: int) -> None:
        key = (channel, timetoken)
        with self._lock:
            self._in_flight.pop(key, None)
            if key not in self._seen:
                self._remember(key)  # a replayed dead letter: never delivered twice either
            if timetoken > self._cursors.get(channel, 0):
                self._cursors[channel] = timetoken
        self._writer.add((key,))

    def last_handled(self, channel: str) -> int | None:
        with self._lock:
            return self._cursors.get(channel)

    def cursors(self) -> dict[str, int]:
        with self._lock:
            return dict(self._cursors)

    def in_flight(self) -> int:
        with self._lock:
            return len(self._in_flight)

    def caught_up(self, until: int, groups: Iterable[str] | None = None) -> None:
        with self._lock:
            if groups is not None:
                for group in groups:
                    if until > self._group_resume.get(group, -1):
                        self._pending_groups[group] = until
            elif self._resume_point is None or until > self._resume_point:
                self._pending_resume = until
        self._writer.wake()

    def reload(self) -> None:
        state = self._database.load(0)
        with self._lock:
            for channel, timetoken in state.cursors.items():
                if timetoken > self._cursors.get(channel, 0):
                    self._cursors[channel] = timetoken
            for group, point in state.group_resume_points.items():
                if group not in self._pending_groups:
                    self._group_resume[group] = point

    def flush(self, timeout: float) -> bool:
        return self._writer.wait_written(timeout)

    def close(self, timeout: float = 10.0) -> None:
        self.flush(timeout)
        self._writer.close(timeout)
        self._database.close()

    def _remember(self, key: tuple[str, int]) -> None:
        self._seen[key] = None
        if len(self._seen) > self._window:
            self._seen.popitem(last=False)

    # --- the writer -----------------------------------------------------------------------

    def _settled_resume_point(self) -> int | None:
        """The pending resume point, once no message at or before it is still in flight."""
        until = self._pending_resume
        if until is None or any(tt <= until for _, tt in self._in_flight):
            return None
        self._pending_resume = None
        self._resume_point = until
        return until

    def _settled_group_resume_points(self) -> dict[str, int]:
        """The pending resume points of groups that no message in flight holds back (any
        channel's counts: which group brought a message is not tracked)."""
        oldest = min((tt for _, tt in self._in_flight), default=None)
        settled = {
            group: until
            for group, until in self._pending_groups.items()
            if oldest is None or oldest > until
        }
        for group in settled:
            del self._pending_groups[group]
        self._group_resume.update(settled)
        return settled

    def _write(self, batch: list[tuple[str, int]]) -> None:
        """Commit ``batch`` and a resume point that has settled, in one transaction (raises
        if the database refuses: the batch stays queued, the resume point pending)."""
        resume = None
        groups: dict[str, int] = {}
        with self._lock:
            now = time.monotonic()
            pending = self._pending_resume is not None or self._pending_groups
            if pending and now >= self._next_resume_check:
                self._next_resume_check = now + _RESUME_CHECK_INTERVAL  # it scans in-flight
                resume = self._settled_resume_point()
                groups = self._settled_group_resume_points()
        if not batch and resume is None and not groups:
            return
        try:
            self._database.record_acknowledgements(
                batch, resume, keep=self._window, group_resume_points=groups
            )
        except Exception:
            log.exception("Could not record %d acknowledgement(s)", len(batch))
            with self._lock:
                if resume is not None and self._pending_resume is None:
                    self._pending_resume = resume
                for group, until in groups.items():
                    self._pending_groups.setdefault(group, until)
            raise
        self.commits += 1

    def _tell_error(self, exc: Exception) -> None:
        if self._on_error is not None:
            self._on_error(
                f"The PubNub backend cannot write its delivery database "
                f"({type(exc).__name__}: {exc}); it keeps trying. Until it succeeds, a "
                "restart delivers the latest messages again."
            )
