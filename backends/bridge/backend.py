"""The Bridge: one Errbot bot living on several networks at once.

Each network (an entry of ``BRIDGE_BACKENDS``) is an ordinary Errbot backend with a private copy
of the configuration, serving on its own thread. Its callbacks are re-pointed here, so plugins
see one bot: messages and events arrive from every network with identifiers that carry their
network, and everything a plugin sends is routed back to the network the target belongs to.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import signal
import threading
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from errbot.backends.base import ONLINE, Identifier, Message, Room
from errbot.core import ErrBot
from errbot.core_plugins.acls import get_acl_usr, glob
from errbot.utils import split_string_after

from errbot_bridge import room_guard
from errbot_bridge.errors import BridgeConfigurationError, NetworkUnavailableError, StopRequested
from errbot_bridge.hooks import Hooks
from errbot_bridge.identifiers import BridgeIdentifier, register_builder
from errbot_bridge.loader import load_backend
from errbot_bridge.network import Network, NetworkStatus
from errbot_bridge.settings import read_settings, split_network
from errbot_bridge.translate import network_of

log = logging.getLogger(__name__)

_SUPERVISION_TICK = 0.5  # seconds between two looks at the start timeout and the stop flag


class BotConfig:
    """The configuration as ErrBot and the plugins read it through the Bridge: the user's own,
    except ``CHATROOM_PRESENCE``. The Bridge joins each network's rooms whenever that network
    (re)connects; ErrBot's ChatRoom plugin would try them all on the first network up."""

    CHATROOM_PRESENCE: tuple[Any, ...] = ()

    def __init__(self, config: Any) -> None:
        object.__setattr__(self, "config", config)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.config, name)

    def __dir__(self) -> list[str]:
        return sorted({*dir(self.config), "CHATROOM_PRESENCE"})

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.config, name, value)


class Bridge(ErrBot):
    """Hosts several Errbot backends (``BRIDGE_BACKENDS``) as one bot."""

    def __init__(self, config: Any) -> None:
        self._settings = read_settings(config)
        self._events: queue.Queue[Network | None] = queue.Queue()
        # Backends are built before ErrBot.__init__ writes into the shared configuration.
        networks = [
            Network(settings, self._events.put, self._network_finished)
            for settings in self._settings.networks
        ]
        for network in networks:
            network.attach(load_backend(network.settings, Hooks(self, network)))
        super().__init__(BotConfig(config))
        self._stop_requested = threading.Event()
        self._activated = threading.Event()
        self._activating_thread: int | None = None
        self._joined_generation: dict[str, int] = {}
        self._announced: dict[str, bool] = {}
        self._networks: dict[str, Network] = {network.name: network for network in networks}
        self._name_storage_namespaces()
        register_builder(self)
        room_guard.lock(
            frozenset(n.name for n in self._settings.networks if n.rooms_admin_only),
            self.is_admin,
        )

    # -- the hosted backends (public) ----------------------------------------------------------

    @property
    def networks(self) -> Mapping[str, Network]:
        """Every network by name, in ``BRIDGE_BACKENDS`` order (read-only)."""
        return MappingProxyType(self._networks)

    def hosted_backends(self, kind: type | str | None = None) -> dict[str, ErrBot]:
        """The hosted backends by network name, optionally only those of one kind.

        ``kind`` is a backend class (``hosted_backends(PubNubBackend)``) or the backend's name
        as written in ``BRIDGE_BACKENDS`` (``hosted_backends("IRC")``).
        """
        return {
            name: network.backend
            for name, network in self._networks.items()
            if kind is None
            or (isinstance(kind, str) and network.backend_name == kind)
            or (isinstance(kind, type) and isinstance(network.backend, kind))
        }

    def dispatch_to_plugins(self, method: str, *args: Any, **kwargs: Any) -> None:
        """ErrBot's dispatch of an event to every plugin, for what a network reports."""
        self._dispatch_to_plugins(method, *args, **kwargs)

    def network_status(self) -> list[NetworkStatus]:
        return [network.status() for network in self._networks.values()]

    # -- lifecycle -----------------------------------------------------------------------------

    def serve_forever(self) -> None:
        previous_sigterm = self._handle_sigterm()
        try:
            if not self._stop_requested.is_set():
                for network in self._networks.values():
                    network.start()
                self._supervise()
        except KeyboardInterrupt:
            log.info("Interrupt received, stopping every network.")
        finally:
            self._stop_networks()
            self.disconnect_callback()
            self.shutdown()
            if previous_sigterm is not None:
                signal.signal(signal.SIGTERM, previous_sigterm)
            log.info("The Bridge has stopped.")
        for network in self._networks.values():
            if network.fatal:
                raise BridgeConfigurationError(
                    f'BRIDGE_BACKENDS["{network.name}"]: {network.fatal}'
                )

    def stop_serving(self) -> None:
        """End :meth:`serve_forever` promptly; safe to call from any thread, more than once."""
        self._stop_requested.set()
        self._events.put(None)  # wakes the supervisor

    def _handle_sigterm(self) -> Any:
        """SIGTERM (systemd, docker stop) stops the bot like Ctrl-C: every network cleanly."""
        if threading.current_thread() is not threading.main_thread():
            return None
        return signal.signal(signal.SIGTERM, lambda *_: self.stop_serving())

    def _supervise(self) -> None:
        started = time.monotonic()
        timeout = self._settings.start_timeout
        while not self._stop_requested.is_set():
            with contextlib.suppress(queue.Empty):
                self._events.get(timeout=_SUPERVISION_TICK)
            if self._stop_requested.is_set():
                return
            if not self._activated.is_set():
                waited = time.monotonic() - started
                everyone = all(n.connected for n in self._networks.values())
                if everyone or (timeout is not None and waited >= timeout):
                    self._activate()
            else:
                self._follow_networks()

    def _activate(self) -> None:
        missing = [n for n in self._networks.values() if not n.connected]
        self._activating_thread = threading.get_ident()
        try:
            self.connect_callback()  # activates plugins, then their callback_connect
        finally:
            self._activated.set()
            self._activating_thread = None
        for network in self._networks.values():
            self._announced[network.name] = network.connected
        if missing:
            names = ", ".join(f'"{n.name}" ({n.backend_name})' for n in missing)
            self.warn_admins(
                f"Plugins started although {names} could not connect within "
                f"{self._settings.start_timeout:g} s; messages to it fail until it connects."
            )
        self._follow_networks()

    def _follow_networks(self) -> None:
        """Join rooms of networks that (re)connected; tell admins when a network comes or goes."""
        for network in self._networks.values():
            connected = network.connected
            if connected and self._joined_generation.get(network.name) != network.generation:
                self._joined_generation[network.name] = network.generation
                self._join_rooms(network)
            if self._announced.get(network.name, connected) != connected:
                self._announced[network.name] = connected
                state = "connected again" if connected else "disconnected; it reconnects on its own"
                self.warn_admins(
                    f'The "{network.name}" network ({network.backend_name}) is {state}.'
                )

    def _join_rooms(self, network: Network) -> None:
        config = network.settings.config
        for entry in getattr(config, "CHATROOM_PRESENCE", ()) or ():
            room, password = entry if isinstance(entry, list | tuple) else (entry, None)
            try:
                network.backend.query_room(room).join(
                    username=getattr(config, "CHATROOM_FN", None), password=password
                )
            except Exception:
                log.exception('Joining %s on the "%s" network failed.', room, network.name)

    def _network_finished(self, network: Network, reason: str) -> None:
        log.info(
            'The "%s" network (%s) ended (%s): stopping the bot.',
            network.name,
            network.backend_name,
            reason,
        )
        self.stop_serving()

    def _stop_networks(self) -> None:
        """Stop the networks that stop by themselves (``stop_serving()``: PubNub hands the
        messages it holds to plugins first) before the others, which can meanwhile still carry
        what plugins send about those messages (a relay to the agents' room on IRC)."""
        self._stop_requested.set()
        networks = list(self._networks.values())
        first = [n for n in networks if callable(getattr(n.backend, "stop_serving", None))]
        for wave in (first, [n for n in networks if n not in first]):
            self._stop_wave(wave)

    def _stop_wave(self, networks: list[Network]) -> None:
        stoppable = {n.name: n.request_stop() for n in networks}
        deadline = time.monotonic() + self._settings.stop_timeout
        for network in networks:
            # A backend that cannot be interrupted (Text in input()) is not waited for.
            wait = max(0.0, deadline - time.monotonic()) if stoppable[network.name] else 0.0
            if not network.join(wait) and stoppable[network.name]:
                log.warning(
                    'The "%s" network (%s) did not stop within %g s; leaving it behind.',
                    network.name,
                    network.backend_name,
                    self._settings.stop_timeout,
                )

    def wait_until_active(self) -> None:
        """Hold an inbound message until plugins are active, so none is dropped at start-up."""
        if self._activated.is_set() or threading.get_ident() == self._activating_thread:
            return
        while not self._activated.wait(_SUPERVISION_TICK):
            if self._stop_requested.is_set():
                raise StopRequested("the bot stopped before every network connected")

    # -- storage and managers reach the hosted backends too ------------------------------------

    def attach_storage_plugin(self, storage_plugin: Any) -> None:
        super().attach_storage_plugin(storage_plugin)
        for network in self._networks.values():
            network.backend.attach_storage_plugin(storage_plugin)

    def attach_repo_manager(self, repo_manager: Any) -> None:
        super().attach_repo_manager(repo_manager)
        for network in self._networks.values():
            network.backend.attach_repo_manager(_ManagerView(repo_manager))

    def attach_plugin_manager(self, plugin_manager: Any) -> None:
        super().attach_plugin_manager(plugin_manager)
        for network in self._networks.values():
            network.backend.attach_plugin_manager(_PluginManagerView(plugin_manager))

    def initialize_backend_storage(self) -> None:
        super().initialize_backend_storage()
        for network in self._networks.values():
            network.open_storage(self.storage_plugin)

    def shutdown(self) -> None:
        for network in self._networks.values():
            network.close_storage()
        super().shutdown()

    def _name_storage_namespaces(self) -> None:
        """A backend alone on its kind keeps the namespace it has outside a bridge."""
        modes: dict[str, list[Network]] = {}
        for network in self._networks.values():
            modes.setdefault(_mode(network.backend), []).append(network)
        for mode, networks in modes.items():
            for network in networks:
                if len(networks) == 1:
                    network.storage_namespace = f"{mode}_backend"
                else:
                    network.storage_namespace = f"{mode}_backend_{network.name}"

    # -- identifiers ---------------------------------------------------------------------------

    def _route(self, text: str) -> tuple[Network, str]:
        name, rest = split_network(text, self._networks)
        return self._networks[name or next(iter(self._networks))], rest

    def build_identifier(self, text_representation: str) -> Identifier:
        network, rest = self._route(str(text_representation))
        return network.translate.identifier(network.backend.build_identifier(rest))

    def query_room(self, room: str) -> Room:
        network, rest = self._route(str(room))
        return network.translate.room(network.backend.query_room(rest))

    def rooms(self) -> list[Room]:
        """The rooms of every network, but those of a locked network only for a bot admin."""
        rooms: list[Room] = []
        for network in self._networks.values():
            if not network.connected or not room_guard.allowed(network.name):
                continue
            try:
                rooms.extend(network.translate.room(r) for r in network.backend.rooms())
            except Exception:
                log.exception('Listing the rooms of the "%s" network failed.', network.name)
        return rooms

    @property
    def bot_identifier(self) -> Identifier | None:
        """The bot as the first network knows it (each network has its own identity)."""
        return self.bot_identifier_on(next(iter(self._networks)))

    def bot_identifier_on(self, network: str) -> Identifier | None:
        """The bot's own identity on ``network``."""
        hosted = self._networks[network]
        return hosted.translate.identifier(getattr(hosted.backend, "bot_identifier", None))

    def _owner(self, identifier: Any, what: str) -> Network:
        if not isinstance(identifier, BridgeIdentifier):
            raise ValueError(
                f"Cannot {what} {identifier!r}: it is not an identifier of this bridged bot; "
                'build one with bot.build_identifier("<network>:...").'
            )
        return self._networks[identifier.network]

    def _network_of_message(self, msg: Message) -> Network | None:
        name = network_of(msg)
        return self._networks.get(name) if name else None

    # -- outbound ------------------------------------------------------------------------------

    def send_message(self, msg: Message) -> None:
        network = self._owner(msg.to, "send a message to")
        if not network.connected:
            raise NetworkUnavailableError(network.name, network.backend_name, msg.to)
        network.backend.send_message(network.translate.outgoing(msg))
        super().send_message(msg)  # plugins' callback_botmessage, once it was really sent

    def split_and_send_message(self, msg: Message) -> None:
        limit = self.message_size_limit
        if isinstance(msg.to, BridgeIdentifier):  # each network has its own size limit
            limit = self._networks[msg.to.network].backend.message_size_limit
        for part in split_string_after(msg.body, limit):
            partial = msg.clone()
            partial.body = part
            partial.partial = True
            self.send_message(partial)

    def send_card(self, card: Message) -> None:
        network = self._owner(card.to, "send a card to")
        if not network.connected:
            raise NetworkUnavailableError(network.name, network.backend_name, card.to)
        network.backend.send_card(network.translate.outgoing(card))

    def send_stream_request(
        self,
        user: Identifier,
        fsource: Any,
        name: str | None = None,
        size: int | None = None,
        stream_type: str | None = None,
    ) -> Any:
        network = self._owner(user, "send a file to")
        if not network.connected:
            raise NetworkUnavailableError(network.name, network.backend_name, user)
        return network.backend.send_stream_request(
            network.translate.inner_identifier(user), fsource, name, size, stream_type
        )

    def build_reply(
        self, msg: Message, text: str | None = None, private: bool = False, threaded: bool = False
    ) -> Message:
        network = self._network_of_message(msg)
        if network is None:
            raise ValueError("Cannot reply to a message that came from no bridged network.")
        original = network.translate.original(msg)
        reply = network.backend.build_reply(original, text, private=private, threaded=threaded)
        return network.translate.message(reply)

    def prefix_groupchat_reply(self, message: Message, identifier: Identifier) -> None:
        # The mention is written the way the network of the person mentioned writes it (the
        # message itself may go to another network, so only its text is handed over).
        network = self._owner(identifier, "mention")
        text = Message(body=message.body)
        network.backend.prefix_groupchat_reply(text, network.translate.inner_identifier(identifier))
        message.body = text.body

    def is_from_self(self, msg: Message) -> bool:
        network = self._network_of_message(msg)
        if network is None:
            return False
        return network.backend.is_from_self(network.translate.original(msg))

    def change_presence(self, status: str = ONLINE, message: str = "") -> None:
        for network in self._networks.values():
            if network.connected:
                try:
                    network.backend.change_presence(status, message)
                except Exception:
                    log.exception('Changing presence on the "%s" network failed.', network.name)

    def warn_admins(self, warning: str) -> None:
        """Tell every admin, whatever network they are on; one unreachable admin stops nobody."""
        for admin in self._admins_to_notify():
            try:
                self.send(self.build_identifier(admin), warning)
            except Exception as exc:
                log.warning("Could not warn the admin %s: %s", admin, exc)
        log.warning(warning)

    # -- inbound -------------------------------------------------------------------------------

    def is_admin(self, msg: Message) -> bool:
        """Whether ``msg`` comes from a bot admin (``BOT_ADMINS``, as Errbot's ACLs match it)."""
        return msg.frm is not None and glob(get_acl_usr(msg), self.bot_config.BOT_ADMINS)

    def _dispatch_to_plugins(self, method: str, *args: Any, **kwargs: Any) -> None:
        # What plugins do on hearing a message is done for its sender (room_guard).
        heard = args[0] if args and isinstance(args[0], Message) else None
        if heard is None:
            super()._dispatch_to_plugins(method, *args, **kwargs)
            return
        with room_guard.acting_for(heard):
            super()._dispatch_to_plugins(method, *args, **kwargs)

    def _execute_and_send(
        self, cmd: str, args: Any, match: Any, msg: Message, template_name: str | None = None
    ) -> None:
        # A command runs on a pool thread: its room operations are done for whoever ran it.
        with room_guard.acting_for(msg):
            super()._execute_and_send(cmd, args, match, msg, template_name)

    def process_message(self, msg: Message) -> bool:
        network = self._network_of_message(msg)
        if network is not None and not network.commands:
            # BRIDGE_COMMANDS = False: plugins hear the message, nobody can run a command.
            return not msg.delayed and not self.is_from_self(msg)
        with room_guard.acting_for(msg):  # command filters, and commands run in place
            return super().process_message(msg)

    @property
    def mode(self) -> str:
        return "bridge"


def find_backends(bot: ErrBot, kind: type | str) -> list[ErrBot]:
    """The backends of ``kind`` that ``bot`` runs: its hosted ones when bridged, else itself.

    ``kind`` is a backend class or a backend name ("IRC", "PubNub"); code such as a backend's
    companion plugin uses this to find its backend whether or not the bot is bridged.
    """
    if isinstance(bot, Bridge):
        return list(bot.hosted_backends(kind).values())
    if isinstance(kind, type):
        return [bot] if isinstance(bot, kind) else []
    return [bot] if getattr(bot.bot_config, "BACKEND", None) == kind else []


def _mode(backend: Any) -> str:
    try:
        return str(backend.mode)
    except Exception:
        return type(backend).__name__.lower()


class _ManagerView:
    """A manager as a hosted backend sees it: the backend's own shutdown must not close it."""

    def __init__(self, manager: Any) -> None:
        self._manager = manager

    def shutdown(self) -> None:
        """The Bridge shuts the real manager down once, at the very end."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._manager, name)


class _PluginManagerView(_ManagerView):
    """Plugins belong to the Bridge: a hosted backend can neither reach nor deactivate them.

    (Its ``send_message`` would otherwise hand plugins an unwrapped copy of every message the
    Bridge already reported through ``callback_botmessage``.)
    """

    def get_all_active_plugins(self) -> list[Any]:
        return []

    def deactivate_all_plugins(self) -> None:
        """Only the Bridge deactivates plugins, when the whole bot stops."""

    def activate_non_started_plugins(self) -> str:
        return ""
