"""Per-channel ordered delivery on a small pool of threads.

Each channel is a lane: its messages are handled one at a time in arrival (timetoken) order, but
different channels are handled in parallel, and a busy channel goes to the back of the line after
each message. So a plugin that is slow on one customer's message delays that customer only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

Item = TypeVar("Item")


class ChannelLanes(Generic[Item]):
    """Runs ``handle(item)`` for every item put, in order per channel, on ``workers`` threads."""

    def __init__(self, handle: Callable[[Item], None], workers: int, name: str = "pubnub") -> None:
        self._handle = handle
        self._lanes: dict[str, deque[Item]] = {}
        self._ready: deque[str] = deque()  # channels with work and no worker on them
        self._busy: set[str] = set()
        self._condition = threading.Condition()
        self._stopping = False
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-lane-{n}", daemon=True)
            for n in range(workers)
        ]
        self._started = False

    def start(self) -> None:
        with self._condition:
            if self._started:
                return
            self._started = True
        for thread in self._threads:
            thread.start()

    def put(self, channel: str, item: Item) -> None:
        with self._condition:
            lane = self._lanes.setdefault(channel, deque())
            lane.append(item)
            if len(lane) == 1 and channel not in self._busy:
                self._ready.append(channel)
                self._condition.notify()

    def pending(self) -> int:
        """Items waiting or being handled."""
        with self._condition:
            return sum(len(lane) for lane in self._lanes.values()) + len(self._busy)

    def busy_channels(self) -> list[str]:
        with self._condition:
            return sorted(self._busy)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every item put so far has been handled; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._lanes or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(remaining)
            return True

    def stop(self, timeout: float) -> int:
        """Stop after the items being handled now; returns how many were left unhandled."""
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            if thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [t.name for t in self._threads if t.is_alive()]
        if stuck:
            log.warning("Still handling a message when stopping: %s", ", ".join(stuck))
        with self._condition:
            left = sum(len(lane) for lane in self._lanes.values())
        return left

    def _next(self) -> tuple[str, Item] | None:
        with self._condition:
            while not self._ready and not self._stopping:
                self._condition.wait()
            if self._stopping:
                return None
            channel = self._ready.popleft()
            self._busy.add(channel)
            return channel, self._lanes[channel][0]

    def _done(self, channel: str) -> None:
        with self._condition:
            self._busy.discard(channel)
            lane = self._lanes[channel]
            lane.popleft()
            if lane:
                self._ready.append(channel)  # to the back: other channels get their turn
            else:
                del self._lanes[channel]
            self._condition.notify_all()

    def _work(self) -> None:
        while True:
            job = self._next()
            if job is None:
                return
            channel, item = job
            try:
                self._handle(item)
            except Exception:  # the handler guards itself; this keeps the lane alive regardless
                log.exception("Unexpected failure handling a message of channel %r", channel)
            finally:
                self._done(channel)
