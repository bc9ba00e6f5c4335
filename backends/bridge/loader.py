"""Find and build a network's backend exactly as Errbot finds the bot's own backend.

Errbot's ``BackendPluginManager`` searches its own backends, ``BOT_EXTRA_BACKEND_DIR`` and the
installed ``errbot.backend_plugins`` entry points; it executes the backend module as
``errbot.backends.<Module>``, replacing any module of that name, so two networks on the same
backend each get a fresh copy of its classes.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from errbot.backend_plugin_manager import (
    BackendPluginManager,
    PluginNotFoundException,
    enumerate_backend_plugins,
)
from errbot.bootstrap import CORE_BACKENDS
from errbot.core import ErrBot
from errbot.utils import collect_roots, entry_point_plugins

from errbot_bridge.errors import BridgeConfigurationError
from errbot_bridge.hooks import Hooks, hosted_class
from errbot_bridge.settings import NetworkSettings

log = logging.getLogger(__name__)


def load_backend(settings: NetworkSettings, hooks: Hooks) -> ErrBot:
    """Build the backend of one network with its private configuration, reporting to ``hooks``."""
    where = f'BRIDGE_BACKENDS["{settings.name}"]'
    extra_dirs = _extra_dirs(settings.config)
    try:
        manager = BackendPluginManager(
            settings.config,
            "errbot.backends",
            settings.backend_name,
            ErrBot,
            CORE_BACKENDS,
            extra_dirs,
        )
    except PluginNotFoundException:
        known = ", ".join(available_backends(extra_dirs)) or "none"
        raise BridgeConfigurationError(
            f'{where}["BACKEND"] = "{settings.backend_name}" names no installed Errbot backend '
            f"(installed: {known})."
        ) from None
    try:
        backend = hosted_class(_backend_class(manager), hooks)(settings.config)
    except BridgeConfigurationError:
        raise
    except SystemExit as exc:  # Telegram exits on a missing token, our backends on bad settings
        detail = str(exc) if exc.code not in (None, 0, 1, -1) else ""
        raise BridgeConfigurationError(
            f"{where}: the {settings.backend_name} backend refused to start"
            + (f": {detail}" if detail else " (see the log above for its reason).")
        ) from None
    except Exception as exc:
        raise BridgeConfigurationError(
            f"{where}: the {settings.backend_name} backend could not start: "
            f"{type(exc).__name__}: {exc}."
        ) from None
    log.info('Loaded the %s backend for the "%s" network.', settings.backend_name, settings.name)
    return backend


def _backend_class(manager: BackendPluginManager) -> type:
    """What ``BackendPluginManager.load_plugin`` does, short of building the instance."""
    info = manager.plugin_info
    folder = str(info.location.parent)
    if folder not in sys.path:
        sys.path.append(folder)
    classes = info.load_plugin_classes("errbot.backends", ErrBot)
    if len(classes) != 1:
        raise BridgeConfigurationError(
            f"The {info.name} backend module {info.module}.py defines {len(classes)} Errbot "
            "backend classes instead of exactly one."
        )
    return classes[0][1]


def available_backends(extra_dirs: list[str]) -> list[str]:
    """Names of every backend Errbot can find, for an error message that helps."""
    roots = collect_roots(
        (CORE_BACKENDS, extra_dirs, entry_point_plugins(group="errbot.backend_plugins"))
    )
    names = set()
    for info in enumerate_backend_plugins(roots):
        names.add(info.name)
    return sorted(names - {"Bridge"})


def _extra_dirs(config: Any) -> list[str]:
    extra = getattr(config, "BOT_EXTRA_BACKEND_DIR", None) or []
    return [extra] if isinstance(extra, str) else list(extra)
