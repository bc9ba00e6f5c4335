"""The one way the plugin posts to agent rooms: text made carriable, cut to the network's
limits, each piece rendered for the network (``errbot_support.rendering``) and sent as a post of
its own, in the conversation's thread where there are threads.

Posting each piece on its own (on IRC each line) means a failure stops at the piece that
failed: what went before was shown and is not posted again (Errbot's backends post a long or
multi-line text piece after piece, and an error half-way would make a retry repeat the first
pieces).
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from errbot.backends.base import Room

from errbot_support.identities import network_of
from errbot_support.limits import PostLimits, limits_for
from errbot_support.literal import carriable
from errbot_support.parts import split_post
from errbot_support.records import Conversation
from errbot_support.rendering import post
from errbot_support.routing import AgentRooms
from errbot_support.threads import ConversationThreads


class AboutConversation(Protocol):
    """Whatever posts about a conversation in its agent room (raises if it cannot)."""

    def about(self, conversation: Conversation, text: str) -> None: ...


class AgentPosts:
    def __init__(
        self, bot: Any, threads: ConversationThreads, rooms: AgentRooms, *, use_threads: bool
    ) -> None:
        """``bot``: the bot (the Bridge, or a single backend)."""
        self._bot = bot
        self._threads = threads
        self._rooms = rooms
        self._use_threads = use_threads
        self._limits: dict[str, PostLimits] = {}
        self._lock = threading.Lock()

    def limits(self, room: Room) -> PostLimits:
        """What one post to ``room`` may hold, and the pace of its network."""
        key = str(room).casefold()
        with self._lock:
            known = self._limits.get(key)
        if known is None:
            backend, config = self._network_of(room)
            inner = str(getattr(room, "inner", room))
            known = limits_for(backend, config, inner)
            with self._lock:
                self._limits[key] = known
        return known

    def joined_at_connection(self, room: Room) -> bool:
        """Whether the bot joins ``room`` by itself whenever its network connects (Errbot's
        ``CHATROOM_PRESENCE``): then the relay waits for that join instead of asking too."""
        _, config = self._network_of(room)
        wanted = str(getattr(room, "inner", room)).casefold()
        for entry in getattr(config, "CHATROOM_PRESENCE", ()) or ():
            name = entry[0] if isinstance(entry, list | tuple) else entry
            if str(name).split(":", 1)[-1].casefold() == wanted:
                return True
        return False

    def pieces(self, room: Room, text: str, number: int | None = None) -> list[str]:
        """``text`` as the posts that carry it to ``room``, in order."""
        return split_post(carriable(text), self.limits(room), number)

    def post(
        self, room: Room, text: str, number: int | None = None, *, starts_thread: bool = False
    ) -> None:
        """Post ``text`` (about conversation ``number``), in as many posts as it takes; raises
        at the first that fails."""
        for index, piece in enumerate(self.pieces(room, text, number)):
            self.post_piece(room, piece, number, starts_thread=starts_thread and index == 0)

    def about(self, conversation: Conversation, text: str, *, starts_thread: bool = False) -> None:
        """Post ``text`` about ``conversation`` in its agent room (in its thread, if any)."""
        room = self._rooms.of(conversation).room
        self.post(room, text, conversation.number, starts_thread=starts_thread)

    def post_piece(
        self, room: Room, piece: str, number: int | None = None, *, starts_thread: bool = False
    ) -> None:
        """Post one piece :meth:`pieces` gave, rendered for the room's network (made carriable
        again: that is idempotent)."""
        message = post(self._bot, carriable(piece), room)
        message.frm = self._bot.bot_identifier
        threaded = self._use_threads and number is not None
        if threaded and not starts_thread:
            message.parent = self._threads.parent_of(number)
        self._bot.send_message(message)
        if threaded and starts_thread:
            self._threads.started(number, message)

    def _network_of(self, room: Room) -> tuple[Any, Any]:
        """The backend serving ``room`` and its settings (with the Bridge: its network's)."""
        network = network_of(room)
        hosted = getattr(self._bot, "networks", None)
        if network is not None and hosted is not None:
            try:
                found = hosted[network]
                return found.backend, found.settings.config
            except Exception:
                pass
        return self._bot, getattr(self._bot, "bot_config", None)
