"""The agent rooms' relays as customer intake sees them, whether this instance faces the agents
or stands by.

Intake runs on every instance; the relays only on the active one (``errbot_support.active_role``).
While they run, what intake hands over goes to them. While this instance stands by, a message
just recorded needs no handing over (the store announced it to the active instance, which reads
it back), and nothing waits for a post this instance will not make. A notice for the agents
(someone else writing in a customer's chat, a delivery to a customer that failed) is kept in
the store for the active instance, whose relay posts it in the agent room, as this one would
have: a standby may not be in the agent rooms (on IRC it is not), and one poster means one
post. Only what the store itself refused goes to the admins from here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from errbot_support.agent_posts import AgentPosts
from errbot_support.literal import unmarked
from errbot_support.records import Conversation, Pending
from errbot_support.relays import AgentRoomRelays
from errbot_support.routing import AgentRoom

log = logging.getLogger(__name__)


class IntakeRelays:
    """``relays`` behind the interface intake uses, while ``facing()`` says they run."""

    def __init__(
        self,
        relays: AgentRoomRelays,
        posts: AgentPosts,
        facing: Callable[[], bool],
        tell_admins: Callable[[str], None],
    ) -> None:
        self._relays = relays
        self._posts = posts
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
        elif not (kept and self._keep(room, text, number, source)):
            log.warning("Standing by, so told to the admins rather than %s: %s", room, text)
            self._tell_admins(f"Support (for {room}): {unmarked(text)}")

    def about(self, conversation: Conversation, text: str) -> None:
        """Post ``text`` about ``conversation`` in its agent room (raises if the room fails);
        standing by, the active instance posts it."""
        if self._facing():
            self._posts.about(conversation, text)
            return
        room = self._relays.rooms.of(conversation)
        if not self._keep(room, text, conversation.number, None):
            raise RuntimeError(f"could not keep a notice for {room}")

    def when_shown(self, room: AgentRoom, entry_id: int, then: Callable[[], None]) -> None:
        if self._facing():
            self._relays.when_shown(room, entry_id, then)
        else:  # the active instance shows it; nothing here to wait for
            then()

    def _keep(self, room: AgentRoom, text: str, number: int | None, source: str | None) -> bool:
        """Kept for the active instance to post (or kept already, for ``source``)."""
        try:
            self._relays.keep_for_the_active_instance(room, text, number, source)
        except SQLAlchemyError as exc:
            log.warning("A notice for %s could not be kept (%s): %r", room, exc, text)
            return False
        log.info("Standing by: a notice for %s is kept for the active instance.", room)
        return True
