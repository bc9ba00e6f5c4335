"""Send everything a hosted backend reports to the Bridge.

A backend reports what happens by calling methods on itself (``self.callback_message(msg)``,
``self.connect_callback()``...), and some keep those bound methods from their ``__init__``
(PubNub hands ``self.callback_message`` to its inbound pipeline). So each network runs a
subclass of its backend class whose report methods go to the Bridge, with the backend's
identifiers wrapped on the way. Nothing here raises into the backend's own loop: in IRC, an
exception in a handler kills the reactor.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from errbot.backends.base import Message
from errbot.core import ErrBot

from errbot_bridge.errors import StopRequested

if TYPE_CHECKING:
    from errbot_bridge.backend import Bridge
    from errbot_bridge.network import Network

log = logging.getLogger(__name__)

_EVENTS = ("callback_presence", "callback_room_topic", "callback_reaction", "callback_stream")
_ROOM_EVENTS = ("callback_room_joined", "callback_room_left")
_MESSAGES = ("callback_message", "callback_mention")
# Always the Bridge's: where every message and event ends up, even through a backend's own
# override of a callback (ErrBot's versions call these two). Discord calls them directly.
_ALWAYS = ("process_message", "_dispatch_to_plugins", "warn_admins")
_STATE = ("connect_callback", "disconnect_callback")
# Messages wait for plugins to be active: a network may connect before the others do, and a
# message handed to no plugin would be lost (PubNub counts a returned callback as handled).
_MESSAGE_DISPATCHES = _MESSAGES


def hosted_class(backend_class: type, hooks: Hooks) -> type:
    """A subclass of ``backend_class`` whose report methods call ``hooks``.

    A callback the backend overrides itself stays its own: it ends in ErrBot's version, which
    reports through ``process_message`` and ``_dispatch_to_plugins``, and those are hooked.
    """
    namespace: dict[str, Any] = {}
    for name in (*_MESSAGES, *_EVENTS, *_ROOM_EVENTS):
        if not _overrides(backend_class, name):
            namespace[name] = _forward(hooks, name)
    for name in _ALWAYS:
        namespace[name] = _forward(hooks, name)
    for name in _STATE:
        namespace[name] = _state_change(backend_class, hooks, name)
    # Same name and module: code that looks the backend's module up (Test's quit message,
    # log records) still finds it.
    namespace["__module__"] = backend_class.__module__
    namespace["__qualname__"] = backend_class.__qualname__
    return type(backend_class.__name__, (backend_class,), namespace)


def _overrides(backend_class: type, name: str) -> bool:
    return getattr(backend_class, name) is not getattr(ErrBot, name)


def _forward(hooks: Hooks, name: str) -> Callable[..., Any]:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return getattr(hooks, name)(*args, **kwargs)

    method.__name__ = name
    return method


def _state_change(backend_class: type, hooks: Hooks, name: str) -> Callable[..., None]:
    """The backend's own connect/disconnect work (if any) runs; then the Bridge hears of it."""
    own = getattr(backend_class, name) if _overrides(backend_class, name) else None

    def method(self: Any) -> None:
        if own is not None:
            own(self)  # its ErrBot part touches no plugin: the backend sees none
        getattr(hooks, name)()

    method.__name__ = name
    return method


class Hooks:
    """What one network reports, translated for the Bridge."""

    def __init__(self, bridge: Bridge, network: Network) -> None:
        self.bridge = bridge
        self.network = network
        self.name = network.name

    def _guarded(self, what: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except StopRequested:
            raise  # the bot is stopping before plugins started: the message is not handled
        except Exception:
            log.exception('Handling %s from the "%s" network failed.', what, self.name)
            return None

    def _network(self) -> Network:
        if not self.network.attached:
            raise RuntimeError(f'the "{self.name}" network reported an event while starting')
        return self.network

    def callback_message(self, msg: Message) -> None:
        bridged = self._network().translate.message(msg)
        self.bridge.wait_until_active()
        self._guarded("a message", lambda: self.bridge.callback_message(bridged))

    def callback_mention(self, msg: Message, people: Any) -> None:
        wrap = self._network().translate
        bridged, mentioned = wrap.message(msg), wrap.anything(list(people))
        self.bridge.wait_until_active()
        self._guarded("a mention", lambda: self.bridge.callback_mention(bridged, mentioned))

    def process_message(self, msg: Message) -> bool:
        bridged = self._network().translate.message(msg)
        self.bridge.wait_until_active()
        return bool(self._guarded("a message", lambda: self.bridge.process_message(bridged)))

    def _dispatch_to_plugins(self, method: str, *args: Any, **kwargs: Any) -> None:
        wrap = self._network().translate
        args = wrap.anything(args)
        kwargs = {k: wrap.anything(v) for k, v in kwargs.items()}
        if method in _MESSAGE_DISPATCHES:
            self.bridge.wait_until_active()
        self._guarded(method, lambda: self.bridge.dispatch_to_plugins(method, *args, **kwargs))

    def __getattr__(self, name: str) -> Callable[..., None]:
        if name in _EVENTS:
            return self._event(name)
        if name in _ROOM_EVENTS:
            return self._room_event(name)
        raise AttributeError(name)

    def _event(self, name: str) -> Callable[..., None]:
        def forward(*args: Any, **kwargs: Any) -> None:
            wrap = self._network().translate
            args = wrap.anything(args)
            kwargs = {k: wrap.anything(v) for k, v in kwargs.items()}
            self._guarded(name, lambda: getattr(self.bridge, name)(*args, **kwargs))

        return forward

    def _room_event(self, name: str) -> Callable[..., None]:
        def forward(room: Any, identifier: Any = None, other: Any = None) -> None:
            network = self._network()
            # Unnamed, it is the bot itself: as this network knows it, not as the first one does.
            if identifier is None:
                identifier = getattr(network.backend, "bot_identifier", None)
            wrap = network.translate
            self._guarded(
                name,
                lambda: getattr(self.bridge, name)(
                    wrap.room(room), wrap.identifier(identifier), wrap.identifier(other)
                ),
            )

        return forward

    def connect_callback(self) -> None:
        network = self._network()
        if hasattr(network.backend, "reset_reconnection_count"):
            network.backend.reset_reconnection_count()
        network.mark_connected()

    def disconnect_callback(self) -> None:
        self._network().mark_disconnected()

    def warn_admins(self, warning: str) -> None:
        if getattr(self.bridge, "bot_config", None) is None:  # the Bridge itself is starting
            log.warning('The "%s" network warns: %s', self.name, warning)
            return
        self.bridge.warn_admins(warning)
