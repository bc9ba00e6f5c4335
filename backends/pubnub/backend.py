"""The PubNub backend: customers write in channels of channel groups; the bot answers as one user.

Threads: the SDK's subscribe and worker threads only hand messages over
(:mod:`errbot_pubnub.listener`); a few lane threads deliver them to Errbot in order per channel
(:mod:`errbot_pubnub.inbound`); ``serve_forever`` waits on the main thread until
:meth:`PubNubBackend.stop_serving`, SIGINT or SIGTERM; ``send_message`` publishes synchronously
from whichever thread calls it (:mod:`errbot_pubnub.outbound`).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any

from errbot.backends.base import Message, Person, RoomError
from errbot.core import ErrBot

from errbot_pubnub import connection_state as states
from errbot_pubnub.admin_notices import AdminNotices
from errbot_pubnub.connection_state import ConnectionState
from errbot_pubnub.dead_letters import DeadLetterBox
from errbot_pubnub.delivery import DeliveryTracker, RecentDeliveries
from errbot_pubnub.identifiers import parse_identifier
from errbot_pubnub.inbound import InboundPipeline
from errbot_pubnub.listener import SubscriptionListener, install_surviving_worker
from errbot_pubnub.message import Attachment, MessageKind, PubNubMessage
from errbot_pubnub.outbound import Publisher, PublishError
from errbot_pubnub.person import PubNubOccupant, PubNubPerson
from errbot_pubnub.room import PubNubRoom
from errbot_pubnub.sdk_stop import stop_client
from errbot_pubnub.settings import PubNubConfigurationError, PubNubSettings, read_settings
from pubnub.enums import PNReconnectionPolicy, PNStatusCategory
from pubnub.exceptions import PubNubException
from pubnub.models.consumer.common import PNStatus
from pubnub.pnconfiguration import PNConfiguration
from pubnub.pubnub import PubNub

log = logging.getLogger(__name__)

STOP_TIMEOUT = 5.0  # how long a stop waits for messages being handled right now
_WAIT_STEP = 0.5  # the main thread wakes this often, so signals are handled promptly
_SLOW_CONNECT_WARNING = 15.0


class PubNubBackend(ErrBot):
    """Errbot backend for customer chat over PubNub channel groups."""

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        try:
            self.settings: PubNubSettings = read_settings(config)
        except PubNubConfigurationError as error:
            log.critical("%s", error)
            raise
        self.bot_identifier = PubNubPerson(self.settings.user_id)
        self.connection = ConnectionState()
        self.dead_letters = DeadLetterBox(self.settings.dead_letter_limit)
        self.notices = AdminNotices(self.warn_admins, self.settings.warning_interval)
        self.tracker: DeliveryTracker = RecentDeliveries()
        self.inbound = InboundPipeline(
            own_user_id=self.settings.user_id,
            converter=self.settings.converter,
            tracker=self.tracker,
            dead_letters=self.dead_letters,
            notices=self.notices,
            deliver=self.callback_message,
            membership=self,
            workers=self.settings.channel_workers,
        )
        self.pubnub: PubNub | None = None
        self._publisher: Publisher | None = None
        self._stop_requested = threading.Event()
        self._connected = threading.Event()
        self._fatal: str | None = None
        if not self.settings.secret_key and not self.settings.token:
            log.warning(
                "No BOT_IDENTITY 'secret_key' nor 'token': the keyset must be open (Access "
                "Manager disabled) for the bot to read and write the support channels."
            )

    # --- lifecycle ------------------------------------------------------------------------

    def serve_forever(self) -> None:
        previous_sigterm = self._handle_sigterm()
        activated = False
        try:
            self._connect()
            if self._wait_until_connected():
                activated = True
                self.connect_callback()
                while not self._stop_requested.wait(_WAIT_STEP):
                    pass
        except KeyboardInterrupt:
            log.info("Interrupted: stopping the PubNub backend.")
        finally:
            self._stop_requested.set()
            self._disconnect(activated)
            if previous_sigterm is not None:
                signal.signal(signal.SIGTERM, previous_sigterm)
            self.shutdown()
        if self._fatal:
            raise PubNubConfigurationError(self._fatal)

    def stop_serving(self) -> None:
        """Make ``serve_forever`` return promptly (thread-safe, idempotent)."""
        self._stop_requested.set()

    def _handle_sigterm(self) -> Any:
        """Treat SIGTERM (systemd, docker stop) like Ctrl-C: a clean stop, not a kill."""
        if threading.current_thread() is not threading.main_thread():
            return None
        return signal.signal(signal.SIGTERM, lambda *_: self.stop_serving())

    def _connect(self) -> None:
        settings = self.settings
        config = PNConfiguration()
        config.publish_key = settings.publish_key
        config.subscribe_key = settings.subscribe_key
        config.secret_key = settings.secret_key
        config.user_id = settings.user_id
        config.ssl = settings.ssl
        if settings.origin:
            config.origin = settings.origin
        config.daemon = True  # SDK threads must never keep the process alive
        config.reconnect_policy = PNReconnectionPolicy.EXPONENTIAL
        config.maximum_reconnection_retries = -1
        config.suppress_leave_events = True
        config.disable_config_locking = False  # the SDK copies and freezes it: no later surprises
        pubnub = PubNub(config)
        if settings.token:
            pubnub.set_token(settings.token)
        install_surviving_worker(pubnub, self.inbound.accept)
        pubnub.add_listener(SubscriptionListener(self.inbound.accept, self._on_status))
        self.pubnub = pubnub
        self._publisher = Publisher(pubnub, settings.converter)
        self.inbound.start()
        subscribe = pubnub.subscribe().channel_groups(list(settings.channel_groups))
        resume = self.tracker.resume_timetoken()
        if resume is not None:
            subscribe = subscribe.with_timetoken(resume)
        log.info(
            "Subscribing as %r to channel group(s) %s at %s (access: %s)",
            settings.user_id,
            ", ".join(settings.channel_groups),
            settings.origin or "PubNub",
            settings.access,
        )
        subscribe.execute()

    def _wait_until_connected(self) -> bool:
        started = time.monotonic()
        warned = False
        while not self._connected.wait(_WAIT_STEP):
            if self._stop_requested.is_set():
                return False
            if not warned and time.monotonic() - started > _SLOW_CONNECT_WARNING:
                warned = True
                log.warning(
                    "Still not connected to PubNub at %s; the SDK keeps retrying.",
                    self.settings.origin or "the default origin",
                )
        return not self._stop_requested.is_set()

    def _disconnect(self, activated: bool) -> None:
        """Stop in an order that loses nothing: input first, plugins, then the connection."""
        log.info("Stopping the PubNub backend")
        self.inbound.stop(STOP_TIMEOUT)
        if activated:
            self.disconnect_callback()
        pubnub, self.pubnub = self.pubnub, None
        if pubnub is not None:
            stop_client(pubnub)
        self._publisher = None
        self.connection.set(states.STOPPED)

    # --- SDK statuses -------------------------------------------------------------------------

    def _on_status(self, status: PNStatus) -> None:
        category = status.category
        if category in (
            PNStatusCategory.PNConnectedCategory,
            PNStatusCategory.PNReconnectedCategory,
        ):
            if self.connection.set(states.CONNECTED):
                log.info("Connected to PubNub channel group(s) %s", self._groups_text())
            self._connected.set()
        elif category is PNStatusCategory.PNAccessDeniedCategory:
            self._on_access_denied(status)
        elif category is PNStatusCategory.PNDisconnectedCategory:
            self.connection.set(states.DISCONNECTED, "the SDK gave up reconnecting")
            self.notices.notify(
                "disconnected",
                "The PubNub subscription gave up reconnecting: customer messages are not "
                "received until the bot is restarted.",
            )
        elif category in (
            PNStatusCategory.PNUnexpectedDisconnectCategory,
            PNStatusCategory.PNNetworkIssuesCategory,
            PNStatusCategory.PNTimeoutCategory,
            PNStatusCategory.PNConnectionErrorCategory,
        ):
            detail = _status_detail(status)
            if self.connection.set(states.RECONNECTING, detail):
                log.warning("PubNub connection problem (%s); the SDK retries", detail)
        else:
            log.debug("PubNub status %s: %s", category, _status_detail(status))

    def _on_access_denied(self, status: PNStatus) -> None:
        detail = _status_detail(status)
        needed = (
            "the secret key" if self.settings.secret_key else "the token in BOT_IDENTITY['token']"
        )
        sentence = (
            f"PubNub refused to subscribe {self.settings.user_id!r} to channel group(s) "
            f"{self._groups_text()} (403 Forbidden: {detail}): check BOT_IDENTITY keys and "
            f"that {needed} grants read on these groups."
        )
        self.connection.set(states.ACCESS_DENIED, detail)
        log.error("%s", sentence)
        if not self._connected.is_set():
            self._fatal = sentence  # never connected: a configuration problem, stop start-up
            self.stop_serving()
            return
        self.notices.notify(
            "access denied", f"{sentence} No customer message is received until then."
        )

    def _groups_text(self) -> str:
        return ", ".join(self.settings.channel_groups)

    # --- sending ------------------------------------------------------------------------------

    def send_message(self, msg: Message) -> None:
        channel = self._channel_of(msg.to)
        extras = msg.extras or {}
        try:
            kind = MessageKind.parse(extras.get("kind", MessageKind.FROM_AGENT))
            attachments = [
                item if isinstance(item, Attachment) else Attachment.from_mapping(item)
                for item in extras.get("attachments") or ()
            ]
        except (TypeError, ValueError) as exc:
            raise ValueError(f"Cannot send to PubNub channel {channel!r}: {exc}") from exc
        author = extras.get("author")
        meta = {"author": str(author)} if author else None
        publisher = self._publisher
        if publisher is None:
            raise PublishError(channel, "the PubNub backend is not connected")
        message = PubNubMessage(kind=kind, text=msg.body or "", attachments=attachments)
        publisher.publish(channel, message, meta)
        super().send_message(msg)

    @staticmethod
    def _channel_of(identifier: Any) -> str:
        if isinstance(identifier, PubNubOccupant | PubNubRoom):
            return identifier.channel
        raise ValueError(
            f"Cannot send to {identifier!r}: PubNub messages go to a channel (a room) or to a "
            "user in a channel ('<channel>/<user id>')."
        )

    def build_reply(
        self, msg: Message, text: str | None = None, private: bool = False, threaded: bool = False
    ) -> Message:
        """Answer in the customer's channel (PubNub has no private messages: it is theirs)."""
        reply = self.build_message(text or "")
        reply.frm = self.bot_identifier
        reply.to = msg.frm if isinstance(msg.frm, PubNubOccupant) else msg.to
        reply.parent = msg
        return reply

    def is_from_self(self, msg: Message) -> bool:
        return isinstance(msg.frm, Person) and msg.frm.person == self.settings.user_id

    def change_presence(self, status: str = "online", message: str = "") -> None:
        """Customers do not see the support user's presence; nothing to change."""

    # --- identifiers and rooms ----------------------------------------------------------------

    def build_identifier(self, text_representation: str) -> PubNubRoom | PubNubOccupant:
        return parse_identifier(text_representation, self)

    def query_room(self, room: str) -> PubNubRoom:
        identifier = parse_identifier(room, self)
        return identifier if isinstance(identifier, PubNubRoom) else identifier.room

    def rooms(self) -> list[PubNubRoom]:
        """The channels of the bot's channel groups: one per customer."""
        channels = sorted({c for group in self.channels_by_group().values() for c in group})
        return [PubNubRoom(channel, self) for channel in channels]

    def channels_by_group(self) -> dict[str, list[str]]:
        pubnub = self._require_pubnub()
        listing: dict[str, list[str]] = {}
        for group in self.settings.channel_groups:
            try:
                envelope = pubnub.list_channels_in_channel_group().channel_group(group).sync()
            except PubNubException as exc:
                raise RoomError(f"listing channel group {group!r} failed: {exc}") from exc
            listing[group] = list(envelope.result.channels or [])
        return listing

    def channel_groups_of(self, channel: str) -> list[str]:
        return [g for g, channels in self.channels_by_group().items() if channel in channels]

    def add_channel(self, channel: str) -> None:
        """Add ``channel`` to the first channel group, so its messages reach the bot."""
        group = self.settings.channel_groups[0]
        try:
            self._require_pubnub().add_channel_to_channel_group().channels([channel]).channel_group(
                group
            ).sync()
        except PubNubException as exc:
            raise RoomError(f"adding {channel!r} to channel group {group!r} failed: {exc}") from exc

    def remove_channel(self, channel: str) -> None:
        for group in self.channel_groups_of(channel):
            try:
                self._require_pubnub().remove_channel_from_channel_group().channels(
                    [channel]
                ).channel_group(group).sync()
            except PubNubException as exc:
                raise RoomError(
                    f"removing {channel!r} from channel group {group!r} failed: {exc}"
                ) from exc

    def _require_pubnub(self) -> PubNub:
        pubnub = self.pubnub
        if pubnub is None:
            raise RoomError("the PubNub backend is not connected")
        return pubnub

    @property
    def mode(self) -> str:
        return "pubnub"


def _status_detail(status: PNStatus) -> str:
    error = getattr(status, "error_data", None)
    if error is not None:
        return str(getattr(error, "information", None) or getattr(error, "exception", error))
    code = getattr(status, "status_code", None)
    return f"HTTP {code}" if code else str(status.category.name if status.category else "")
