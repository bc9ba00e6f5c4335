"""From a received PubNub message to Errbot's ``callback_message``, without losing any.

    SDK thread ── accept() ──► per-channel lanes ──► handle(): convert, deliver ──► acknowledge
                  (own, duplicate,                    (worker threads; a message that cannot be
                   stopping: filtered)                 read or delivered becomes a dead letter)

``accept`` is the single entry point and ``handle`` the single place where a message counts as
handled, so what happens at each point (deduplication, a durable cursor) lives in the
:class:`~errbot_pubnub.delivery.DeliveryTracker` alone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from errbot.backends.base import Message

from errbot_pubnub.admin_notices import AdminNotices
from errbot_pubnub.converters import MessageConverter
from errbot_pubnub.dead_letters import DeadLetter, DeadLetterBox
from errbot_pubnub.delivery import DeliveryTracker
from errbot_pubnub.lanes import ChannelLanes
from errbot_pubnub.listener import Inbound
from errbot_pubnub.message import PubNubMessage, timetoken_to_datetime
from errbot_pubnub.person import PubNubOccupant
from errbot_pubnub.room import ChannelMembership, PubNubRoom

log = logging.getLogger(__name__)

UNKNOWN_PUBLISHER = "unknown"
UNDELIVERED_TOPIC = "undelivered"


class InboundPipeline:
    """Accepts messages from the SDK and delivers them to Errbot, in order per channel."""

    def __init__(
        self,
        *,
        own_user_id: str,
        converter: MessageConverter,
        tracker: DeliveryTracker,
        dead_letters: DeadLetterBox,
        notices: AdminNotices,
        deliver: Callable[[Message], None],
        membership: ChannelMembership,
        workers: int,
    ) -> None:
        self._own_user_id = own_user_id
        self._converter = converter
        self._tracker = tracker
        self._dead_letters = dead_letters
        self._notices = notices
        self._deliver = deliver
        self._membership = membership
        self._lanes: ChannelLanes[Inbound] = ChannelLanes(self.handle, workers)
        self._accepting = threading.Event()
        self._delivered = 0
        self._count_lock = threading.Lock()

    def start(self) -> None:
        self._lanes.start()
        self._accepting.set()

    def stop(self, timeout: float) -> int:
        """Stop accepting, finish what is being handled; returns how many were left unhandled."""
        self._accepting.clear()
        left = self._lanes.stop(timeout)
        if left:
            log.warning(
                "%d received message(s) were not handled before stopping; they are not "
                "acknowledged as handled.",
                left,
            )
        return left

    def pending(self) -> int:
        return self._lanes.pending()

    @property
    def delivered(self) -> int:
        """Messages handed to Errbot since start."""
        return self._delivered

    def wait_idle(self, timeout: float) -> bool:
        return self._lanes.wait_idle(timeout)

    def accept(self, inbound: Inbound) -> None:
        """Called on the SDK's thread: filter, deduplicate, queue. Never blocks, never raises."""
        try:
            if not self._accepting.is_set():
                log.info("Not accepting %s/%s: stopping", inbound.channel, inbound.timetoken)
                return
            if not self._tracker.accept(inbound.channel, inbound.timetoken):
                log.info("Dropped a repeat of %s/%s", inbound.channel, inbound.timetoken)
                return
            self._lanes.put(inbound.channel, inbound)
        except Exception:
            log.exception("Could not queue the message %r", inbound)

    def handle(self, inbound: Inbound) -> None:
        """On a lane thread: deliver (or keep as undelivered), then acknowledge."""
        try:
            self._handle(inbound)
        except Exception as exc:  # a bug here must still not lose the message
            log.exception("Failed to handle %s/%s", inbound.channel, inbound.timetoken)
            self._keep_undelivered(inbound, f"the backend failed: {type(exc).__name__}: {exc}")
        self._tracker.acknowledge(inbound.channel, inbound.timetoken)

    def _handle(self, inbound: Inbound) -> None:
        if inbound.publisher == self._own_user_id:
            return  # our own reply, echoed back by the subscription
        if inbound.result is None:
            self._keep_undelivered(inbound, inbound.failure or "unreadable envelope")
            return
        try:
            converted = self._converter.convert_from_pubnub(inbound.result)
        except Exception as exc:
            self._keep_undelivered(inbound, f"{type(exc).__name__}: {exc}")
            return
        if converted is None:
            log.debug("The converter ignored %s/%s", inbound.channel, inbound.timetoken)
            return
        if not isinstance(converted, PubNubMessage):
            self._keep_undelivered(
                inbound,
                f"the converter returned a {type(converted).__name__}, not a PubNubMessage",
            )
            return
        message = self.to_errbot(inbound, converted)
        try:
            self._deliver(message)
        except Exception as exc:
            log.exception("Delivering %s/%s to Errbot failed", inbound.channel, inbound.timetoken)
            self._keep_undelivered(inbound, f"delivery failed: {type(exc).__name__}: {exc}")
            return
        with self._count_lock:
            self._delivered += 1

    def to_errbot(self, inbound: Inbound, converted: PubNubMessage) -> Message:
        """The Errbot message, with the extras every plugin can rely on."""
        result = inbound.result
        room = PubNubRoom(inbound.channel, self._membership)
        sender = PubNubOccupant(room, inbound.publisher or UNKNOWN_PUBLISHER)
        extras: dict[str, Any] = {
            "message_id": str(inbound.timetoken),
            "sent_at": timetoken_to_datetime(inbound.timetoken),
            "kind": converted.kind.value,
            "attachments": [attachment.as_dict() for attachment in converted.attachments],
            "pubnub": {
                "channel": inbound.channel,
                "timetoken": inbound.timetoken,
                "publisher": inbound.publisher,
                "subscription": getattr(result, "subscription", None),
                "meta": getattr(result, "user_metadata", None),
                "payload": converted.raw if converted.raw is not None else result.message,
                "client_time": converted.time_utc,
                "message": converted,
            },
        }
        return Message(body=converted.text, frm=sender, to=room, extras=extras)

    def _keep_undelivered(self, inbound: Inbound, reason: str) -> None:
        result = inbound.result
        payload = result.message if result is not None else inbound.payload
        letter = DeadLetter(
            channel=inbound.channel,
            timetoken=inbound.timetoken,
            publisher=inbound.publisher,
            payload=payload,
            reason=reason,
            meta=getattr(result, "user_metadata", None),
        )
        self._dead_letters.add(letter)
        log.error(
            "Undelivered message %s/%s from %s: %s; raw payload: %r",
            inbound.channel,
            inbound.timetoken,
            inbound.publisher,
            reason,
            payload,
        )
        self._notices.notify(
            UNDELIVERED_TOPIC,
            f"A message from {inbound.publisher or UNKNOWN_PUBLISHER} in PubNub channel "
            f"{inbound.channel} (timetoken {inbound.timetoken}) could not be delivered: "
            f"{reason}. Its raw payload is kept: the command `pubnub undelivered` lists it.",
        )
