"""Errbot's entry into the Bridge: the backend class and its ``!bridge`` companion plugin.

Errbot executes this file as ``errbot.backends.bridge_backend`` (looking for exactly one ErrBot
subclass) and as a plugin module (looking for exactly one BotPlugin subclass).
"""

from errbot_bridge.backend import Bridge
from errbot_bridge.companion import BridgeCommands

__all__ = ["Bridge", "BridgeCommands"]
