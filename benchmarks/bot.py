"""The bot under measure: a bridged bot as a support team runs it.

Customers are on PubNub (the local server), agents on Errbot's ``Test`` backend, the Support
plugin keeps conversations in a real SQLite file, and everything is configured as in production:
Errbot's defaults (all core plugins, Shelf storage), a log file at INFO and no console log (as
``errbot -d`` runs). Arrival in the agent room is stamped where the ``Test`` backend delivers a
message: its outgoing queue.
"""

from __future__ import annotations

import importlib
import logging
import queue
import re
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from errbot.backends.base import Message
from errbot.backends.test import TestOccupant
from errbot.bootstrap import setup_bot
from errbot.core import ErrBot

from benchmarks import sdk
from benchmarks.marks import Inbox, Raw

AGENT_ROOM = "support"
ROOT = Path(__file__).resolve().parent.parent
CONVERSATION = re.compile(r"#\d+")
START_TIMEOUT = 60.0


class AgentRoom(queue.Queue):
    """The ``Test`` backend's outgoing queue, replaced: each message is stamped when the
    backend hands it over, and kept as text (nobody pops it)."""

    def __init__(self) -> None:
        super().__init__()
        self._inbox = Inbox()

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        self._inbox.add(time.time(), AGENT_ROOM, str(item))

    def count(self, tag: str | None = None) -> int:
        return self._inbox.count(tag)

    def take(self) -> list[Raw]:
        """Everything so far (and forget it), each placed in its conversation (``#N``): in
        the agent room that is what stands for the customer's channel."""
        placed = []
        for at, where, text in self._inbox.take():
            number = CONVERSATION.match(text)
            placed.append((at, number[0] if number else where, text))
        return placed


def config(
    data_dir: Path, origin: str, group: str, customers: dict[str, Any] | None = None
) -> SimpleNamespace:
    """A production-like configuration of the bridged support bot; ``customers`` adds settings
    of the customers' (PubNub) network."""
    settings = SimpleNamespace()
    template = importlib.import_module("errbot.config-template")
    settings.__dict__.update({k: v for k, v in vars(template).items() if k.isupper()})
    data_dir.mkdir(parents=True, exist_ok=True)
    settings.__dict__.update(
        {
            "BOT_DATA_DIR": str(data_dir),
            "BOT_LOG_FILE": str(data_dir / "errbot.log"),
            "BOT_LOG_LEVEL": logging.INFO,
            "BOT_EXTRA_PLUGIN_DIR": None,
            "AUTOINSTALL_DEPS": False,
            "BOT_ADMINS": ("agents:admin",),
            "BRIDGE_BACKENDS": {
                "agents": {"BACKEND": "Test"},
                "customers": {
                    "BACKEND": "PubNub",
                    "BOT_IDENTITY": {
                        "publish_key": sdk.PUBLISH_KEY,
                        "subscribe_key": sdk.SUBSCRIBE_KEY,
                        "user_id": sdk.SUPPORT_USER,
                    },
                    "PUBNUB_CHANNEL_GROUP": group,
                    "PUBNUB_ORIGIN": origin,
                    "PUBNUB_SSL": False,
                    "BRIDGE_COMMANDS": False,
                    **(customers or {}),
                },
            },
            "SUPPORT_AGENT_ROOM": f"agents:{AGENT_ROOM}",
            "SUPPORT_CUSTOMER_NETWORK": "customers",
        }
    )
    return settings


class RunningBot:
    """A started bot: ``agent_room`` records what reaches agents; ``say`` is an agent typing."""

    def __init__(self, settings: SimpleNamespace) -> None:
        self.started_at = time.time()
        root = logging.getLogger()
        before = set(root.handlers)
        with _log_to_file_only(), _installed_code_only():
            self.bot: ErrBot = setup_bot("Bridge", root, settings)
        self._log_handlers = [h for h in root.handlers if h not in before]
        self.agents = self.bot.hosted_backends()["agents"]
        self.agent_room = AgentRoom()
        self.agents.outgoing_message_queue = self.agent_room
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="bench-bot", daemon=True)
        self._thread.start()
        self._wait_active()
        self.active_at = time.time()
        _check_plugins(self.bot)

    def _serve(self) -> None:
        try:
            self.bot.serve_forever()
        except BaseException as exc:
            self._error = exc

    def _wait_active(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            plugin = self.bot.plugin_manager.get_plugin_obj_by_name("Support")
            if plugin is not None and plugin.is_activated:
                return
            if not self._thread.is_alive():
                raise RuntimeError(f"the bot stopped while starting: {self._error!r}")
            time.sleep(0.02)
        raise RuntimeError(f"the Support plugin was not active within {START_TIMEOUT} s")

    @property
    def support(self) -> Any:
        return self.bot.plugin_manager.get_plugin_obj_by_name("Support")

    def say(self, agent: str, text: str) -> None:
        """An agent writes in the agent room (as the ``Test`` network would deliver it)."""
        room = self.agents.query_room(AGENT_ROOM)
        self.agents.callback_message(Message(text, frm=TestOccupant(agent, room), to=room))

    def stop(self) -> None:
        self.bot.stop_serving()
        self._thread.join(30)
        for handler in self._log_handlers:  # the next bot of the run has its own file
            logging.getLogger().removeHandler(handler)
            handler.close()
        if self._thread.is_alive():
            raise RuntimeError("the bot did not stop within 30 s")


@contextmanager
def _installed_code_only() -> Iterator[None]:
    """Keep the source tree out of sight while Errbot looks for backends and plugins.

    Build metadata in the source root (left for a while by any ``pip install .``, which others
    may run meanwhile) makes Errbot take its plugins from the source folders, test plugins
    included. The harness runs from the source root, so it hides it from the search.
    """
    hidden = [entry for entry in sys.path if Path(entry or ".").resolve() == ROOT]
    sys.path[:] = [entry for entry in sys.path if entry not in hidden]
    try:
        yield
    finally:
        sys.path[:0] = hidden


def _check_plugins(bot: ErrBot) -> None:
    """Refuse to measure a bot whose plugins do not all come from the installed packages."""
    strays = []
    for plugin in bot.plugin_manager.get_all_active_plugins():
        module = sys.modules.get(type(plugin).__module__)
        where = Path(getattr(module, "__file__", "") or ".").resolve()
        if where.is_relative_to(ROOT) and not any(p.startswith(".venv") for p in where.parts):
            strays.append(f"{plugin.name} ({where})")
    if strays:
        bot.stop_serving()
        raise RuntimeError(f"plugins loaded from the source tree: {', '.join(strays)}")


@contextmanager
def _log_to_file_only() -> Iterator[None]:
    """Errbot adds a console handler to the root logger; a daemonised bot logs to its file
    only (and the benchmark's own output stays readable)."""
    from errbot.logs import console_hdlr

    level = console_hdlr.level
    console_hdlr.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logging.getLogger().removeHandler(console_hdlr)
        console_hdlr.setLevel(level)
