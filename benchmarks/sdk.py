"""Official PubNub SDK clients for the benchmark's customers and bare subscribers."""

from __future__ import annotations

import threading
import time
from typing import Any

from pubnub.callbacks import SubscribeCallback
from pubnub.enums import PNStatusCategory
from pubnub.pnconfiguration import PNConfiguration
from pubnub.pubnub import PubNub

from benchmarks.marks import Inbox, Raw
from errbot_pubnub.sdk import new_client, stop_client

PUBLISH_KEY = "pub-c-bench"
SUBSCRIBE_KEY = "sub-c-bench"
SUPPORT_USER = "support"
GROUP_BATCH = 100  # channels added to a group per call


def client(origin: str, user_id: str) -> PubNub:
    config = PNConfiguration()
    config.origin = origin
    config.ssl = False
    config.daemon = True
    config.publish_key = PUBLISH_KEY
    config.subscribe_key = SUBSCRIBE_KEY
    config.user_id = user_id
    config.disable_config_locking = False
    return new_client(config)


def stop(pubnub: PubNub) -> None:
    stop_client(pubnub)


def add_to_group(pubnub: PubNub, group: str, channels: list[str]) -> None:
    for start in range(0, len(channels), GROUP_BATCH):
        batch = channels[start : start + GROUP_BATCH]
        pubnub.add_channel_to_channel_group().channels(batch).channel_group(group).sync()


class Recorder(SubscribeCallback):
    """A bare subscriber's listener: stamps each message as it arrives, does nothing else.

    Only messages from ``publisher`` are kept when it is given (customers listening for the
    support side's replies). Marks are read later, not while measuring.
    """

    def __init__(self, publisher: str | None = None) -> None:
        self._publisher = publisher
        self.inbox = Inbox()
        self.connected = threading.Event()

    def message(self, pubnub: PubNub, message: Any) -> None:
        now = time.time()
        if self._publisher is not None and message.publisher != self._publisher:
            return
        payload = message.message
        text = payload.get("text", "") if isinstance(payload, dict) else str(payload)
        self.inbox.add(now, message.channel, text)

    def status(self, pubnub: PubNub, status: Any) -> None:
        if status.category == PNStatusCategory.PNConnectedCategory:
            self.connected.set()

    def presence(self, pubnub: PubNub, presence: Any) -> None:
        """Not measured."""

    def count(self, tag: str | None = None) -> int:
        return self.inbox.count(tag)

    def take(self) -> list[Raw]:
        return self.inbox.take()


def subscribe(
    pubnub: PubNub, recorder: Recorder, *, groups: list[str], timeout: float = 20.0
) -> None:
    pubnub.add_listener(recorder)
    pubnub.subscribe().channel_groups(groups).execute()
    if not recorder.connected.wait(timeout):
        raise RuntimeError(f"the subscriber did not connect to {groups} within {timeout} s")
