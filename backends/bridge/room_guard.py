"""Only bot admins act on the rooms of a locked network (the customers' chats).

Errbot's ``!room`` commands (core plugin ChatRoom), and any plugin's command, reach every
network's rooms through the Bridge. On a network whose rooms are locked
(``BRIDGE_ROOMS_ADMIN_ONLY``, on by default where ``BRIDGE_COMMANDS`` is off), what a message
sets off (a command, or a plugin's reaction to the message) may join, leave, create, destroy,
invite to, read the topic or the occupants of, or list that network's rooms only when the
message came from a bot admin. What the bot does on its own (start-up joins, pollers,
webhooks) is not the act of anyone and stays allowed.

The sender is known per thread: the Bridge marks the thread that handles a message, and the
command thread that runs a command, for the time it takes.
"""

from __future__ import annotations

import contextlib
import inspect
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from errbot import CommandError
from errbot.backends.base import Message

_state = threading.local()
# Set by the running Bridge: which networks are locked, and whether a message is an admin's.
_locked: frozenset[str] = frozenset()
_is_admin: Callable[[Message], bool] = lambda msg: False  # noqa: E731


class RoomRefused(CommandError):
    """A room operation on a locked network, set off by someone who is not a bot admin.

    A ``CommandError``: in a command, Errbot answers with the sentence alone.
    """

    def __init__(self, action: str, network: str) -> None:
        sentence = f'Only bot admins can {action} rooms of the "{network}" network.'
        super().__init__(sentence)
        self.sentence = sentence

    def __str__(self) -> str:
        return self.sentence


def lock(networks: frozenset[str], is_admin: Callable[[Message], bool]) -> None:
    """Lock the rooms of ``networks``; ``is_admin(msg)`` (a bound method of the running
    Bridge, held weakly) tells who may still act on them."""
    global _locked, _is_admin
    method = weakref.WeakMethod(is_admin) if inspect.ismethod(is_admin) else None

    def admin(msg: Message) -> bool:
        check = method() if method is not None else is_admin
        return bool(check is not None and check(msg))

    _locked, _is_admin = frozenset(networks), admin


def locked(network: str) -> bool:
    return network in _locked


@contextlib.contextmanager
def acting_for(msg: Message | None) -> Iterator[None]:
    """Room operations in this block (this thread) are set off by ``msg``'s sender."""
    stack = _stack()
    stack.append(msg)
    try:
        yield
    finally:
        stack.pop()


def _stack() -> list[Message | None]:
    stack = getattr(_state, "stack", None)
    if stack is None:
        stack = _state.stack = []
    return stack


def _current() -> Message | None:
    stack = _stack()
    return stack[-1] if stack else None


def allowed(network: str) -> bool:
    """Whether this thread may act on the rooms of ``network`` now."""
    if network not in _locked:
        return True
    msg = _current()
    if msg is None:
        return True  # the bot's own doing: start-up, pollers, webhooks
    try:
        return bool(_is_admin(msg))
    except Exception:
        return False  # in doubt, refuse


def check(network: str, action: str) -> None:
    """Raise :class:`RoomRefused` unless this thread may ``action`` rooms of ``network``."""
    if not allowed(network):
        raise RoomRefused(action, network)


def visible(rooms: list[Any]) -> list[Any]:
    """``rooms`` without those this thread may not see (rooms of a locked network)."""
    return [room for room in rooms if allowed(getattr(room, "network", ""))]
