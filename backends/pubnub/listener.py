"""The boundary with the PubNub SDK's subscribe thread.

In SDK 10.x every listener callback runs on one worker thread, and any exception raised there
(by a listener, or by the SDK itself on an unexpected envelope such as a malformed file event)
ends that thread: delivery stops for good, silently. So nothing here raises, nothing blocks: each
event is wrapped in an :class:`Inbound` and handed over, and the worker is replaced by one that
survives envelopes it cannot parse.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pubnub.callbacks import SubscribeCallback
from pubnub.models.consumer.common import PNStatus
from pubnub.models.consumer.pubsub import PNMessageResult
from pubnub.models.server.subscribe import SubscribeMessage
from pubnub.pubnub import NativeSubscribeMessageWorker, PubNub

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Inbound:
    """A message received on a channel; ``failure`` says why the SDK could not even parse it."""

    channel: str
    timetoken: int
    publisher: str | None
    result: PNMessageResult | None
    failure: str | None = None
    payload: Any = None

    @classmethod
    def of(cls, result: PNMessageResult) -> Inbound:
        return cls(result.channel, int(result.timetoken), result.publisher, result)


class SubscriptionListener(SubscribeCallback):
    """Hands messages and file events to ``on_inbound`` and statuses to ``on_status``."""

    def __init__(
        self, on_inbound: Callable[[Inbound], None], on_status: Callable[[PNStatus], None]
    ) -> None:
        self._on_inbound = on_inbound
        self._on_status = on_status

    def message(self, pubnub: PubNub, message: PNMessageResult) -> None:
        self._hand_over(message)

    def file(self, pubnub: PubNub, file_message: PNMessageResult) -> None:
        """A file shared through the File API is a customer message with an attachment."""
        self._hand_over(file_message)

    def status(self, pubnub: PubNub, status: PNStatus) -> None:
        try:
            self._on_status(status)
        except Exception:
            category = getattr(status, "category", status)
            log.exception("Failed to handle the PubNub status %r", category)

    def presence(self, pubnub: PubNub, presence: Any) -> None:
        """Presence is not part of the conversation."""

    def signal(self, pubnub: PubNub, signal: Any) -> None:
        """Signals (typing, receipts) are ephemeral and never stored: not messages."""

    def _hand_over(self, result: PNMessageResult) -> None:
        try:
            self._on_inbound(Inbound.of(result))
        except Exception:
            log.exception("Failed to accept a message on %r: %r", result.channel, result.message)


class _SurvivingMessageWorker(NativeSubscribeMessageWorker):
    """The SDK's worker, except that an envelope it cannot parse is reported, not fatal."""

    def __init__(self, pubnub: PubNub, on_inbound: Callable[[Inbound], None]) -> None:
        manager = pubnub._subscription_manager
        self.stopped = threading.Event()
        super().__init__(pubnub, manager._listener_manager, manager._message_queue, self.stopped)
        self._on_inbound = on_inbound

    def _process_incoming_payload(self, message: SubscribeMessage) -> Any:
        try:
            return super()._process_incoming_payload(message)
        except Exception as exc:
            log.exception("The PubNub SDK could not parse an envelope on %r", message.channel)
            self._report(message, f"the PubNub SDK could not read it: {type(exc).__name__}: {exc}")
            return None

    def _report(self, message: SubscribeMessage, failure: str) -> None:
        try:
            timetoken = int(message.publish_metadata.publish_timetoken)
            self._on_inbound(
                Inbound(
                    channel=message.channel,
                    timetoken=timetoken,
                    publisher=message.issuing_client_id,
                    result=None,
                    failure=failure,
                    payload=message.payload,
                )
            )
        except Exception:
            log.exception("Could not keep the unreadable envelope %r", vars(message))


def install_surviving_worker(pubnub: PubNub, on_inbound: Callable[[Inbound], None]) -> None:
    """Swap the SDK's message worker for one that survives unparseable envelopes.

    Call it right after creating the client, before subscribing. Ours gets a queue of its own,
    so the SDK's worker (told to stop through its own queue and event) can never take a message
    meant for ours; ``pubnub.stop()`` then stops ours through the manager's current event.
    """
    manager = pubnub._subscription_manager
    old_queue, old_stop = manager._message_queue, manager._consumer_event
    manager._message_queue = queue.Queue()
    worker = _SurvivingMessageWorker(pubnub, on_inbound)
    manager._consumer_event = worker.stopped
    old_stop.set()
    old_queue.put(None)
    threading.Thread(target=worker.run, name="pubnub-message-worker", daemon=True).start()
