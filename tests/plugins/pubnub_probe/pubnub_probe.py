"""A plugin for the PubNub backend's tests: answers "probe:" messages, records everything heard."""

from __future__ import annotations

from errbot import BotPlugin, botcmd
from errbot.backends.base import Message


class PubNubProbe(BotPlugin):
    """Replies through ``send`` (as a relay plugin would) and keeps every message it saw."""

    def activate(self) -> None:
        super().activate()
        self.heard: list[Message] = []

    def callback_message(self, msg: Message) -> None:
        self.heard.append(msg)
        if msg.body.startswith("probe:"):
            self.send(msg.frm, f"probe heard{msg.body.removeprefix('probe:')}")

    @botcmd
    def resolve_me(self, msg: Message, args: str) -> None:
        """Send a resolution notice signed by an agent, with the metadata plugins may set."""
        notice = self._bot.build_message(args or "Your question is resolved.")
        notice.to = msg.frm.room
        notice.extras["author"] = "Alice"
        notice.extras["kind"] = "resolved"
        self._bot.send_message(notice)
