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

# Without PUBNUB_PUBLISH_KEY in the environment, everything below points at the local PubNub
# server (`make emulator`, port 8090) with demo keys; set the keys to talk to PubNub itself.
_PUBNUB_DEMO = "PUBNUB_PUBLISH_KEY" not in os.environ

# The keyset, and the single PubNub user every reply is published as. The PubNub backend reads
# BOT_IDENTITY; a Bridge hands PUBNUB_IDENTITY to its PubNub network. Without a secret key, an
# Access Manager token (PUBNUB_TOKEN) may authorise the support user; with neither, the keyset
# must be open (Access Manager off).
PUBNUB_IDENTITY = {
    "publish_key": os.environ.get("PUBNUB_PUBLISH_KEY", "pub-c-demo"),
    "subscribe_key": os.environ.get("PUBNUB_SUBSCRIBE_KEY", "sub-c-demo"),
    "secret_key": os.environ.get("PUBNUB_SECRET_KEY") or None,
    "token": os.environ.get("PUBNUB_TOKEN") or None,
    "user_id": os.environ.get("PUBNUB_USER_ID", "support"),
}
BOT_IDENTITY = PUBNUB_IDENTITY

# The channel group(s) holding one channel per customer: a name, or up to 10 names (the
# environment variable takes them comma-separated).
PUBNUB_CHANNEL_GROUP = [
    group.strip()
    for group in os.environ.get("PUBNUB_CHANNEL_GROUP", "support").split(",")
    if group.strip()
]

# The class translating your app's PubNub JSON to chat messages and back (a dotted path).
PUBNUB_MESSAGE_CONVERTER = os.environ.get(
    "PUBNUB_MESSAGE_CONVERTER", "errbot_pubnub.DefaultMessageConverter"
)

# Where PubNub is: None for PubNub itself, "127.0.0.1:8090" for the local server.
PUBNUB_ORIGIN = os.environ.get("PUBNUB_ORIGIN") or ("127.0.0.1:8090" if _PUBNUB_DEMO else None)

# TLS: None follows the origin (on, except for loopback or an http:// origin); True or False
# forces it.
PUBNUB_SSL = None

# How many customer channels are handled at the same time (each channel stays in order).
PUBNUB_CHANNEL_WORKERS = 4

# Undelivered messages (unreadable payloads) kept for `!pubnub undelivered`.
PUBNUB_DEAD_LETTER_LIMIT = 200

# At most one warning to the admins per kind of problem in this many seconds.
PUBNUB_WARNING_INTERVAL = 300


# ---------------------------------------------------------------------------------------------
# Bridge backend
# ---------------------------------------------------------------------------------------------

# ---------------------------------------------------------------------------------------------
# Support plugin
# ---------------------------------------------------------------------------------------------
