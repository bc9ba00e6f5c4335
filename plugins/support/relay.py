"""Recorded customer messages to their agent room: once each, in order, each until it is posted.

A message is recorded before it is relayed, so the store is the queue: a pass over it relays
whatever waits (at start, on a poller, after an outage). A message just recorded goes
straight to the room, without being read back, only when no older one can be waiting.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from errbot_support import formatting
from errbot_support.desk import Desk
from errbot_support.records import Entry, Pending, Recorded
from errbot_support.routing import AgentRoom, AgentRooms

log = logging.getLogger(__name__)

RELAY_BATCH = 50  # recorded messages read, relayed and marked at a time

#: Posts ``text`` to ``room`` for conversation ``number`` (``starts_thread`` for the message
#: that opens it); raises when the room cannot take it.
Post = Callable[[AgentRoom, str, int, bool], None]


class AgentRoomRelay:
    """Relays for one activation of the plugin, to the agent rooms (one per team).

    A room that cannot take messages (its network is down, the bot is not in it yet) holds up
    its own conversations only: a pass goes on past their messages with the other rooms'.
    """

    def __init__(
        self,
        rooms: AgentRooms,
        post: Post,
        *,
        prefix: str,
        join_as: str | None,
        warn_admins: Callable[[str], None],
    ) -> None:
        self.rooms = rooms
        self._post = post
        self._prefix = prefix
        self._join_as = join_as
        self._warn_admins = warn_admins
        self._lock = threading.Lock()  # one relay at a time
        # Whether a message just recorded may go straight to the agent room, and a count of
        # the passes over the store that could have relayed it meanwhile (see ``recorded``).
        self._directly = False  # until a first pass finds nothing left behind
        self._epoch = 0
        self._down: set[AgentRoom] = set()
        self._in_room_confirmed: set[AgentRoom] = set()

    @property
    def epoch(self) -> int:
        """Read before recording a message, and given back to :meth:`recorded`."""
        return self._epoch

    def unreachable(self) -> list[AgentRoom]:
        """The agent rooms that failed and have not taken a message since."""
        return sorted(self._down, key=str)

    def pending(self, desk: Desk) -> None:
        """Relay recorded messages to their agent rooms, oldest first, each until it succeeds.

        Runs on a poller, at start and whenever a message could not go straight to its agent
        room (see :meth:`recorded`): when an agents' network is down, messages wait in the
        store and follow, in order, once it is back. One thread relays at a time, everything
        recorded so far, and marks what it relayed in one transaction per batch.
        """
        with self._lock:
            # Messages recorded while this pass runs may be seen by it: they must not go
            # straight to the agent room as well. Counting the pass at its start and at its
            # end tells those whose recording began before it (and took long) from the others.
            self._epoch += 1
            self._directly = False
            try:
                self._pass(desk)
            finally:
                self._epoch += 1

    def _pass(self, desk: Desk) -> None:
        blocked: set[AgentRoom] = set()  # rooms that took nothing in this pass
        after = 0
        while len(blocked) < len(self.rooms.all):
            batch = desk.unrelayed(limit=RELAY_BATCH, after=after)
            if not batch:
                break
            after = batch[-1].entry.id
            self._relay(desk, batch, blocked)
            if len(batch) < RELAY_BATCH:
                break  # that was all of it
        if blocked:
            return  # their messages wait for the next pass
        self._directly = True  # nothing waits: new messages may go straight
        for room in sorted(self._down, key=str):
            log.info("The agent room %s is reachable again.", room)
        self._down.clear()

    def recorded(self, desk: Desk, recorded: Recorded, epoch: int) -> None:
        """Relay a message just recorded, as recorded, when nothing older can be waiting.

        That is when the last pass over the store left nothing behind, nothing failed since,
        and no pass began or ended after this message's recording began (``epoch``), so that
        no pass can have relayed it already. Otherwise a pass over the store relays it, in order.
        Either way it was recorded first; this only spares reading back what was just
        written.
        """
        with self._lock:
            if self._directly and epoch == self._epoch:
                # Should its room fail, the message waits in the store for the next pass.
                self._relay(desk, [Pending(recorded.entry, recorded.conversation)], set())
                return
        self.pending(desk)

    def room_joined(self, room: object) -> None:
        """Someone, maybe the bot after an outage, joined ``room``: if it is an agent room,
        the next relay looks again whether the bot is in it."""
        agent_room = self.rooms.holding(room)
        if agent_room is not None:
            # No lock: joining from a relay pass calls this back on the pass's own thread.
            self._in_room_confirmed.discard(agent_room)

    def _relay(self, desk: Desk, batch: list[Pending], blocked: set[AgentRoom]) -> None:
        """Send ``batch`` to the agent rooms and mark what was sent; a room that fails is
        added to ``blocked`` and gets none of the batch's later messages, so that each
        conversation's messages still arrive in order."""
        sent: list[Entry] = []
        try:
            for pending in batch:
                room = self.rooms.of(pending.conversation)
                if room in blocked or not self._in_room(room):
                    blocked.add(room)
                    continue
                text = formatting.relay(pending, self._prefix, desk.clock())
                try:
                    self._post(
                        room, text, pending.conversation.number, pending.entry.opens_conversation
                    )
                except Exception as exc:
                    self._unreachable(room, exc)
                    blocked.add(room)
                    continue
                sent.append(pending.entry)
        finally:
            if sent:
                desk.mark_relayed(*sent)
            if blocked:
                self._directly = False

    def _in_room(self, agent_room: AgentRoom) -> bool:
        """Whether the bot is in the agent room, joining it if not; checked after a start or an
        outage only, since on some networks the check is a remote call.

        Relaying into a room the bot has not (re)joined yet would be lost on networks that
        refuse messages from outside a room (most IRC servers), without any error.
        """
        if agent_room in self._in_room_confirmed:
            return True
        room = agent_room.room
        try:
            if not room.joined:
                room.join(username=self._join_as)
            joined = room.joined
        except Exception as exc:  # not every backend can tell; then assume it is there
            log.debug("Cannot tell whether the bot is in %s: %s", room, exc)
            joined = True
        if joined:
            self._in_room_confirmed.add(agent_room)
        else:
            log.info("Waiting to be in the agent room %s before relaying.", room)
        return bool(joined)

    def _unreachable(self, room: AgentRoom, exc: Exception) -> None:
        self._in_room_confirmed.discard(room)
        if room in self._down:
            return
        self._down.add(room)
        log.warning(
            "Cannot post to the agent room %s (%s); customer messages are kept and will "
            "be relayed when it is back.",
            room,
            exc,
        )
        try:
            self._warn_admins(
                f"Support: the agent room {room} is unreachable ({exc}); customer "
                "messages are kept and will be relayed when it is back."
            )
        except Exception:
            log.exception("Could not tell the admins either.")
