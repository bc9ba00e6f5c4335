"""Several Errbot backends in one bot.

With ``BACKEND = "Bridge"`` and ``BRIDGE_BACKENDS = {network: {"BACKEND": ..., ...}}`` the bot
lives on every network at once. The names below are the stable public interface; importing this
package stays light, the backend (which needs Errbot) is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from errbot_bridge.errors import BridgeConfigurationError, NetworkUnavailableError

if TYPE_CHECKING:
    from errbot_bridge.backend import Bridge, find_backends
    from errbot_bridge.identifiers import (
        BridgeIdentifier,
        BridgePerson,
        BridgeRoom,
        BridgeRoomOccupant,
    )
    from errbot_bridge.network import NetworkStatus
    from errbot_bridge.translate import BridgedMessage, network_of

__all__ = [
    "Bridge",
    "BridgeConfigurationError",
    "BridgeIdentifier",
    "BridgePerson",
    "BridgeRoom",
    "BridgeRoomOccupant",
    "BridgedMessage",
    "NetworkStatus",
    "NetworkUnavailableError",
    "find_backends",
    "network_of",
]

_LAZY = {
    "Bridge": "errbot_bridge.backend",
    "BridgeIdentifier": "errbot_bridge.identifiers",
    "BridgePerson": "errbot_bridge.identifiers",
    "BridgeRoom": "errbot_bridge.identifiers",
    "BridgeRoomOccupant": "errbot_bridge.identifiers",
    "NetworkStatus": "errbot_bridge.network",
    "BridgedMessage": "errbot_bridge.translate",
    "find_backends": "errbot_bridge.backend",
    "network_of": "errbot_bridge.translate",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'errbot_bridge' has no attribute {name!r}")
