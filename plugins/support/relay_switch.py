"""The agent rooms' relays as customer intake sees them, whether this instance faces the agents
or stands by.

Intake runs on every instance; the relays only on the active one (``errbot_support.active_role``).
While they run, what intake hands over goes to them. While this instance stands by, a message
just recorded needs no handing over (the store announced it to the active instance, which reads
it back), and a notice for the agents goes to the admins instead, since a standby may not be in
the agent rooms (on IRC it is not).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from errbot_support.literal import unmarked
from errbot_support.records import Pending
from errbot_support.relays import AgentRoomRelays
from errbot_support.routing import AgentRoom

log = logging.getLogger(__name__)


class RelaySwitch:
    """The running relays, or none while standing by, behind the interface intake uses."""

    def __init__(self, tell_admins: Callable[[str], None]) -> None:
        self._tell_admins = tell_admins
        self._lock = threading.Lock()
        self._relays: AgentRoomRelays | None = None

    @property
    def running(self) -> AgentRoomRelays | None:
        return self._relays

    def switch_on(self, relays: AgentRoomRelays) -> None:
        """Start ``relays`` and hand them what comes from now on."""
        relays.start()
        with self._lock:
            self._relays = relays

    def switch_off(self) -> AgentRoomRelays | None:
        """Stop handing over; returns the relays that ran, for the caller to stop."""
        with self._lock:
            relays, self._relays = self._relays, None
        return relays

    def recorded(self, room: AgentRoom, pending: Pending) -> None:
        relays = self._relays
        if relays is not None:
            relays.recorded(room, pending)

    def wake(self, room: AgentRoom | None = None) -> None:
        relays = self._relays
        if relays is not None:
            relays.wake(room)

    def tell(self, room: AgentRoom, text: str, number: int | None = None) -> None:
        relays = self._relays
        if relays is not None:
            relays.tell(room, text, number)
            return
        log.warning("Standing by, so told to the admins rather than %s: %s", room, text)
        self._tell_admins(f"Support (for {room}): {unmarked(text)}")

    def when_shown(self, room: AgentRoom, entry_id: int, then: Callable[[], None]) -> None:
        relays = self._relays
        if relays is not None:
            relays.when_shown(room, entry_id, then)
        else:  # the active instance shows it; nothing here to wait for
            then()

    def room_joined(self, room: object) -> None:
        relays = self._relays
        if relays is not None:
            relays.room_joined(room)

    def unreachable(self) -> list[AgentRoom]:
        relays = self._relays
        return relays.unreachable() if relays is not None else []

    def recorded_elsewhere(self) -> None:
        relays = self._relays
        if relays is not None:
            relays.recorded_elsewhere()

    def wait_until_idle(self, timeout: float = 30.0) -> bool:
        relays = self._relays
        return relays.wait_until_idle(timeout) if relays is not None else True
