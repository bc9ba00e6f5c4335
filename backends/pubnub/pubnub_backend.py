"""Errbot's entry module for the ``PubNub`` .plug: exactly one backend and one plugin.

Errbot loads every ``.plug`` of an installed distribution both as a backend and as a plugin, so
this module offers both: the backend, and ``PubNub`` admin commands usable on any backend.
It is executed as ``errbot.backends.pubnub_backend``; hence the absolute imports.
"""

from errbot_pubnub.backend import PubNubBackend
from errbot_pubnub.companion import PubNubAdmin

__all__ = ["PubNubAdmin", "PubNubBackend"]
