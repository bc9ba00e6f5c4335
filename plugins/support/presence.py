"""Whether the bot is in an agent room, and asking to join it: once, and again only after a
timeout, never once per message (IRC servers punish a client that repeats JOIN: public networks
disconnect it for "Excess Flood").

Relaying into a room the bot has not (re)joined yet would be lost on networks that refuse
messages from outside a room (most IRC servers), without any error.
"""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger(__name__)

JOIN_TIMEOUT = 30.0  # seconds before asking again to join a room the bot is not in
#: Seconds given at start to the join the bot makes by itself (``CHATROOM_PRESENCE``): not
#: every backend tells of it (Errbot's Text backend joins another object for the same room).
PRESENCE_GRACE = 3.0


class RoomPresence:
    def __init__(self, room: Any, join_as: str | None, *, joins_by_itself: bool) -> None:
        """``joins_by_itself``: the bot joins ``room`` whenever its network connects (Errbot's
        ``CHATROOM_PRESENCE``), so that join is waited for rather than asked again."""
        self.room = room
        self._join_as = join_as
        self._confirmed = False
        self._asked: float | None = None
        if joins_by_itself:  # as if asked long enough ago that only the grace is left
            self._asked = time.monotonic() - JOIN_TIMEOUT + PRESENCE_GRACE

    def asked(self) -> None:
        """A join was asked for, or confirmed (Errbot says so as it sends JOIN)."""
        self._asked = time.monotonic()

    def lost(self) -> None:
        """A post failed: look again whether the bot is in the room before the next."""
        self._confirmed = False

    @property
    def waiting_for_a_join(self) -> bool:
        return self._asked is not None and time.monotonic() - self._asked < JOIN_TIMEOUT

    def ready(self) -> bool:
        """Whether the bot is in the room, asking to join it if it is not and may ask; raises
        if the network cannot even be asked."""
        if self._confirmed:
            return True
        try:
            joined = self.room.joined
        except Exception as exc:  # not every backend can tell; then assume it is there
            log.debug("Cannot tell whether the bot is in %s: %s", self.room, exc)
            joined = True
        if not joined and not self.waiting_for_a_join:
            self._asked = time.monotonic()
            try:
                self.room.join(username=self._join_as)
            except Exception:
                self._asked = None  # nothing was asked: ask at the next look
                raise
            joined = self.room.joined
        if not joined:
            log.debug("Waiting to be in the agent room %s before relaying.", self.room)
            return False
        self._confirmed = True
        return True
