"""The subscription's health as admins need to see it: a state, since when, and why."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from errbot_pubnub.message import utc_now


class State(str, Enum):
    """Where the subscription stands; each compares equal to the words admins read."""

    STARTING = "starting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    ACCESS_DENIED = "access denied"
    DISCONNECTED = "disconnected"
    STOPPED = "stopped"

    def __str__(self) -> str:
        return self.value


STARTING, CONNECTED, RECONNECTING = State.STARTING, State.CONNECTED, State.RECONNECTING
ACCESS_DENIED, DISCONNECTED, STOPPED = State.ACCESS_DENIED, State.DISCONNECTED, State.STOPPED


@dataclass(frozen=True)
class ConnectionSnapshot:
    state: State
    since: datetime
    detail: str


class ConnectionState:
    """Thread-safe: the SDK reports from its threads, admins read from command threads."""

    def __init__(self) -> None:
        self._snapshot = ConnectionSnapshot(STARTING, utc_now(), "")
        self._lock = threading.Lock()

    def set(self, state: State, detail: str = "") -> bool:
        """Record ``state``; True when it changed (so callers log transitions, not repeats)."""
        with self._lock:
            changed = state != self._snapshot.state
            if changed or detail != self._snapshot.detail:
                since = utc_now() if changed else self._snapshot.since
                self._snapshot = ConnectionSnapshot(state, since, detail)
            return changed

    @property
    def snapshot(self) -> ConnectionSnapshot:
        with self._lock:
            return self._snapshot

    @property
    def state(self) -> State:
        return self.snapshot.state
