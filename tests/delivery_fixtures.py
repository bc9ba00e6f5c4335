"""Helpers for the delivery tests: customers on the official SDK, bots that record every
message they receive in a file (``tests/plugins/delivery_recorder``), and that file read back.

The record file is the ground truth: it says exactly which customer messages reached Errbot's
plugins, in which order and how often, across restarts and kills of the bot.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from pubnub.pubnub import PubNub

from errbot_pubnub.emulator import PubNubEmulator
from errbot_pubnub.sdk import new_client
from tests.botrunner import make_config, wait_for
from tests.pubnub_fixtures import PUBLISH_KEY, SUBSCRIBE_KEY, pubnub_config, stop_clients

RECORDER = str(Path(__file__).parent / "plugins" / "delivery_recorder")
SUPPORT = "support"
ADMIN_CHANNEL = "ops"


class Customers:
    """Customer apps: each has its own channel in a group and publishes with the SDK."""

    def __init__(self, server: PubNubEmulator, **config: Any) -> None:
        self._server = server
        self._config = config  # e.g. secret_key: the app's server side signs for them
        self._clients: dict[str, PubNub] = {}

    def client(self, user_id: str) -> PubNub:
        if user_id not in self._clients:
            config = pubnub_config(self._server, user_id, **self._config)
            self._clients[user_id] = new_client(config)
        return self._clients[user_id]

    def join(self, user_id: str, group: str = "support", channel: str | None = None) -> str:
        channel = channel or f"{user_id}-support"
        self.client(user_id).add_channel_to_channel_group().channels([channel]).channel_group(
            group
        ).sync()
        return channel

    def say(self, user_id: str, text: str, channel: str | None = None) -> int:
        channel = channel or f"{user_id}-support"
        envelope = (
            self.client(user_id)
            .publish()
            .channel(channel)
            .message({"kind": "from_customer", "text": text})
            .sync()
        )
        return int(envelope.result.timetoken)

    def say_raw(self, user_id: str, payload: Any, channel: str | None = None) -> int:
        channel = channel or f"{user_id}-support"
        envelope = self.client(user_id).publish().channel(channel).message(payload).sync()
        return int(envelope.result.timetoken)

    def stop(self) -> None:
        stop_clients(list(self._clients.values()))


class Recording:
    """The lines the recorder plugin wrote: one per message a plugin received."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def lines(self) -> list[dict[str, Any]]:
        """Complete lines only: the bot may be writing the last one while the test reads."""
        if not self.path.exists():
            return []
        complete, _, _being_written = self.path.read_text().rpartition("\n")
        return [json.loads(line) for line in complete.split("\n") if line]

    def texts(self, channel: str | None = None) -> list[str]:
        return [r["text"] for r in self.lines() if channel is None or r["channel"] == channel]

    def counts(self) -> Counter[str]:
        return Counter(self.texts())

    def wait_for_texts(self, expected: list[str], timeout: float = 30.0) -> None:
        """Wait until every text of ``expected`` was recorded (at least once)."""
        wanted = Counter(expected)

        def arrived() -> bool:
            counts = self.counts()
            return all(counts[text] >= n for text, n in wanted.items())

        try:
            wait_for(arrived, timeout=timeout)
        except AssertionError:
            missing = sorted(set(wanted) - set(self.counts()))
            raise AssertionError(f"never recorded: {missing[:20]} ({len(missing)})") from None


def bot_config(tmp_path: Path, server: PubNubEmulator, record: Path, **overrides: Any) -> Any:
    """A PubNub bot whose data (delivery database) lives in ``tmp_path / 'data'``."""
    settings: dict[str, Any] = {
        "BOT_IDENTITY": {
            "publish_key": PUBLISH_KEY,
            "subscribe_key": SUBSCRIBE_KEY,
            "user_id": SUPPORT,
        },
        "PUBNUB_CHANNEL_GROUP": "support",
        "PUBNUB_ORIGIN": server.origin,
        "BOT_EXTRA_PLUGIN_DIR": RECORDER,
        "BOT_ADMINS": (f"{ADMIN_CHANNEL}/admin",),
        "ACCESS_CONTROLS": {"PubNub:*": {"allowmuc": True}},
        "DELIVERY_RECORD_FILE": str(record),
        "PUBNUB_WARNING_INTERVAL": 0,
    }
    settings.update(overrides)
    return make_config(tmp_path / "data", **settings)


def admin_command(
    server: PubNubEmulator,
    customers: Customers,
    command: str,
    starts: str = "",
    key: str = "text",
) -> str:
    """Run ``command`` as the bot's admin (in the admin's channel, under ``key`` in the
    payload) and return the answer: the first message the bot publishes there afterwards that
    starts with ``starts``."""
    sent = customers.say_raw("admin", {key: command}, channel=ADMIN_CHANNEL)

    def answer() -> str | None:
        for message in server.published(ADMIN_CHANNEL):
            payload = message.message if isinstance(message.message, dict) else {}
            text = str(payload.get("text") or payload.get("reply") or "")
            if (
                message.publisher == SUPPORT
                and message.timetoken > sent
                and text.startswith(starts)
            ):
                return text
        return None

    return wait_for(answer)


def admin_warnings(server: PubNubEmulator) -> list[str]:
    """What the bot told its admins (published in the admin's channel)."""
    return [
        m.message.get("text", "")
        for m in server.published(ADMIN_CHANNEL)
        if m.publisher == SUPPORT and isinstance(m.message, dict)
    ]
