"""The one module that owns the PubNub SDK: its version, its clients, every call into it (the
methods of :class:`Client`) and every patch of it.

The rest of the package uses the SDK's types (re-exported below) and the clients made here;
only this module reaches into the SDK's private parts, and ``tests/test_pubnub_sdk.py`` has a
test for each such reach that fails when an SDK release changes what it relies on:

- :class:`Client` replaces the SDK's subscription manager (``_subscription_manager``) with a
  subclass: its message worker (``_start_worker``) survives an envelope the SDK cannot parse,
  which in SDK 10.x ends the one delivery thread, silently; its answer handler
  (``_handle_endpoint_call``) reports each full subscribe answer before its messages are handed
  over; once stopped for good it starts no long-poll (``_start_subscribe_loop``), no
  reconnection attempt (``_register_heartbeat_timer``) and no presence heartbeat
  (``_schedule_next``), which ``PubNub.stop()`` leaves running;
- its request handler builds its HTTP client (``_ensure_session``) on a
  :class:`~errbot_pubnub.stoppable_transport.StoppableTransport`, so that a stopped client
  leaves no request in flight.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import httpx

from errbot_pubnub.stoppable_transport import STOPPED, StoppableBackend, StoppableTransport
from pubnub.callbacks import ReconnectionCallback, SubscribeCallback
from pubnub.enums import PNReconnectionPolicy, PNStatusCategory
from pubnub.errors import PNERR_CONNECTION_ERROR
from pubnub.exceptions import PubNubException
from pubnub.models.consumer.common import PNStatus
from pubnub.models.consumer.pubsub import PNFileMessageResult, PNMessageResult
from pubnub.models.consumer.v3.channel import Channel
from pubnub.models.consumer.v3.uuid import UUID
from pubnub.models.server.subscribe import SubscribeMessage
from pubnub.pnconfiguration import PNConfiguration
from pubnub.pubnub import NativeSubscribeMessageWorker, NativeSubscriptionManager, PubNub
from pubnub.request_handlers.httpx import HttpxRequestHandler

__all__ = [
    "FULL_ANSWER",
    "Client",
    "Inbound",
    "PNConfiguration",
    "PNFileMessageResult",
    "PNMessageResult",
    "PNReconnectionPolicy",
    "PNStatus",
    "PNStatusCategory",
    "PubNub",
    "PubNubException",
    "SubscriptionListener",
    "install_surviving_worker",
    "new_client",
    "stop_client",
    "watch_full_answers",
]

log = logging.getLogger(__name__)

#: The SDK releases whose private parts are patched here the way this module expects
#: (checked with 10.8; the same range as the package's requirement).
SUPPORTED_FROM, SUPPORTED_BEFORE = (10, 0), (11, 0)


def _check_version(found: str) -> None:
    numbers = tuple(int(part) for part in found.split(".")[:2] if part.isdigit())
    if not SUPPORTED_FROM <= numbers < SUPPORTED_BEFORE:
        raise ImportError(
            f"The PubNub backend needs the pubnub SDK >={'.'.join(map(str, SUPPORTED_FROM))},"
            f"<{'.'.join(map(str, SUPPORTED_BEFORE))} (it relies on parts of it that other "
            f"releases change), but pubnub {found} is installed."
        )


_check_version(version("pubnub"))

#: PubNub answers a long-poll with at most 100 messages and keeps at most the last 100 of a
#: channel for a subscriber that is behind; older ones are only in history. A channel that lost
#: messages that way is in a full answer: the one bringing the first message after the gap
#: holds that channel's 100 kept messages or is cut at 100 before their end.
FULL_ANSWER = 100
PRESENCE_SUFFIX = "-pnpres"


# --- Clients ----------------------------------------------------------------------------------


class _StoppableRequestHandler(HttpxRequestHandler):
    """The SDK's HTTP handler, on a transport that :func:`stop_client` stops for good."""

    def __init__(self, pubnub: PubNub) -> None:
        super().__init__(pubnub)
        self.backend = StoppableBackend()

    def _ensure_session(self) -> Any:
        with self._session_lock:
            if self.backend.stopped:
                raise PubNubException(pn_error=PNERR_CONNECTION_ERROR, errormsg=STOPPED)
            if self._session is None or self._session.is_closed:
                # Mounted, not passed as the transport: httpx then still honours proxies set in
                # the environment (those requests keep httpx's own transport).
                self._session = httpx.Client(
                    http2=True, mounts={"all://": StoppableTransport(self.backend)}
                )
            return self._session

    def stop(self) -> None:
        """Refuse every later request and abort every one in flight, connected or connecting."""
        with self._session_lock:
            self.backend.stop()
            if self._session is not None:
                self._session.close()


class Client(PubNub):
    """The SDK's threaded client, on a stoppable transport, with :class:`_SubscriptionManager`."""

    def __init__(self, config: PNConfiguration) -> None:
        super().__init__(config, custom_request_handler=_StoppableRequestHandler)
        if self._subscription_manager is not None:  # the SDK's own: its worker thread ends
            self._subscription_manager.stop()
            self._subscription_manager = _SubscriptionManager(self)

    @property
    def subscription(self) -> _SubscriptionManager:
        return self._subscription_manager

    # --- every call the backend makes (each raises the SDK's PubNubException) -------------

    def server_time(self) -> int:
        return int(self.time().sync().result)

    def publish_json(
        self,
        channel: str,
        payload: Any,
        meta: dict[str, Any] | None,
        custom_message_type: str | None = None,
    ) -> int:
        """Publish ``payload`` (POST: no URL length limit) with ``meta`` and a custom message
        type; its timetoken."""
        request = self.publish().channel(channel).message(payload).use_post(True)
        if meta:
            request = request.meta(meta)
        if custom_message_type:
            request = request.custom_message_type(custom_message_type)
        return int(request.sync().result.timetoken)

    def stored_messages(
        self, channels: list[str], *, end: int, count: int, start: int | None = None
    ) -> dict[str, list[Any]]:
        """History (``fetch_messages``): the newest ``count`` messages of each channel at or
        after ``end`` (and before ``start``), with publisher, meta and type; oldest first."""
        request = (
            self.fetch_messages()
            .channels(channels)
            .end(end)
            .count(count)
            .include_meta(True)
            .include_uuid(True)
            .include_message_type(True)
        )
        if start is not None:
            request = request.start(start)
        return request.sync().result.channels or {}

    def counts_since(self, channels: list[str], timetokens: list[int]) -> dict[str, int]:
        """How many messages each channel has after its timetoken (``message_counts``)."""
        envelope = self.message_counts(channels=channels, channels_timetoken=timetokens).sync()
        return envelope.result.channels or {}

    def channels_in_group(self, group: str) -> list[str]:
        envelope = self.list_channels_in_channel_group().channel_group(group).sync()
        return list(envelope.result.channels or [])

    def add_to_group(self, group: str, channels: list[str]) -> None:
        self.add_channel_to_channel_group().channels(channels).channel_group(group).sync()

    def remove_from_group(self, group: str, channels: list[str]) -> None:
        self.remove_channel_from_channel_group().channels(channels).channel_group(group).sync()

    def publish_unstored(self, channel: str, payload: Any) -> None:
        """Publish ``payload`` without PubNub storing it (a check, not a message)."""
        self.publish().channel(channel).message(payload).should_store(False).sync()

    def grant_customer_token(self, user_id: str, channel: str, ttl_minutes: int) -> str:
        """An Access Manager token for ``user_id`` alone: read and write ``channel`` and get
        and update its App Context metadata (a Chat SDK app reads and creates it), get and
        update its own App Context user (needs the secret key)."""
        envelope = (
            self.grant_token()
            .ttl(ttl_minutes)
            .authorized_uuid(user_id)
            .channels([Channel.id(channel).read().write().get().update()])
            .uuids([UUID.id(user_id).get().update()])
            .sync()
        )
        return str(envelope.result.token)

    def user_fields(self, user_id: str) -> dict[str, Any] | None:
        """What App Context holds for ``user_id``."""
        return self.get_uuid_metadata().uuid(user_id).sync().result.data

    def file_url(self, channel: str, file_id: str, name: str) -> str:
        request = self.get_file_url().channel(channel).file_id(file_id).file_name(name)
        return request.get_complete_url()

    def subscribe_to_groups(self, groups: list[str], listener: SubscribeCallback) -> None:
        self.add_listener(listener)
        self.subscribe().channel_groups(groups).execute()

    def stop_for_good(self) -> None:
        """See :func:`stop_client`."""
        try:
            self.subscription.stop_for_good()
        except Exception:
            log.debug("Could not disarm the PubNub SDK's subscription manager", exc_info=True)
        handler = self.get_request_handler()
        if isinstance(handler, _StoppableRequestHandler):
            handler.stop()
        try:
            self.stop()
        except Exception:
            log.exception("Stopping the PubNub SDK failed")


def new_client(config: PNConfiguration, *, token: str | None = None) -> Client:
    """A threaded SDK client that :func:`stop_client` can stop for good."""
    pubnub = Client(config)
    if token:
        pubnub.set_token(token)
    return pubnub


def stop_client(pubnub: PubNub) -> None:
    """Stop ``pubnub`` and every request it has in flight; never raises.

    ``PubNub.stop()`` alone ends the subscribe loop, but a long-poll waiting on the server
    keeps its thread until the server answers (minutes later) and an answer arriving meanwhile
    starts the next one; the reconnection manager's timer is not stopped and re-arms itself;
    the presence heartbeat re-arms its timer after each beat. So what would start something new
    is disarmed first, then the subscribe loop stops (an aborted long-poll then counts as
    cancelled, not as a network error to recover from), then the transport refuses every new
    connection and shuts down the open ones.
    """
    if isinstance(pubnub, Client):
        pubnub.stop_for_good()
        return
    log.warning("A PubNub client not made by new_client() may leave a request in flight")
    try:
        pubnub.stop()
    except Exception:
        log.exception("Stopping the PubNub SDK failed")


class _SubscriptionManager(NativeSubscriptionManager):
    """The SDK's threaded subscription manager, with what the backend needs on top:

    - its message worker survives an envelope the SDK cannot parse (and reports it);
    - each full subscribe answer is reported before its messages are handed over;
    - once stopped for good, nothing starts again: no long-poll, reconnection or heartbeat.
    """

    def __init__(self, pubnub: PubNub) -> None:
        self.on_inbound: Callable[[Inbound], None] | None = None
        self.on_full_answer: Callable[[dict[str, str | None]], None] | None = None
        self.stopped_for_good = False
        self.long_polls_refused = 0  # answers that came after the stop (for tests)
        super().__init__(pubnub)

    def _start_worker(self) -> None:
        worker = _SurvivingMessageWorker(
            self._pubnub, self._listener_manager, self._message_queue, self._consumer_event, self
        )
        threading.Thread(target=worker.run, name="pubnub-message-worker", daemon=True).start()

    def _handle_endpoint_call(self, raw_result: Any, status: PNStatus) -> None:
        if self.on_full_answer is not None:
            _report_full_answer(raw_result, self.on_full_answer)
        super()._handle_endpoint_call(raw_result, status)

    def _start_subscribe_loop(self) -> None:  # called by each long-poll's answer
        if self.stopped_for_good:
            self.long_polls_refused += 1
            _stay_stopped()
            return
        super()._start_subscribe_loop()

    def reconnect(self) -> None:
        if self.stopped_for_good:
            _stay_stopped()
            return
        super().reconnect()

    def stop_for_good(self) -> None:
        """Keep this manager from starting anything again (the next long-poll, the
        reconnection manager's attempts, the presence heartbeat), then stop it."""
        self.stopped_for_good = True
        reconnection = self._reconnection_manager
        # A ``time`` request in flight answers into these: it must neither schedule the next
        # attempt nor subscribe again.
        reconnection.start_polling = _stay_stopped
        reconnection._register_heartbeat_timer = _stay_stopped
        reconnection.set_reconnection_listener(_NoReconnection())
        reconnection.stop_heartbeat_timer()
        heartbeat = self._heartbeat_periodic_callback
        if heartbeat is not None:
            heartbeat._schedule_next = _stay_stopped  # a beat running now must not schedule another
            heartbeat.stop()
        self.stop()


def _report_full_answer(raw_result: Any, on_full: Callable[[dict[str, str | None]], None]) -> None:
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


class _NoReconnection(ReconnectionCallback):
    def on_reconnect(self) -> None:
        _stay_stopped()


def _stay_stopped(*_: Any) -> None:
    log.debug("Not starting anything: this PubNub client was stopped")


# --- Receiving --------------------------------------------------------------------------------
# Every listener callback runs on the SDK's one worker thread: nothing here raises or blocks;
# each event is wrapped in an :class:`Inbound` and handed over.
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

    def __init__(
        self,
        pubnub: PubNub,
        listeners: Any,
        messages: queue.Queue[Any],
        stopped: threading.Event,
        manager: _SubscriptionManager,
    ) -> None:
        super().__init__(pubnub, listeners, messages, stopped)
        self.manager = manager

    def _process_incoming_payload(self, message: SubscribeMessage) -> Any:
        try:
            return super()._process_incoming_payload(message)
        except Exception as exc:
            log.exception("The PubNub SDK could not parse an envelope on %r", message.channel)
            self._report(message, f"the PubNub SDK could not read it: {type(exc).__name__}: {exc}")
            return None

    def _report(self, message: SubscribeMessage, failure: str) -> None:
        on_inbound = self.manager.on_inbound
        if on_inbound is None:
            return
        try:
            timetoken = int(message.publish_metadata.publish_timetoken)
            on_inbound(
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


def install_surviving_worker(pubnub: Client, on_inbound: Callable[[Inbound], None]) -> None:
    """Hand each envelope the SDK cannot parse to ``on_inbound`` (as an :class:`Inbound` with
    a ``failure``): in SDK 10.x it would end the SDK's one delivery thread, silently."""
    pubnub.subscription.on_inbound = on_inbound


def watch_full_answers(pubnub: Client, on_full: Callable[[dict[str, str | None]], None]) -> None:
    """Call ``on_full`` with the channels of each full subscribe answer (and the channel group
    that brought each), on the SDK's subscribe thread, before its messages are handed over.

    Other PubNub SDKs report such an answer as ``PNRequestMessageCountExceededCategory``
    (``requestMessageCountThreshold``); SDK 10.8 has no such status. Call it before subscribing.
    """
    pubnub.subscription.on_full_answer = on_full
