"""Relays plain messages between identifiers of a bridged bot, the way a real plugin would.

``RELAY_PAIRS`` in the bot's configuration lists ``(source, target)`` pairs of identifiers; a
message whose room (or, when direct, whose sender) is ``source`` is repeated to ``target``.
It also records what it sees, so tests can check lifecycle and routing from the outside.
"""

from __future__ import annotations

import threading
from typing import Any

from errbot import BotPlugin, botcmd

from errbot_bridge import network_of


class BridgeRelay(BotPlugin):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.activations = 0
        self.deactivations = 0
        self.commands_run = 0
        self.seen: list[tuple[str | None, str, str]] = []
        self.messages: list[Any] = []
        self.joined: list[tuple[str, str]] = []
        self.relay_errors: list[str] = []
        self._lock = threading.Lock()

    def activate(self) -> None:
        super().activate()
        self.activations += 1

    def deactivate(self) -> None:
        self.deactivations += 1
        super().deactivate()

    def callback_room_joined(self, room: Any, identifier: Any, invited_by: Any) -> None:
        with self._lock:
            self.joined.append((str(room), str(identifier)))

    def callback_message(self, msg: Any) -> None:
        with self._lock:
            self.seen.append((network_of(msg), str(msg.frm), msg.body))
            self.messages.append(msg)
        if msg.body.startswith(self._bot.prefix):
            return
        where = str(msg.to) if msg.is_group else str(msg.frm)
        for source, target in getattr(self.bot_config, "RELAY_PAIRS", ()):
            if where == source:
                text = f"{msg.frm.nick or msg.frm.person} on {network_of(msg)}: {msg.body}"
                try:
                    self.send(self.build_identifier(target), text)
                except Exception as exc:  # the network of the target may be down
                    self.relay_errors.append(f"{type(exc).__name__}: {exc}")

    @botcmd
    def whereami(self, msg: Any, args: str) -> str:
        """Where a message came from, and whether its identifiers survive str() and back."""
        self.commands_run += 1
        sender = msg.frm.room if msg.is_group else msg.frm
        same = self.build_identifier(str(sender)) == sender
        return f"network={network_of(msg)} from={sender} roundtrip={same}"
