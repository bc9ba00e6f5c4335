"""Re-point a hosted backend's callbacks to the Bridge.

A backend reports what happens by calling methods on itself (``self.callback_message(msg)``,
``self.connect_callback()``...). Replacing those methods on the instance sends every report to
the Bridge, with the backend's identifiers wrapped on the way. Nothing here ever raises into the
backend's own loop: in IRC, an exception in a handler kills the reactor.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from errbot.backends.base import Message

from errbot_bridge.quirks import StopRequested

if TYPE_CHECKING:
    from errbot_bridge.backend import Bridge
    from errbot_bridge.network import Network

log = logging.getLogger(__name__)

_EVENTS = ("callback_presence", "callback_room_topic", "callback_reaction", "callback_stream")
_ROOM_EVENTS = ("callback_room_joined", "callback_room_left")
# Messages wait for plugins to be active: a network may connect before the others do, and a
# message handed to no plugin would be lost (PubNub counts a returned callback as handled).
_MESSAGE_DISPATCHES = ("callback_message", "callback_mention")


def install_hooks(network: Network, bridge: Bridge) -> None:
    """Send everything ``network``'s backend reports to ``bridge``."""
    hooks = _Hooks(network, bridge)
    backend = network.backend
    backend.callback_message = hooks.callback_message
    backend.callback_mention = hooks.callback_mention
    backend.process_message = hooks.process_message  # Discord calls these two directly
    backend._dispatch_to_plugins = hooks.dispatch_to_plugins
    for name in _EVENTS:
        setattr(backend, name, hooks.event(name))
    for name in _ROOM_EVENTS:
        setattr(backend, name, hooks.room_event(name))
    backend.connect_callback = hooks.connect_callback
    backend.disconnect_callback = hooks.disconnect_callback
    # Admins may sit on another network than the one with something to report.
    backend.warn_admins = bridge.warn_admins


class _Hooks:
    def __init__(self, network: Network, bridge: Bridge) -> None:
        self.network = network
        self.bridge = bridge
        self.wrap = network.translate

    def _guarded(self, what: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except StopRequested:
            raise  # the bot is stopping before plugins started: the message is not handled
        except Exception:
            log.exception('Handling %s from the "%s" network failed.', what, self.network.name)
            return None

    def callback_message(self, msg: Message) -> None:
        bridged = self.wrap.message(msg)
        self.bridge.wait_until_active()
        self._guarded("a message", lambda: self.bridge.callback_message(bridged))

    def callback_mention(self, msg: Message, people: Any) -> None:
        bridged, mentioned = self.wrap.message(msg), self.wrap.anything(list(people))
        self.bridge.wait_until_active()
        self._guarded("a mention", lambda: self.bridge.callback_mention(bridged, mentioned))

    def process_message(self, msg: Message) -> bool:
        bridged = self.wrap.message(msg)
        self.bridge.wait_until_active()
        return bool(self._guarded("a message", lambda: self.bridge.process_message(bridged)))

    def dispatch_to_plugins(self, method: str, *args: Any, **kwargs: Any) -> None:
        args = self.wrap.anything(args)
        kwargs = {k: self.wrap.anything(v) for k, v in kwargs.items()}
        if method in _MESSAGE_DISPATCHES:
            self.bridge.wait_until_active()
        self._guarded(method, lambda: self.bridge._dispatch_to_plugins(method, *args, **kwargs))

    def event(self, name: str) -> Callable[..., None]:
        def forward(*args: Any, **kwargs: Any) -> None:
            args = self.wrap.anything(args)
            kwargs = {k: self.wrap.anything(v) for k, v in kwargs.items()}
            self._guarded(name, lambda: getattr(self.bridge, name)(*args, **kwargs))

        return forward

    def room_event(self, name: str) -> Callable[..., None]:
        def forward(room: Any, identifier: Any = None, other: Any = None) -> None:
            # Unnamed, it is the bot itself: as this network knows it, not as the first one does.
            if identifier is None:
                identifier = getattr(self.network.backend, "bot_identifier", None)
            wrap = self.wrap
            self._guarded(
                name,
                lambda: getattr(self.bridge, name)(
                    wrap.room(room), wrap.identifier(identifier), wrap.identifier(other)
                ),
            )

        return forward

    def connect_callback(self) -> None:
        backend = self.network.backend
        if hasattr(backend, "reset_reconnection_count"):
            backend.reset_reconnection_count()
        self.network.mark_connected()

    def disconnect_callback(self) -> None:
        self.network.mark_disconnected()
