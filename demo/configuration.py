"""The configuration the demo runs: found, loaded as Errbot loads it, and read for PubNub.

The demo hands its choices (where the data goes, where the local PubNub server listens) to
the configuration through the environment variables ``config_template.py`` reads, instead of
writing a configuration of its own: what the demo shows is what the template does.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import click

from errbot_pubnub.settings import PubNubSettings, read_settings

#: Looked for in the working directory, in this order: the user's own file wins.
CONFIG_FILES = ("config.py", "config_template.py")
#: Marks a data folder as the demo's own, so that only such a folder is ever emptied.
DATA_MARKER = ".errbot-support-demo"


class DemoError(click.ClickException):
    """Something stops the demo; the message is one sentence saying what to do."""


def find_config(explicit: Path | None) -> Path:
    if explicit is not None:
        return explicit.resolve()
    for name in CONFIG_FILES:
        candidate = Path.cwd() / name
        if candidate.is_file():
            return candidate
    raise DemoError(
        f"Neither {' nor '.join(CONFIG_FILES)} is in {Path.cwd()}: run the demo from the "
        "project's folder, or name a configuration with --config."
    )


def uses_pubnub_itself() -> bool:
    """The template's rule: with a publish key in the environment, customers are on PubNub."""
    return "PUBNUB_PUBLISH_KEY" in os.environ


def fresh_data_folder(folder: Path) -> None:
    """Empty the demo's data folder: the local server starts empty, and a conversation number
    or a PubNub cursor left from an earlier demo would point at messages that no longer exist.
    """
    if folder.exists():
        if not (folder / DATA_MARKER).exists() and any(folder.iterdir()):
            raise DemoError(
                f"{folder} holds files the demo did not create: name an empty or new folder "
                "with --data-dir."
            )
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / DATA_MARKER).write_text("Data of a demo run; emptied when the next one starts.\n")


def point_config_at(data_dir: Path, origin: str | None) -> None:
    """Set what ``config_template.py`` reads: the data folder and, unless customers are on
    PubNub itself, the local server."""
    os.environ["ERRBOT_DATA_DIR"] = str(data_dir)
    if origin is not None:
        os.environ["PUBNUB_ORIGIN"] = origin


def load_config(path: Path) -> ModuleType:
    """Import the configuration exactly as ``errbot -c <path>`` does (a module named after the
    file, found on ``sys.path``), so that Errbot, started next, gets this same module."""
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module(path.stem)


def pubnub_config(config: Any) -> Any:
    """The configuration the PubNub backend sees: the whole one, or its Bridge network's."""
    backend = getattr(config, "BACKEND", None)
    if backend == "PubNub":
        return config
    if backend == "Bridge":
        from errbot_bridge.settings import read_settings as read_bridge_settings

        for network in read_bridge_settings(config).networks:
            if network.backend_name == "PubNub":
                return network.config
        raise DemoError('BRIDGE_BACKENDS has no network with "BACKEND": "PubNub" for customers.')
    raise DemoError(f'BACKEND is {backend!r}: the demo needs "Bridge" or "PubNub".')


def pubnub_settings(config: Any) -> PubNubSettings:
    return read_settings(pubnub_config(config))


def agents_on_this_terminal(config: Any) -> bool:
    """Whether agents type in this terminal (Errbot's ``Text`` backend)."""
    networks = getattr(config, "BRIDGE_BACKENDS", None) or {}
    if getattr(config, "BACKEND", None) != "Bridge":
        return getattr(config, "BACKEND", None) == "Text"
    return any(entry.get("BACKEND") == "Text" for entry in networks.values())
