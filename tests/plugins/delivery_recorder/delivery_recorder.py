"""A plugin for the delivery tests: one line per message received, written before returning.

The file outlives the bot process (even a ``kill -9``), so a test can tell exactly which
messages reached the plugins and how often. Settings (``config.py``):

- ``DELIVERY_RECORD_FILE``: the file to append to (JSON lines: channel, timetoken, text).
- ``DELIVERY_BLOCK_FILE``: optional; a message whose text is a line of that file is recorded,
  then ``callback_message`` does not return while the line is there (a message in flight, to
  kill the bot at that exact point).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from errbot import BotPlugin
from errbot.backends.base import Message


class DeliveryRecorder(BotPlugin):
    def callback_message(self, msg: Message) -> None:
        extras = msg.extras.get("pubnub") or {}
        line = json.dumps(
            {
                "channel": extras.get("channel"),
                "timetoken": extras.get("timetoken"),
                "text": msg.body,
                "pid": os.getpid(),
            }
        )
        target = os.open(
            self.bot_config.DELIVERY_RECORD_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT
        )
        try:
            os.write(target, (line + "\n").encode())
        finally:
            os.close(target)
        while self._blocked(msg.body):
            time.sleep(0.02)

    def _blocked(self, text: str) -> bool:
        path = getattr(self.bot_config, "DELIVERY_BLOCK_FILE", None)
        if not path or not Path(path).exists():
            return False
        return text in Path(path).read_text().splitlines()
