"""The subscription's health as admins need to see it: a state, since when, and why."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from errbot_pubnub.message import utc_now

STARTING = "starting"
CONNECTED = "connected"
RECONNECTING = "reconnecting"
ACCESS_DENIED = "access denied"
DISCONNECTED = "disconnected"
STOPPED = "stopped"


@dataclass(frozen=True)
class ConnectionSnapshot:
    state: str
    since: datetime
    detail: str


class ConnectionState:
    """Thread-safe: the SDK reports from its threads, admins read from command threads."""

    def __init__(self) -> None:
        self._snapshot = ConnectionSnapshot(STARTING, utc_now(), "")
        self._lock = threading.Lock()

    def set(self, state: str, detail: str = "") -> bool:
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
    def state(self) -> str:
        return self.snapshot.state
