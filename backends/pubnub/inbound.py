"""From a received PubNub message to Errbot's ``callback_message``, without losing any.

    SDK thread ── accept() ──┐
    catch-up ── accept_caught_up() ─┼─► per-channel lanes ──► handle(): convert, deliver ──► ack
    !pubnub replay ── replay() ─────┘   (worker threads; a message that cannot be read or
                                         delivered becomes a dead letter)

``accept`` is the single entry point of live messages and ``handle`` the single place where a
message counts as handled, so what happens at each point (deduplication, a durable cursor)
lives in the :class:`~errbot_pubnub.delivery.DeliveryTracker` alone. While history is being
caught up, live messages are held (``hold``/``release``) so that each channel still reaches
Errbot in timetoken order: its older messages from history first, then the live ones.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from errbot.backends.base import Message

from errbot_pubnub.admin_notices import AdminNotices
from errbot_pubnub.converters import MessageConverter
from errbot_pubnub.customer_identity import CustomerIdentity
from errbot_pubnub.dead_letters import DeadLetter, DeadLetters
from errbot_pubnub.delivery import DeliveryTracker
from errbot_pubnub.lanes import ChannelLanes
from errbot_pubnub.message import PubNubMessage, timetoken_to_datetime
from errbot_pubnub.person import PubNubOccupant
from errbot_pubnub.room import ChannelMembership, PubNubRoom
from errbot_pubnub.sdk import Inbound, PNMessageResult
from errbot_pubnub.user_profiles import Profile

log = logging.getLogger(__name__)

UNKNOWN_PUBLISHER = "unknown"
UNDELIVERED_TOPIC = "undelivered"
NOT_THE_CUSTOMER_TOPIC = "not the customer"


@dataclass
class Replay:
    """The outcome of replaying one dead letter, filled in by the lane that handles it."""

    letter: DeadLetter
    outcome: str = ""  # "delivered", "ignored" (the converter skips it) or "undelivered"
    reason: str = ""
    done: threading.Event = field(default_factory=threading.Event)

    def finish(self, outcome: str, reason: str = "") -> None:
        self.outcome, self.reason = outcome, reason
        self.done.set()


class InboundPipeline:
    """Accepts messages from the SDK and delivers them to Errbot, in order per channel."""

    def __init__(
        self,
        *,
        own_user_id: str,
        converter: MessageConverter,
        tracker: DeliveryTracker,
        dead_letters: DeadLetters,
        notices: AdminNotices,
        deliver: Callable[[Message], None],
        membership: ChannelMembership,
        workers: int,
        profile_of: Callable[[str], Profile | None] | None = None,
        identity: CustomerIdentity | None = None,
        published_by_us: Callable[[str, int], bool] | None = None,
    ) -> None:
        self._own_user_id = own_user_id
        self._identity = identity  # who is the customer of a channel
        self._published_by_us = published_by_us  # None: every message under our id is ours
        self._converter = converter
        self._tracker = tracker
        self._dead_letters = dead_letters
        self._notices = notices
        self._deliver = deliver
        self._membership = membership
        self._profile_of = profile_of  # a customer's name and details, when they can be found
        self._lanes: ChannelLanes[Inbound] = ChannelLanes(self.handle, workers)
        self._accepting = threading.Event()
        self._delivered = 0
        self._count_lock = threading.Lock()
        self._held: list[Inbound] | None = None  # live messages waiting for a catch-up
        self._hold_lock = threading.Lock()
        self._replays: dict[tuple[str, int], Replay] = {}

    def start(self) -> None:
        self._lanes.start()
        self._accepting.set()

    def stop(self, timeout: float) -> int:
        """Stop accepting, finish what was accepted (for ``timeout`` at most); returns how many
        were left unhandled. Those are not acknowledged: catch-up brings them back."""
        self._accepting.clear()
        with self._hold_lock:
            held, self._held = self._held, None
        if held:
            log.info("%d live message(s) held for a catch-up are left to the next one", len(held))
        self._lanes.wait_idle(timeout)
        left = self._lanes.stop(1.0)
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
            with self._hold_lock:
                if self._held is not None and self._accepting.is_set():
                    self._held.append(inbound)
                else:
                    self._admit(inbound)
        except Exception:
            log.exception("Could not queue the message %r", inbound)

    def accept_caught_up(self, inbound: Inbound) -> None:
        """A message found in history: queued like a live one, never held."""
        self._admit(inbound)

    def _admit(self, inbound: Inbound) -> None:
        if not self._accepting.is_set():
            log.info("Not accepting %s/%s: stopping", inbound.channel, inbound.timetoken)
            return
        if not self._tracker.accept(inbound.channel, inbound.timetoken):
            log.debug("Dropped a repeat of %s/%s", inbound.channel, inbound.timetoken)
            return
        self._lanes.put(inbound.channel, inbound)

    def hold(self) -> None:
        """Keep live messages aside until :meth:`release` (a catch-up is about to run)."""
        with self._hold_lock:
            if self._held is None:
                self._held = []

    def release(self) -> int:
        """Queue the held live messages (after the caught-up ones); returns how many.

        Done under the hold lock, so a live message arriving meanwhile waits its turn instead
        of overtaking the held ones of its channel.
        """
        with self._hold_lock:
            held, self._held = self._held or [], None
            for inbound in held:
                self._admit(inbound)
        return len(held)

    @property
    def holding(self) -> bool:
        return self._held is not None

    def replay(self, letter: DeadLetter) -> Replay:
        """Run a dead letter through the converter and delivery again, whatever was seen.

        Deduplication must not swallow it (it was acknowledged when it was kept), so it goes
        straight to its channel's lane; the returned :class:`Replay` says how it went.
        """
        replay = Replay(letter)
        if not self._accepting.is_set():
            replay.finish("undelivered", "the backend is stopping")
            return replay
        result = PNMessageResult(
            letter.payload,
            letter.subscription,
            letter.channel,
            letter.timetoken,
            user_metadata=letter.meta,
            publisher=letter.publisher,
        )
        inbound = Inbound(letter.channel, letter.timetoken, letter.publisher, result)
        with self._count_lock:
            self._replays[(letter.channel, letter.timetoken)] = replay
        self._lanes.put(letter.channel, inbound)
        return replay

    def handle(self, inbound: Inbound) -> None:
        """On a lane thread: deliver (or keep as undelivered), then acknowledge."""
        with self._count_lock:
            replay = self._replays.pop((inbound.channel, inbound.timetoken), None)
        try:
            outcome, reason = self._handle(inbound)
        except Exception as exc:  # a bug here must still not lose the message
            log.exception("Failed to handle %s/%s", inbound.channel, inbound.timetoken)
            outcome, reason = "undelivered", f"the backend failed: {type(exc).__name__}: {exc}"
        try:
            if replay is not None:
                self._settle_replay(replay, outcome, reason)
            elif outcome == "undelivered":
                self._keep_undelivered(inbound, reason)
        finally:
            self._tracker.acknowledge(inbound.channel, inbound.timetoken)

    def _handle(self, inbound: Inbound) -> tuple[str, str]:
        """``(outcome, reason)``: "delivered", "ignored" or "undelivered" and why."""
        posing = False
        if inbound.publisher == self._own_user_id:
            if self._published_by_us is None or self._published_by_us(
                inbound.channel, inbound.timetoken
            ):
                return "ignored", "our own message"  # our own reply, echoed by the subscription
            posing = True  # under our user id, but not published by this bot
        converted = self._convert(inbound)
        if not isinstance(converted, PubNubMessage):
            return converted
        message = self.to_errbot(inbound, converted)
        if posing:
            message.extras["posing_as_support"] = True
            log.warning(
                "A message in %s under the support user id %r was not published by this bot: %r",
                inbound.channel,
                self._own_user_id,
                converted.text,
            )
        elif not self._mark_customer(inbound, message):
            return "ignored", "not the customer of the channel (PUBNUB_OTHER_WRITERS = 'refuse')"
        try:
            self._deliver(message)
        except Exception as exc:
            log.exception("Delivering %s/%s to Errbot failed", inbound.channel, inbound.timetoken)
            return "undelivered", f"delivery failed: {type(exc).__name__}: {exc}"
        with self._count_lock:
            self._delivered += 1
        return "delivered", ""

    def _mark_customer(self, inbound: Inbound, message: Message) -> bool:
        """Say in ``message`` whether its sender is the channel's customer; False when it is
        not and such messages are refused."""
        identity = self._identity
        writer = inbound.publisher
        if identity is None or not writer:
            return True
        try:
            customer = identity.customer_of(inbound.channel, writer)
        except Exception:  # the message still counts as the customer's: nothing is lost
            log.exception("Could not tell who the customer of %s is", inbound.channel)
            return True
        message.extras["customer_id"] = customer
        if writer == customer:
            return True
        if identity.refuses_others:
            log.warning(
                "Refused a message in %s by %r, who is not its customer %r: %r",
                inbound.channel,
                writer,
                customer,
                message.body,
            )
            self._notices.notify(
                NOT_THE_CUSTOMER_TOPIC,
                f"A message in PubNub channel {inbound.channel} by {writer!r}, who is not its "
                f"customer {customer!r}, was not delivered (PUBNUB_OTHER_WRITERS = 'refuse').",
            )
            return False
        message.extras["not_the_customer"] = True
        return True

    def _convert(self, inbound: Inbound) -> PubNubMessage | tuple[str, str]:
        """The converted message, or the ``(outcome, reason)`` of not having one."""
        if inbound.result is None:
            return "undelivered", inbound.failure or "unreadable envelope"
        try:
            converted = self._converter.convert_from_pubnub(inbound.result)
        except Exception as exc:
            return "undelivered", f"{type(exc).__name__}: {exc}"
        if converted is None:
            log.debug("The converter ignored %s/%s", inbound.channel, inbound.timetoken)
            return "ignored", "the converter ignores it"
        if not isinstance(converted, PubNubMessage):
            return (
                "undelivered",
                f"the converter returned a {type(converted).__name__}, not a PubNubMessage",
            )
        return converted

    def _settle_replay(self, replay: Replay, outcome: str, reason: str) -> None:
        letter_id = replay.letter.id
        if letter_id is not None:
            if outcome == "undelivered":
                self._dead_letters.set_reason(letter_id, reason)
            else:
                self._dead_letters.remove(letter_id)
        log.info(
            "Replayed undelivered message #%s (%s/%s): %s %s",
            letter_id,
            replay.letter.channel,
            replay.letter.timetoken,
            outcome,
            reason,
        )
        replay.finish(outcome, reason)

    def to_errbot(self, inbound: Inbound, converted: PubNubMessage) -> Message:
        """The Errbot message, with the extras every plugin can rely on."""
        result = inbound.result
        room = PubNubRoom(inbound.channel, self._membership)
        publisher = inbound.publisher or UNKNOWN_PUBLISHER
        profile = self._profile_of(publisher) if self._profile_of and inbound.publisher else None
        sender = PubNubOccupant(room, publisher, profile.name if profile else None)
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
        if profile is not None and profile.details():
            extras["customer"] = profile.details()
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
            subscription=getattr(result, "subscription", None),
        )
        log.error(
            "Undelivered message %s/%s from %s: %s; raw payload: %r",
            inbound.channel,
            inbound.timetoken,
            inbound.publisher,
            reason,
            payload,
        )
        try:
            self._dead_letters.add(letter)
        except Exception as exc:  # the log line above still has the payload
            log.exception("Could not keep the undelivered message %r", letter)
            reason += f" (and it could not be kept for replay: {type(exc).__name__}: {exc})"
        self._notices.notify(
            UNDELIVERED_TOPIC,
            f"A message from {inbound.publisher or UNKNOWN_PUBLISHER} in PubNub channel "
            f"{inbound.channel} (timetoken {inbound.timetoken}) could not be delivered: "
            f"{reason}. Its raw payload is kept: `pubnub undelivered` lists it and "
            "`pubnub replay` delivers it again once the converter is fixed.",
        )
