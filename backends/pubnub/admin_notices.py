"""Tell the bot's admins about trouble without flooding them or blocking the caller.

A burst of broken payloads must produce one warning, not hundreds; and the SDK's threads must
never wait for a warning to be sent (it may go out over PubNub itself, or another network).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class AdminNotices:
    """Sends at most one warning per topic per ``interval`` seconds; counts the ones held back."""

    def __init__(self, warn: Callable[[str], None], interval: float) -> None:
        self._warn = warn
        self._interval = interval
        self._last_sent: dict[str, float] = {}
        self._held_back: dict[str, int] = {}
        self._recent: list[str] = []
        self._lock = threading.Lock()

    def notify(self, topic: str, text: str) -> bool:
        """Warn about ``topic`` unless that topic was warned about recently; True when sent."""
        now = time.monotonic()
        with self._lock:
            self._remember(text)
            last = self._last_sent.get(topic)
            if last is not None and now - last < self._interval:
                self._held_back[topic] = self._held_back.get(topic, 0) + 1
                log.warning("%s (admins already warned about this recently)", text)
                return False
            self._last_sent[topic] = now
            held_back = self._held_back.pop(topic, 0)
        if held_back:
            text += f" ({held_back} similar warning(s) since the last one were not sent.)"
        threading.Thread(
            target=self._send, args=(text,), name="pubnub-admin-notice", daemon=True
        ).start()
        return True

    def _send(self, text: str) -> None:
        try:
            self._warn(text)
        except Exception:
            log.exception("Could not warn the admins: %s", text)

    def _remember(self, text: str) -> None:
        self._recent.append(text)
        del self._recent[:-10]

    def recent(self) -> list[str]:
        """The last warnings raised (sent or held back), oldest first."""
        with self._lock:
            return list(self._recent)
