"""One agent-room thread per conversation, where the agents' chat has threads.

Errbot threads a message under another through ``Message.parent``; backends without threads
ignore it, so posting this way is safe everywhere. Recognising that an agent answered *inside*
a thread needs the backend's thread key: errbot-backend-slackv3 keeps the timestamps of a
posted message in ``extras["ts"]`` and gives incoming thread messages
``extras["slack_event"]["thread_ts"]``; a plain ``extras["thread_ts"]`` is accepted too.
Posting under a parent, errbot-backend-slackv3 reads the parent's timestamp from
``extras["slack_event"]["ts"]`` only, which the messages it posted itself lack: the root of a
conversation's thread is given one.
Threads live in memory: after a restart, the next message of a conversation starts a new one.
"""

from __future__ import annotations

import threading

from errbot.backends.base import Message


def _root_key(message: Message) -> str | None:
    """The thread key of a message this bot posted."""
    stamps = message.extras.get("ts")
    if isinstance(stamps, list | tuple) and stamps:
        return str(stamps[0])
    if isinstance(stamps, str):
        return stamps
    return _incoming_key(message, "ts")


def _incoming_key(message: Message, field: str = "thread_ts") -> str | None:
    event = message.extras.get("slack_event")
    if isinstance(event, dict) and event.get(field):
        return str(event[field])
    value = message.extras.get(field)
    return str(value) if value else None


class ConversationThreads:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._roots: dict[int, Message] = {}
        self._numbers: dict[str, int] = {}

    def parent_of(self, number: int) -> Message | None:
        with self._lock:
            return self._roots.get(number)

    def started(self, number: int, root: Message) -> None:
        """Remember ``root``, just posted, as the start of conversation ``number``'s thread."""
        key = _root_key(root)
        if key and "slack_event" not in root.extras:
            root.extras["slack_event"] = {"ts": key}  # where slackv3 looks for a parent's ts
        with self._lock:
            self._roots[number] = root
            if key:
                self._numbers[key] = number

    def conversation_of(self, message: Message) -> int | None:
        """The conversation whose thread ``message`` (from an agent) was written in."""
        keys = [_incoming_key(message)]
        if message.parent is not None:
            keys.append(_root_key(message.parent))
        with self._lock:
            for key in keys:
                if key and key in self._numbers:
                    return self._numbers[key]
            if message.parent is not None:
                for number, root in self._roots.items():
                    if root is message.parent:
                        return number
        return None
