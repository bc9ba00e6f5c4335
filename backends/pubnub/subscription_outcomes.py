"""What the subscription supervisor reports and decides on, as values: the history's
availability, why a subscription ended, how a read of history ended, and where it reports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from errbot_pubnub.admin_notices import AdminNotices
from errbot_pubnub.capacity import GroupCapacity
from errbot_pubnub.catch_up import CatchUpReport
from errbot_pubnub.connection_state import ConnectionState
from errbot_pubnub.sdk import PNStatus


class History(str, Enum):
    """Whether the keyset's history (Message Persistence) can be read, as admins read it."""

    UNKNOWN = "not checked yet"
    AVAILABLE = "available"
    DISABLED = "disabled (no Message Persistence)"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Ending:
    """Why one subscription ended, and whether it had been live (connected, caught up)."""

    reason: str
    was_live: bool = False
    access_denied: bool = False
    regrouped: bool = False  # the groups held changed: subscribe again at once


STOPPED = Ending("stopped")


class Read(Enum):
    """How a read of history ended."""

    DONE = "done"  # read: the report says what was delivered
    IMPOSSIBLE = "impossible"  # no Message Persistence, or refused: admins were told
    INTERRUPTED = "interrupted"  # the subscription failed or the bot stops first


@dataclass(frozen=True)
class HistoryRead:
    outcome: Read
    report: CatchUpReport | None = None


@dataclass(frozen=True)
class Health:
    """Where the supervisor reports: the groups' sizes, admins, the connection's state, and
    the sentence that explains a refusal to subscribe."""

    capacity: GroupCapacity
    notices: AdminNotices
    connection: ConnectionState
    on_denied: Callable[[PNStatus], str]
