"""Fixtures for anything that talks PubNub: the local server and official SDK clients.

Loaded for the whole suite by ``tests/conftest.py``. The keys below are the keyset every
``pubnub_server`` serves; ``pubnub_client(user_id, **config)`` builds threaded SDK clients
pointed at it and stops them all at teardown (before the server stops, so no SDK thread is
left waiting on a long-poll). ``stop_clients`` stops clients the way the backend does and
checks that none of their threads is left, so a client still reconnecting fails the test that
made it, not a later one that counts threads.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pubnub.callbacks import SubscribeCallback
from pubnub.enums import PNStatusCategory
from pubnub.pnconfiguration import PNConfiguration
from pubnub.pubnub import NativePeriodicCallback, PubNub
from pubnub.request_handlers.httpx import AsyncHTTPClient

from errbot_pubnub.emulator import PubNubEmulator
from errbot_pubnub.sdk import new_client, stop_client
from tests.botrunner import wait_for

PUBLISH_KEY = "pub-c-test"
SUBSCRIBE_KEY = "sub-c-test"
SECRET_KEY = "sec-c-test"

EVENT_TIMEOUT = 10.0


def pubnub_config(server: PubNubEmulator, user_id: str, **overrides: Any) -> PNConfiguration:
    """A client configuration for ``server``: its origin, plain HTTP, daemon threads."""
    config = PNConfiguration()
    config.origin = server.origin
    config.ssl = False
    config.daemon = True
    config.publish_key = PUBLISH_KEY
    config.subscribe_key = SUBSCRIBE_KEY
    config.user_id = user_id
    config.disable_config_locking = False  # the future default; silences a warning per client
    for name, value in overrides.items():
        if not hasattr(config, name):
            raise TypeError(f"PNConfiguration has no setting {name!r}")
        setattr(config, name, value)
    return config


class PubNubEvents(SubscribeCallback):
    """A listener that queues every event and never raises (a raising listener would stop
    the SDK's delivery thread for good)."""

    def __init__(self) -> None:
        self.messages: queue.Queue[Any] = queue.Queue()
        self.signals: queue.Queue[Any] = queue.Queue()
        self.statuses: queue.Queue[Any] = queue.Queue()
        self.presences: queue.Queue[Any] = queue.Queue()

    def message(self, pubnub: Any, message: Any) -> None:
        self.messages.put(message)

    def signal(self, pubnub: Any, signal: Any) -> None:
        self.signals.put(signal)

    def status(self, pubnub: Any, status: Any) -> None:
        self.statuses.put(status)

    def presence(self, pubnub: Any, presence: Any) -> None:
        self.presences.put(presence)

    def next_message(self, timeout: float = EVENT_TIMEOUT) -> Any:
        return self.messages.get(timeout=timeout)

    def next_signal(self, timeout: float = EVENT_TIMEOUT) -> Any:
        return self.signals.get(timeout=timeout)

    def wait_status(self, category: PNStatusCategory, timeout: float = EVENT_TIMEOUT) -> Any:
        """The first status of ``category``, skipping others; queue.Empty on timeout."""
        while True:
            status = self.statuses.get(timeout=timeout)
            if status.category == category:
                return status


@pytest.fixture
def pubnub_server_factory() -> Iterator[Callable[..., PubNubEmulator]]:
    """Start servers with custom settings (``PubNubEmulator`` keyword arguments); the test
    keyset is the default. Every server started is stopped at teardown."""
    servers: list[PubNubEmulator] = []

    def start(**settings: Any) -> PubNubEmulator:
        settings.setdefault("publish_key", PUBLISH_KEY)
        settings.setdefault("subscribe_key", SUBSCRIBE_KEY)
        server = PubNubEmulator(**settings).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def pubnub_server(pubnub_server_factory: Callable[..., PubNubEmulator]) -> PubNubEmulator:
    """A fresh local PubNub server with an open keyset (``PUBLISH_KEY``/``SUBSCRIBE_KEY``)."""
    return pubnub_server_factory()


@pytest.fixture
def pubnub_client(
    pubnub_server: PubNubEmulator,
) -> Iterator[Callable[..., PubNub]]:
    """``pubnub_client(user_id, *, server=None, **config_overrides)``: a threaded SDK client
    for ``pubnub_server`` (or ``server``). All of them are stopped at teardown."""
    clients: list[PubNub] = []

    def make(user_id: str, *, server: PubNubEmulator | None = None, **overrides: Any) -> PubNub:
        client = new_client(pubnub_config(server or pubnub_server, user_id, **overrides))
        clients.append(client)
        return client

    yield make
    stop_clients(clients)


def stop_clients(clients: list[PubNub]) -> None:
    """Stop SDK clients as the backend does (``stop()`` alone leaves a reconnecting client's
    timer running), then wait until none of their threads is left."""
    for client in clients:
        stop_client(client)  # never raises: a broken client does not hide the others
    try:
        wait_for(lambda: not threads_of(clients), timeout=10)
    except AssertionError:
        raise AssertionError(
            f"SDK threads left by stopped clients: {threads_of(clients)}"
        ) from None


def threads_of(clients: Iterable[PubNub]) -> list[str]:
    """The live threads working for ``clients`` (names, with what they run)."""
    clients = list(clients)
    watchdogs = [getattr(c._request_handler, "_watchdog", None) for c in clients]
    found = []
    for thread in threading.enumerate():
        owner = _owner(thread)
        if owner is None or not thread.is_alive():
            continue
        if sdk_client_of(thread) in clients or any(owner is w for w in watchdogs):
            found.append(f"{thread.name} ({type(owner).__name__})")
    return sorted(found)


def sdk_client_of(thread: threading.Thread) -> PubNub | None:
    """The SDK client ``thread`` works for, when what it runs tells: the SDK's timers (plain
    ``Thread-N`` names: reconnection, presence heartbeat), request and worker threads."""
    owner = _owner(thread)
    client = getattr(owner, "_pubnub", None) or getattr(owner, "pubnub", None)
    return client if isinstance(client, PubNub) else None


def _owner(thread: threading.Thread) -> Any:
    """The object whose method ``thread`` runs, seen through the SDK's wrappers."""
    work = getattr(thread, "function", None) or getattr(thread, "_target", None)
    owner = getattr(work, "__self__", None)
    if isinstance(owner, NativePeriodicCallback):  # the presence heartbeat
        owner = getattr(owner._callback, "__self__", None)
    if isinstance(owner, AsyncHTTPClient):  # a request: the handler is in the closure
        for cell in getattr(owner._callback_to_invoke, "__closure__", None) or ():
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            if hasattr(value, "pubnub") and hasattr(value, "threaded_request"):
                return value
        return None
    return owner


def subscribed(
    client: PubNub, *, channels: list[str] | None = None, groups: list[str] | None = None
) -> PubNubEvents:
    """Subscribe ``client`` and return its events once connected.

    Messages published after this returns are delivered: the server keeps them for the
    long-poll that follows the handshake.
    """
    events = PubNubEvents()
    client.add_listener(events)
    client.subscribe().channels(channels or []).channel_groups(groups or []).execute()
    events.wait_status(PNStatusCategory.PNConnectedCategory)
    return events


def errbot_config_file(
    directory: Path, server: PubNubEmulator, *, plugin_dir: str | None = None, **settings: Any
) -> Path:
    """A ``config.py`` in ``directory`` for an ``errbot -c`` process on the PubNub backend of
    ``server`` (data in ``directory/data``), with ``settings`` added."""
    lines = [
        "import logging",
        'BACKEND = "PubNub"',
        f"BOT_DATA_DIR = {str(directory / 'data')!r}",
        f"BOT_EXTRA_PLUGIN_DIR = {plugin_dir!r}",
        "BOT_LOG_FILE = None",
        "BOT_LOG_LEVEL = logging.INFO",
        'BOT_ADMINS = ("ops/admin",)',
        f"BOT_IDENTITY = {{'publish_key': {PUBLISH_KEY!r}, 'subscribe_key': {SUBSCRIBE_KEY!r}, "
        "'user_id': 'support'}",
        'PUBNUB_CHANNEL_GROUP = "support"',
        f"PUBNUB_ORIGIN = {server.origin!r}",
        *(f"{name} = {value!r}" for name, value in settings.items()),
    ]
    config = directory / "config.py"
    config.write_text("\n".join(lines) + "\n")
    (directory / "data").mkdir()
    return config
