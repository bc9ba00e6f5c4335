"""Fault injection: make requests fail, slow down, stall or lose their connection, on demand.

Rules are consumed in the order they were added; each matches an operation name (see
``OPERATIONS``), a path prefix, or every request. The server asks ``take(...)`` once per
request. Thread-safe: tests arm faults from their own thread while the server runs.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

#: Operation names a fault can target, as the server classifies requests.
OPERATIONS = (
    "time",
    "subscribe",
    "publish",
    "signal",
    "fetch_messages",
    "message_counts",
    "add_channels",
    "remove_channels",
    "list_channels",
    "remove_group",
    "leave",
    "heartbeat",
    "here_now",
    "grant_token",
    "revoke_token",
    "get_uuid_metadata",
    "set_uuid_metadata",
    "remove_uuid_metadata",
    "get_all_uuid_metadata",
    "get_channel_metadata",
    "set_channel_metadata",
    "remove_channel_metadata",
    "get_all_channel_metadata",
    "get_memberships",
    "set_memberships",
    "get_members",
    "set_members",
    "add_message_action",
    "remove_message_action",
    "get_message_actions",
    "not_served",
)

FAIL = "fail"
DROP = "drop"


@dataclass
class FaultRule:
    """``kind`` is FAIL (answer ``status``) or DROP (close the connection without answer)."""

    kind: str
    remaining: int
    status: int = 500
    operation: str | None = None
    path_prefix: str | None = None
    after_handling: bool = False
    message: str | None = None

    def matches(self, operation: str, path: str) -> bool:
        if self.operation is not None and self.operation != operation:
            return False
        return self.path_prefix is None or path.startswith(self.path_prefix)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "remaining": self.remaining,
            "status": self.status,
            "operation": self.operation,
            "path_prefix": self.path_prefix,
            "after_handling": self.after_handling,
            "message": self.message,
        }


@dataclass
class Latency:
    seconds: float
    operation: str | None = None


@dataclass
class FaultState:
    rules: list[FaultRule] = field(default_factory=list)
    latencies: list[Latency] = field(default_factory=list)
    held: set[str | None] = field(default_factory=set)  # operations held; None: every one


class Faults:
    """What the next requests should suffer. Obtained as ``PubNubEmulator.faults``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = FaultState()

    def fail_next(
        self,
        count: int = 1,
        status: int = 500,
        *,
        operation: str | None = None,
        path_prefix: str | None = None,
        message: str | None = None,
    ) -> None:
        """Answer the next ``count`` matching requests with ``status`` and a PubNub error body."""
        self._add(
            FaultRule(
                FAIL,
                count,
                status=status,
                operation=_checked(operation),
                path_prefix=path_prefix,
                message=message,
            )
        )

    def drop_next(
        self,
        count: int = 1,
        *,
        operation: str | None = None,
        path_prefix: str | None = None,
        after_handling: bool = False,
    ) -> None:
        """Close the connection of the next ``count`` matching requests without an answer.

        With ``after_handling`` the request takes effect first (a publish is stored and
        delivered) and only the answer is lost, as when a network fails mid-response.
        """
        self._add(
            FaultRule(
                DROP,
                count,
                operation=_checked(operation),
                path_prefix=path_prefix,
                after_handling=after_handling,
            )
        )

    def set_latency(self, seconds: float, *, operation: str | None = None) -> None:
        """Delay every matching request by ``seconds`` (0 removes the delay)."""
        operation = _checked(operation)
        with self._lock:
            self._state.latencies = [
                lat for lat in self._state.latencies if lat.operation != operation
            ]
            if seconds > 0:
                self._state.latencies.append(Latency(float(seconds), operation))

    def hold(self, *, operation: str | None = None) -> None:
        """Keep matching requests waiting, unanswered, until :meth:`release` (a stalled
        network): unlike a latency, the moment they go on is the test's to choose."""
        operation = _checked(operation)
        with self._lock:
            self._state.held.add(operation)

    def release(self, *, operation: str | None = None) -> None:
        """Let the requests held by ``hold(operation=...)`` go on."""
        operation = _checked(operation)  # a misspelt name would release nothing, silently
        with self._lock:
            self._state.held.discard(operation)

    def holds(self, operation: str) -> bool:
        with self._lock:
            return bool(self._state.held & {None, operation})

    def clear(self) -> None:
        """Forget every armed failure, drop, latency and hold."""
        with self._lock:
            self._state = FaultState()

    def pending(self) -> list[dict[str, Any]]:
        """The armed rules that have not been used up, for inspection."""
        with self._lock:
            return [rule.as_dict() for rule in self._state.rules]

    def latency_for(self, operation: str) -> float:
        with self._lock:
            return sum(
                lat.seconds for lat in self._state.latencies if lat.operation in (None, operation)
            )

    def take(self, operation: str, path: str) -> FaultRule | None:
        """Consume and return the first rule matching this request, if any."""
        with self._lock:
            for rule in self._state.rules:
                if rule.matches(operation, path):
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self._state.rules.remove(rule)
                    return rule
        return None

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "rules": [rule.as_dict() for rule in self._state.rules],
                "latencies": [
                    {"seconds": lat.seconds, "operation": lat.operation}
                    for lat in self._state.latencies
                ],
                "held": sorted(op or "*" for op in self._state.held),
            }

    def _add(self, rule: FaultRule) -> None:
        if rule.remaining < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._state.rules.append(rule)


def _checked(operation: str | None) -> str | None:
    if operation is not None and operation not in OPERATIONS:
        raise ValueError(f"unknown operation {operation!r}; known: {', '.join(OPERATIONS)}")
    return operation
