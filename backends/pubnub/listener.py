"""The boundary with the PubNub SDK's subscribe thread.

In SDK 10.x every listener callback runs on one worker thread, and any exception raised there
(by a listener, or by the SDK itself on an unexpected envelope such as a malformed file event)
ends that thread: delivery stops for good, silently. So nothing here raises, nothing blocks: each
event is wrapped in an :class:`Inbound` and handed over, and the worker is replaced by one that
survives envelopes it cannot parse.

A subscribe answer holding :data:`FULL_ANSWER` messages may follow a gap (see
:func:`watch_full_answers`); its channels are reported before its messages are handed over.
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

#: PubNub answers a long-poll with at most 100 messages and keeps at most the last 100 of a
#: channel for a subscriber that is behind; older ones are only in history. A channel that lost
#: messages that way is in a full answer: the one bringing the first message after the gap
#: holds that channel's 100 kept messages or is cut at 100 before their end.
FULL_ANSWER = 100
PRESENCE_SUFFIX = "-pnpres"


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


def watch_full_answers(pubnub: PubNub, on_full: Callable[[dict[str, str | None]], None]) -> None:
    """Call ``on_full`` with the channels of each full subscribe answer (and the channel group
    that brought each), on the SDK's subscribe thread, before its messages are handed over.

    Other PubNub SDKs report such an answer as ``PNRequestMessageCountExceededCategory``
    (``requestMessageCountThreshold``); SDK 10.8 has no such status, so the subscription
    manager's answer handler is wrapped. Call it before subscribing.
    """
    manager = pubnub._subscription_manager
    handle = manager._handle_endpoint_call

    def watched(raw_result: Any, status: PNStatus) -> None:
        try:
            envelopes = raw_result.get("m") if isinstance(raw_result, dict) else None
            if envelopes and len(envelopes) >= FULL_ANSWER:
                channels = {
                    e["c"]: e.get("b")
                    for e in envelopes
                    if isinstance(e, dict) and not str(e.get("c")).endswith(PRESENCE_SUFFIX)
                }
                log.info("A full subscribe answer (%d messages) on %s", len(envelopes), channels)
                on_full(channels)
        except Exception:
            log.exception("Could not check the size of a subscribe answer")
        handle(raw_result, status)

    manager._handle_endpoint_call = watched
