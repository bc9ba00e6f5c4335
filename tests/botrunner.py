"""Run a real Errbot bot on any backend inside the test process.

Errbot's own ``TestBot`` is wired to the ``Test`` backend. This runner starts a bot the way
``errbot`` itself does (``errbot.bootstrap.setup_bot`` with a config object), serves it on a
thread, and stops it again, so the PubNub and Bridge backends are exercised for real.

Backends of this project stop on ``bot.stop_serving()``; Errbot's ``Test`` backend stops on its
quit message. Other backends need a ``stop`` callable.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from errbot.bootstrap import setup_bot
from errbot.core import ErrBot

DEFAULT_TIMEOUT = 20.0


def wait_for(
    predicate: Callable[[], Any], timeout: float = DEFAULT_TIMEOUT, interval: float = 0.02
) -> Any:
    """Poll until ``predicate()`` is truthy and return its value; fail loudly on timeout.

    Tests wait for events instead of sleeping a fixed time, so they stay fast on a quick
    machine and do not flake on a loaded one.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {predicate!r}")
        time.sleep(interval)


def make_config(data_dir: Path, **overrides: Any) -> SimpleNamespace:
    """A bot configuration as ``config.py`` would give it, isolated in ``data_dir``."""
    config = SimpleNamespace()
    config.__dict__.update(
        {
            k: v
            for k, v in vars(importlib.import_module("errbot.config-template")).items()
            if k.isupper()
        }
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    config.BOT_DATA_DIR = str(data_dir)
    config.BOT_LOG_FILE = None
    config.BOT_LOG_LEVEL = logging.INFO
    config.STORAGE = "Memory"
    config.BOT_EXTRA_PLUGIN_DIR = None
    config.BOT_ADMINS = ("admin",)
    config.AUTOINSTALL_DEPS = False
    config.BOT_ASYNC = True
    config.__dict__.update(overrides)
    return config


def refusal_to_start(bot: ErrBot, timeout: float = 30.0) -> BaseException:
    """What ``serve_forever`` raised for a bot that must refuse to start."""
    outcome: list[BaseException] = []

    def serve() -> None:
        try:
            bot.serve_forever()
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=serve, name=f"refusing-{bot.mode}", daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "the bot kept running instead of refusing to start"
    (error,) = outcome
    return error


class RunningBot:
    """A bot served on its own thread; ``bot`` is the backend instance."""

    def __init__(self, bot: ErrBot, stop: Callable[[ErrBot], None] | None = None) -> None:
        self.bot = bot
        self._stop = stop or _default_stop
        self.thread = threading.Thread(target=self._serve, name=f"bot-{bot.mode}", daemon=True)
        self.error: BaseException | None = None

    def _serve(self) -> None:
        try:
            self.bot.serve_forever()
        except BaseException as exc:  # reported by stop() so the test sees it
            self.error = exc
            raise

    def start(self, ready: Callable[[], Any] | None = None) -> RunningBot:
        """Serve, then wait until plugins are active (or ``ready()`` holds)."""
        self.thread.start()
        wait_for(ready or self.plugins_active)
        return self

    def plugins_active(self) -> bool:
        manager = self.bot.plugin_manager
        return any(p.is_activated for p in manager.get_all_active_plugins())

    def plugin(self, name: str) -> Any:
        return self.bot.plugin_manager.get_plugin_obj_by_name(name)

    def stop(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        if self.thread.is_alive():
            self._stop(self.bot)
            self.thread.join(timeout)
        assert not self.thread.is_alive(), "the bot did not stop"
        if self.error is not None:
            raise AssertionError(f"the serve loop failed: {self.error!r}") from self.error


def _default_stop(bot: ErrBot) -> None:
    stop_serving = getattr(bot, "stop_serving", None)
    if stop_serving is not None:
        stop_serving()
        return
    from errbot.backends.test import QUIT_MESSAGE

    bot.push_message(QUIT_MESSAGE)


@contextmanager
def running_bot(
    backend: str,
    config: SimpleNamespace,
    *,
    stop: Callable[[ErrBot], None] | None = None,
    ready: Callable[[RunningBot], Any] | None = None,
) -> Iterator[RunningBot]:
    """Start a bot on ``backend`` with ``config``; stop it (and check it stopped) on exit."""
    bot = setup_bot(backend, logging.getLogger("errbot"), config)
    running = RunningBot(bot, stop)
    running.start(ready=(lambda: ready(running)) if ready else None)
    try:
        yield running
    finally:
        running.stop()
