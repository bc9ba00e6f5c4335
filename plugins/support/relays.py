"""The relays of the agent rooms, one per room (see ``errbot_support.relay``): started and
stopped with the plugin, handed the messages just recorded, woken when a room may take
messages again."""

from __future__ import annotations

import time
from collections.abc import Callable

from errbot_support.agent_posts import AgentPosts
from errbot_support.desk import Desk
from errbot_support.records import Pending
from errbot_support.relay import RoomRelay
from errbot_support.relay_notice_store import NoticeStore
from errbot_support.relay_settings import RelaySettings
from errbot_support.routing import AgentRoom, AgentRooms

STOP_TIMEOUT = 5.0


class AgentRoomRelays:
    """The relays of one activation of the plugin, one per agent room."""

    def __init__(
        self,
        rooms: AgentRooms,
        desk: Desk,
        posts: AgentPosts,
        settings: RelaySettings,
    ) -> None:
        self.rooms = rooms
        store = desk.store
        self._notices = notices = NoticeStore(store.engine, store.writer)
        self._by_room = {
            room: RoomRelay(room, rooms, desk, posts, settings, notices=notices)
            for room in rooms.all
        }

    def start(self) -> None:
        for relay in self._by_room.values():
            relay.start()

    def stop(self) -> None:
        for relay in self._by_room.values():
            relay.request_stop()
        for relay in self._by_room.values():
            relay.join(STOP_TIMEOUT)

    def wake(self, room: AgentRoom | None = None) -> None:
        """Something waits for ``room`` (for every room if None)."""
        for agent_room, relay in self._by_room.items():
            if room is None or room == agent_room:
                relay.wake()

    def recorded(self, room: AgentRoom, pending: Pending) -> None:
        """A message was just recorded for ``room``: its relay may take it as it is, without
        reading it back, when nothing older waits in the store."""
        self._by_room[room].recorded(pending)

    def recorded_elsewhere(self) -> None:
        """Another instance recorded a customer message: every relay reads the store again."""
        for relay in self._by_room.values():
            relay.recorded_elsewhere()

    def tell(
        self,
        room: AgentRoom,
        text: str,
        number: int | None = None,
        *,
        kept: bool = True,
        source: str | None = None,
    ) -> None:
        """Post a notice in ``room`` from its relay: whoever calls never waits for the room.
        It is recorded first (``kept``), so that a crash before it is posted loses nothing;
        once only for a ``source`` (what it is about) that may come again."""
        self._by_room[room].tell(number, text, kept=kept, source=source)

    def keep_for_the_active_instance(
        self, room: AgentRoom, text: str, number: int | None, source: str | None = None
    ) -> bool:
        """Keep a notice for ``room`` that this instance, standing by, will not post: the
        active instance's relay of that room posts it, woken at once. False if one about
        ``source`` was kept already. Raises the store's error if it cannot be kept."""
        kept = self._notices.record(room.key, number, text, source, announce=True)
        return kept is not None

    def when_shown(self, room: AgentRoom, entry_id: int, then: Callable[[], None]) -> None:
        """Call ``then`` once entry ``entry_id`` was shown (or set aside) in ``room``."""
        self._by_room[room].when_shown(entry_id, then)

    def room_joined(self, room: object) -> None:
        """Someone, maybe the bot, joined ``room``: its relay looks again."""
        agent_room = self.rooms.holding(room)
        if agent_room is not None:
            self._by_room[agent_room].room_joined()

    def unreachable(self) -> list[AgentRoom]:
        """The agent rooms whose last post failed because the room was not there."""
        return sorted((r for r, relay in self._by_room.items() if relay.down), key=str)

    def wait_until_idle(self, timeout: float = 30.0) -> bool:
        """Wait until every relay has posted all it can for now (for tests and stops)."""
        deadline = time.monotonic() + timeout
        return all(
            relay.idle.wait(max(0.0, deadline - time.monotonic()))
            for relay in self._by_room.values()
        )
