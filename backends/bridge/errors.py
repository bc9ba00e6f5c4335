"""The Bridge's exceptions, in a module that imports nothing of the Bridge: any module may
raise them without importing the module that catches them."""

from __future__ import annotations

from typing import Any


class BridgeConfigurationError(SystemExit):
    """A Bridge setting is missing or wrong.

    It is a ``SystemExit`` so that the bot stops with the sentence alone (Errbot's bootstrap turns
    any other exception into a traceback); code that builds a bot can still catch it by class.
    """

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence

    def __str__(self) -> str:
        return self.sentence


class NetworkUnavailableError(RuntimeError):
    """A message was addressed to a network that is not connected right now."""

    def __init__(self, network: str, backend: str, target: Any) -> None:
        super().__init__(
            f'The "{network}" network ({backend}) is not connected: nothing was sent to {target}.'
        )
        self.network = network


class StopRequested(Exception):
    """Raised inside a backend's own loop to end it when the backend offers no other way."""
