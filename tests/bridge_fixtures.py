"""Helpers for bridged bots in tests: their configuration and the Test network's console."""

from __future__ import annotations

import queue
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tests.botrunner import DEFAULT_TIMEOUT, make_config
from tests.irc_fixtures import IRCServer

RELAY_PLUGIN_DIR = Path(__file__).resolve().parent / "plugins" / "bridge_relay"
# Errbot's core plugins that bridged bots need in these tests; the others only slow start-up.
CORE_PLUGINS = ("ACLs", "ChatRoom", "CommandNotFoundFilter", "Help", "Plugins", "Utils")


def bridge_config(tmp_path: Path, backends: dict[str, Any], **overrides: Any) -> SimpleNamespace:
    """A bridged bot with the relay test plugin, quick reconnections and a Test-network admin."""
    settings: dict[str, Any] = {
        "BRIDGE_BACKENDS": backends,
        "BOT_EXTRA_PLUGIN_DIR": str(RELAY_PLUGIN_DIR),
        "CORE_PLUGINS": CORE_PLUGINS,
        "BOT_ADMINS": ("tests:admin",),
        "BRIDGE_RECONNECT_DELAY": 0.1,
        "BRIDGE_RECONNECT_MAX_DELAY": 0.5,
        "BRIDGE_START_TIMEOUT": 30,
    }
    settings.update(overrides)
    return make_config(tmp_path, **settings)


def irc_network(server: IRCServer, nick: str = "errbot", **extra: Any) -> dict[str, Any]:
    """A ``BRIDGE_BACKENDS`` entry for Errbot's IRC backend on ``server``."""
    return {
        "BACKEND": "IRC",
        "BOT_IDENTITY": server.identity(nick),
        "IRC_CHANNEL_RATE": 0,  # no one-second pause between lines in tests
        "IRC_PRIVATE_RATE": 0,
        "CHATROOM_PRESENCE": ("#relay",),
        **extra,
    }


class TestConsole:
    """The admin talking to a bridged bot through its ``Test`` network."""

    __test__ = False

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.received: list[str] = []

    def say(self, text: str) -> None:
        self.backend.push_message(text)

    def expect(self, text: str, timeout: float = DEFAULT_TIMEOUT) -> str:
        """The first message to the Test network containing ``text`` (earlier ones are kept)."""
        for seen in self.received:
            if text in seen:
                self.received.remove(seen)
                return seen
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                message = self.backend.pop_message(timeout=0.1)
            except queue.Empty:
                continue
            if text in message:
                return message
            self.received.append(message)
        raise AssertionError(f"no message containing {text!r}; got {self.received!r}")
