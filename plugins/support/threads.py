"""One agent-room thread per conversation, where the agents' chat has threads.

Errbot threads a message under another through ``Message.parent``; backends without threads
ignore it, so posting this way is safe everywhere. Recognising that an agent answered *inside*
a thread needs the backend's thread key: errbot-backend-slackv3 keeps the timestamps of a
posted message in ``extras["ts"]`` and gives incoming thread messages
``extras["slack_event"]["thread_ts"]``; a plain ``extras["thread_ts"]`` is accepted too.
Posting under a parent, errbot-backend-slackv3 reads the parent's timestamp from
``extras["slack_event"]["ts"]`` only, which the messages it posted itself lack: the root of a
conversation's thread is given one.
Each thread's key is kept with its conversation, so that after a restart the conversation goes
on in the same thread (on backends whose threads have keys, like Slack).
"""

from __future__ import annotations

import threading
from typing import Protocol

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


class ThreadKeys(Protocol):
    """Where the thread keys are kept, so that threads go on after a restart (the desk)."""

    def thread_started(self, number: int, key: str) -> None: ...

    def thread_of(self, number: int) -> str | None: ...

    def conversation_in_thread(self, key: str) -> int | None: ...


def _stand_in_parent(key: str) -> Message:
    """A parent for posting in the thread ``key`` when its root message is not at hand (after
    a restart): all errbot-backend-slackv3 reads of a parent is its timestamp."""
    return Message("", extras={"ts": [key], "slack_event": {"ts": key}})


class ConversationThreads:
    def __init__(self, keys: ThreadKeys | None = None) -> None:
        self._keys = keys
        self._lock = threading.Lock()
        self._roots: dict[int, Message] = {}
        self._numbers: dict[str, int] = {}

    def parent_of(self, number: int) -> Message | None:
        with self._lock:
            root = self._roots.get(number)
        if root is not None or self._keys is None:
            return root
        key = self._keys.thread_of(number)
        if not key:
            return None
        with self._lock:
            root = self._roots.setdefault(number, _stand_in_parent(key))
            self._numbers[key] = number
        return root

    def started(self, number: int, root: Message) -> None:
        """Remember ``root``, just posted, as the start of conversation ``number``'s thread."""
        key = _root_key(root)
        if key and "slack_event" not in root.extras:
            root.extras["slack_event"] = {"ts": key}  # where slackv3 looks for a parent's ts
        with self._lock:
            self._roots[number] = root
            if key:
                self._numbers[key] = number
        if key and self._keys is not None:
            self._keys.thread_started(number, key)

    def conversation_of(self, message: Message) -> int | None:
        """The conversation whose thread ``message`` (from an agent) was written in."""
        keys = [key for key in (_incoming_key(message), self._parent_key(message)) if key]
        with self._lock:
            for key in keys:
                if key in self._numbers:
                    return self._numbers[key]
            if message.parent is not None:
                for number, root in self._roots.items():
                    if root is message.parent:
                        return number
        if self._keys is not None:
            for key in keys:
                number = self._keys.conversation_in_thread(key)
                if number is not None:
                    return number
        return None

    @staticmethod
    def _parent_key(message: Message) -> str | None:
        return _root_key(message.parent) if message.parent is not None else None
