"""The agent rooms' relays as customer intake sees them, whether this instance faces the agents
or stands by.

Intake runs on every instance; the relays only on the active one (``errbot_support.active_role``).
While they run, what intake hands over goes to them. While this instance stands by, a message
just recorded needs no handing over (the store announced it to the active instance, which reads
it back), nothing waits for a post this instance will not make, and a notice for the agents goes
to the admins instead, since a standby may not be in the agent rooms (on IRC it is not).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from errbot_support.literal import unmarked
from errbot_support.records import Pending
from errbot_support.relays import AgentRoomRelays
from errbot_support.routing import AgentRoom

log = logging.getLogger(__name__)


class IntakeRelays:
    """``relays`` behind the interface intake uses, while ``facing()`` says they run."""

    def __init__(
        self,
        relays: AgentRoomRelays,
        facing: Callable[[], bool],
        tell_admins: Callable[[str], None],
    ) -> None:
        self._relays = relays
        self._facing = facing
        self._tell_admins = tell_admins

    def recorded(self, room: AgentRoom, pending: Pending) -> None:
        if self._facing():
            self._relays.recorded(room, pending)

    def wake(self, room: AgentRoom | None = None) -> None:
        if self._facing():
            self._relays.wake(room)

    def tell(
        self,
        room: AgentRoom,
        text: str,
        number: int | None = None,
        *,
        kept: bool = True,
        source: str | None = None,
    ) -> None:
        if self._facing():
            self._relays.tell(room, text, number, kept=kept, source=source)
            return
        log.warning("Standing by, so told to the admins rather than %s: %s", room, text)
        self._tell_admins(f"Support (for {room}): {unmarked(text)}")

    def when_shown(self, room: AgentRoom, entry_id: int, then: Callable[[], None]) -> None:
        if self._facing():
            self._relays.when_shown(room, entry_id, then)
        else:  # the active instance shows it; nothing here to wait for
            then()
