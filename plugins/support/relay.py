"""Recorded customer messages to the agent room: once each, in order, each until it is posted.

A message is recorded before it is relayed, so the store is the queue: a pass over it relays
whatever waits (at start, on a poller, after an outage). A message just recorded goes
straight to the room, without being read back, only when no older one can be waiting.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from errbot.backends.base import Room

from errbot_support import formatting
from errbot_support.desk import Desk
from errbot_support.records import Entry, Pending, Recorded

log = logging.getLogger(__name__)

RELAY_BATCH = 50  # recorded messages read, relayed and marked at a time

#: Posts ``text`` to the agent room for conversation ``number`` (``starts_thread`` for the
#: message that opens it); raises when the room cannot take it.
Post = Callable[[str, int, bool], None]


class AgentRoomRelay:
    """Relays for one activation of the plugin, to one agent room."""

    def __init__(
        self,
        room: Room,
        post: Post,
        *,
        prefix: str,
        join_as: str | None,
        warn_admins: Callable[[str], None],
    ) -> None:
        self.room = room
        self._post = post
        self._prefix = prefix
        self._join_as = join_as
        self._warn_admins = warn_admins
        self._lock = threading.Lock()  # one relay at a time
        # Whether a message just recorded may go straight to the agent room, and a count of
        # the passes over the store that could have relayed it meanwhile (see ``recorded``).
        self._directly = False  # until a first pass finds nothing left behind
        self._epoch = 0
        self._down = False
        self._in_room_confirmed = False

    @property
    def epoch(self) -> int:
        """Read before recording a message, and given back to :meth:`recorded`."""
        return self._epoch

    def pending(self, desk: Desk) -> None:
        """Relay recorded messages to the agent room, oldest first, each until it succeeds.

        Runs on a poller, at start and whenever a message could not go straight to the agent
        room (see :meth:`recorded`): when the agents' network is down, messages wait in the
        store and follow, in order, once it is back. One thread relays at a time, everything
        recorded so far, and marks what it relayed in one transaction.
        """
        with self._lock:
            # Messages recorded from now on may be seen by this pass: they must not go
            # straight to the agent room as well.
            self._epoch += 1
            self._directly = False
            while True:
                batch = desk.unrelayed(limit=RELAY_BATCH)
                if not batch:
                    break
                if not self._in_room():
                    return
                if not self._relay(desk, batch):
                    return
                if len(batch) < RELAY_BATCH:
                    break  # that was all of it
            self._directly = True  # nothing waits: new messages may go straight
            if self._down:
                self._down = False
                log.info("The agent room %s is reachable again.", self.room)

    def recorded(self, desk: Desk, recorded: Recorded, epoch: int) -> None:
        """Relay a message just recorded, as recorded, when nothing older can be waiting.

        That is when the last pass over the store left nothing behind, nothing failed since,
        and no pass began after this message's recording began (``epoch``), so that no pass
        can have relayed it already. Otherwise a pass over the store relays it, in order.
        Either way it was recorded first; this only spares reading back what was just
        written.
        """
        with self._lock:
            if self._directly and epoch == self._epoch and self._in_room():
                self._relay(desk, [Pending(recorded.entry, recorded.conversation)])
                return
        self.pending(desk)

    def room_joined(self) -> None:
        """Someone, maybe the bot after an outage, joined the agent room: the next relay looks
        again whether the bot is in it."""
        self._in_room_confirmed = False

    def _relay(self, desk: Desk, batch: list[Pending]) -> bool:
        """Send ``batch`` to the agent room and mark what was sent; False if the room failed."""
        sent: list[Entry] = []
        try:
            for pending in batch:
                text = formatting.relay(pending, self._prefix, desk.clock())
                try:
                    self._post(text, pending.conversation.number, pending.entry.opens_conversation)
                except Exception as exc:
                    self._unreachable(exc)
                    return False
                sent.append(pending.entry)
            return True
        finally:
            if sent:
                desk.mark_relayed(*sent)

    def _in_room(self) -> bool:
        """Whether the bot is in the agent room, joining it if not; checked after a start or an
        outage only, since on some networks the check is a remote call.

        Relaying into a room the bot has not (re)joined yet would be lost on networks that
        refuse messages from outside a room (most IRC servers), without any error.
        """
        if self._in_room_confirmed:
            return True
        room = self.room
        try:
            if not room.joined:
                room.join(username=self._join_as)
            joined = room.joined
        except Exception as exc:  # not every backend can tell; then assume it is there
            log.debug("Cannot tell whether the bot is in %s: %s", room, exc)
            joined = True
        self._in_room_confirmed = bool(joined)
        if not joined:
            log.info("Waiting to be in the agent room %s before relaying.", room)
        return self._in_room_confirmed

    def _unreachable(self, exc: Exception) -> None:
        self._in_room_confirmed = False
        self._directly = False
        if self._down:
            return
        self._down = True
        log.warning(
            "Cannot post to the agent room %s (%s); customer messages are kept and will "
            "be relayed when it is back.",
            self.room,
            exc,
        )
        try:
            self._warn_admins(
                f"Support: the agent room {self.room} is unreachable ({exc}); customer "
                "messages are kept and will be relayed when it is back."
            )
        except Exception:
            log.exception("Could not tell the admins either.")
