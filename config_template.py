"""Errbot configuration for PubNub customer support.

Copy this file to ``config.py`` and run ``errbot -c config.py``. Every setting can stay as it is
for the local demo; for production, set the environment variables named below (or edit the values).
The README's "Configuration reference" lists every setting in one table.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

HERE = Path(__file__).resolve().parent

# ---------------------------------------------------------------------------------------------
# Errbot core
# ---------------------------------------------------------------------------------------------

# Where Errbot keeps its state (plugin storage, the support database, the PubNub cursor).
BOT_DATA_DIR = os.environ.get("ERRBOT_DATA_DIR", str(HERE / "data"))
os.makedirs(BOT_DATA_DIR, exist_ok=True)

# Extra plugin folders; this project's plugins are found through its installed entry points.
BOT_EXTRA_PLUGIN_DIR = None

BOT_LOG_FILE = os.path.join(BOT_DATA_DIR, "errbot.log")
BOT_LOG_LEVEL = getattr(logging, os.environ.get("ERRBOT_LOG_LEVEL", "INFO").upper())

# The prefix of every command.
BOT_PREFIX = "!"

# ---------------------------------------------------------------------------------------------
# PubNub backend
# ---------------------------------------------------------------------------------------------

# ---------------------------------------------------------------------------------------------
# Bridge backend
# ---------------------------------------------------------------------------------------------

# ---------------------------------------------------------------------------------------------
# Support plugin
# ---------------------------------------------------------------------------------------------
