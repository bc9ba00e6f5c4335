"""One hosted backend: its serve loop on its own thread, its connection state, its backoff."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from errbot_bridge.quirks import Quirks, quirks_for
from errbot_bridge.settings import NetworkSettings
from errbot_bridge.translate import Translator
from errbot_common.backoff import Backoff

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NetworkStatus:
    """A snapshot of one network, for ``!bridge status`` and monitoring code."""

    name: str
    backend: str
    connected: bool
    since: datetime
    reconnect_attempts: int
    reconnections: int
    last_error: str | None


class Network:
    """A backend hosted by the Bridge under a network name."""

    def __init__(
        self,
        settings: NetworkSettings,
        on_change: Callable[[Network], None],
        on_finished: Callable[[Network, str], None],
    ) -> None:
        self.settings = settings
        self.backend: Any = None  # see :meth:`attach`
        self._translate: Translator | None = None
        self.quirks: Quirks = Quirks()
        self._on_change = on_change
        self._on_finished = on_finished
        self._lock = threading.Lock()
        self._connected = False
        self._ever_connected = False
        self._since = datetime.now(timezone.utc)
        self._attempts = 0
        self._reconnections = 0
        self._last_error: str | None = None
        self.generation = 0  # counts connections, so each one gets its rooms joined once
        self.fatal: str | None = None  # why the backend refused to start, if it did
        self._stopping = threading.Event()
        self._stoppable = True
        self._thread: threading.Thread | None = None
        self.storage_namespace = f"{settings.name}_backend"

    def attach(self, backend: Any) -> None:
        """Take the backend built for this network (it reports through hooks that already know
        this network, so it can only come after it)."""
        self.backend = backend
        self._translate = Translator(self.settings.name, backend)
        self.quirks = quirks_for(backend)

    @property
    def attached(self) -> bool:
        return self._translate is not None

    @property
    def translate(self) -> Translator:
        """Wraps this network's identifiers for the Bridge, and unwraps them on the way back."""
        if self._translate is None:
            raise RuntimeError(f'the "{self.name}" network has no backend yet')
        return self._translate

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def backend_name(self) -> str:
        return self.settings.backend_name

    @property
    def commands(self) -> bool:
        """Whether this network's users may run commands (``BRIDGE_COMMANDS``)."""
        return self.settings.commands

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def status(self) -> NetworkStatus:
        with self._lock:
            return NetworkStatus(
                name=self.name,
                backend=self.backend_name,
                connected=self._connected,
                since=self._since,
                reconnect_attempts=self._attempts,
                reconnections=self._reconnections,
                last_error=self._last_error,
            )

    # -- state, reported by the backend through the Bridge's hooks ------------------------------

    def mark_connected(self) -> None:
        with self._lock:
            if self._connected:
                return
            self._connected = True
            self._since = datetime.now(timezone.utc)
            if self._ever_connected:
                self._reconnections += 1
            self._ever_connected = True
            self._attempts = 0
            self.generation += 1
        log.info('The "%s" network (%s) is connected.', self.name, self.backend_name)
        self._on_change(self)

    def mark_disconnected(self, reason: str | None = None) -> None:
        with self._lock:
            if reason:
                self._last_error = reason
            if not self._connected:
                return
            self._connected = False
            self._since = datetime.now(timezone.utc)
        log.warning(
            'The "%s" network (%s) is disconnected%s.',
            self.name,
            self.backend_name,
            f" ({reason})" if reason else "",
        )
        self._on_change(self)

    def next_reconnect_delay(self) -> float:
        """Exponential backoff, reset by every successful connection."""
        backoff = Backoff(
            self.settings.reconnect_delay, self.settings.reconnect_max_delay, jitter=False
        )
        with self._lock:
            self._attempts += 1
            return backoff.delay(self._attempts)

    # -- lifecycle -----------------------------------------------------------------------------

    def open_storage(self, storage_plugin: Any) -> None:
        """Backends keep state (Telegram its update offset): each network has its own namespace."""
        self._storage_plugin = storage_plugin
        self._reopen_storage()

    def _reopen_storage(self) -> None:
        plugin = getattr(self, "_storage_plugin", None)
        if plugin is not None and not self.backend.is_open_storage():
            self.backend.open_storage(plugin, self.storage_namespace)

    def close_storage(self) -> None:
        """Close what the backend's own shutdown did not (a Shelf left open can corrupt)."""
        try:
            if self.backend.is_open_storage():
                self.backend.close_storage()
        except Exception:
            log.exception('Closing the storage of the "%s" network failed.', self.name)

    def start(self) -> None:
        self.quirks.prepare(self)
        self._thread = threading.Thread(target=self._serve, name=f"bridge-{self.name}", daemon=True)
        self._thread.start()

    def request_stop(self) -> bool:
        """Ask the serve loop to end; ``False`` when the backend cannot be interrupted."""
        if self._stopping.is_set():
            return self._stoppable
        self._stopping.set()
        if self._thread is None or not self._thread.is_alive():
            return True
        try:
            self._stoppable = self.quirks.stop(self)
        except Exception:
            log.exception('Stopping the "%s" network failed.', self.name)
            self._stoppable = False
        return self._stoppable

    def join(self, timeout: float) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def _serve(self) -> None:
        # Backends built on asyncio expect an event loop in their thread.
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            while not self._stopping.is_set():
                reason = self._serve_once()
                self.mark_disconnected(reason)
                if self._stopping.is_set():
                    break
                if self.fatal or self.quirks.ends_bot_when_done:
                    self._on_finished(self, reason)
                    break
                delay = self.next_reconnect_delay()
                log.info(
                    'Restarting the "%s" network (%s) in %.1f s.',
                    self.name,
                    self.backend_name,
                    delay,
                )
                self._stopping.wait(delay)
        finally:
            self.quirks.finish(self)
            try:
                loop.close()
            except Exception:
                log.debug("Closing the event loop of %s failed.", self.name, exc_info=True)
            log.info('The "%s" network (%s) has stopped.', self.name, self.backend_name)

    def _serve_once(self) -> str:
        self._reopen_storage()
        try:
            self.backend.serve_forever()
        except SystemExit as exc:
            if not self._ever_connected and str(exc):
                # Refused before it ever connected (PubNub on a 403): a configuration problem,
                # like a bad setting at start-up, so the bot stops with the backend's sentence.
                self.fatal = str(exc)
                return self.fatal
            log.error(
                'The "%s" network (%s) tried to end the process: %s',
                self.name,
                self.backend_name,
                exc,
            )
            return f"SystemExit: {exc}"
        except BaseException as exc:  # a backend must never end the whole bot
            if self._stopping.is_set():
                return "stopped"
            log.exception(
                'The serve loop of the "%s" network (%s) failed.', self.name, self.backend_name
            )
            return f"{type(exc).__name__}: {exc}"
        return "stopped" if self._stopping.is_set() else "its serve loop ended"
