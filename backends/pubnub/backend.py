"""The PubNub backend: customers write in channels of channel groups; the bot answers as one user.

Threads: the SDK's subscribe and worker threads only hand messages over
(:mod:`errbot_pubnub.sdk`); a supervisor thread keeps the subscription up and catches up
from history after every (re)connection (:mod:`errbot_pubnub.subscription`); a few lane threads
deliver messages to Errbot in order per channel (:mod:`errbot_pubnub.inbound`); a writer thread
makes their acknowledgements durable (:mod:`errbot_pubnub.delivery`); ``serve_forever`` waits
on the main thread until :meth:`PubNubBackend.stop_serving`, SIGINT or SIGTERM;
``send_message`` publishes (with retries) from whichever thread calls it
(:mod:`errbot_pubnub.outbound`). Two SDK clients: one per subscription (replaced on every
reconnection), and one for everything else (publish, history, channel groups).
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
import time
from typing import Any

from errbot.backends.base import Message, Person, RoomError
from errbot.core import ErrBot

from errbot_instances import process
from errbot_instances.postgres import liveness_of
from errbot_pubnub import connection_state as states
from errbot_pubnub import refusals
from errbot_pubnub.admin_notices import AdminNotices
from errbot_pubnub.capacity import GroupCapacity
from errbot_pubnub.clients import backend_client
from errbot_pubnub.connection_state import ConnectionState
from errbot_pubnub.customer_identity import CustomerIdentity, read_identity_settings
from errbot_pubnub.delivery_records import open_delivery_records
from errbot_pubnub.group_sharing import GroupSharing
from errbot_pubnub.identifiers import parse_identifier
from errbot_pubnub.inbound import InboundPipeline
from errbot_pubnub.key_check import publish_key_refusal
from errbot_pubnub.message import (
    Attachment,
    MessageKind,
    PubNubMessage,
    datetime_to_timetoken,
    utc_now,
)
from errbot_pubnub.outbound import Publisher, PublishError, RetryPolicy
from errbot_pubnub.person import PubNubOccupant, PubNubPerson
from errbot_pubnub.room import PubNubRoom
from errbot_pubnub.sdk import Client, PNStatus, PubNubException, stop_client
from errbot_pubnub.settings import (
    PubNubConfigurationError,
    PubNubSettings,
    channel_group_limit,
    invalid_name_reason,
    read_settings,
)
from errbot_pubnub.shared_publications import SharedPublications
from errbot_pubnub.subscription import SubscriptionSupervisor
from errbot_pubnub.subscription_notices import denied_sentence
from errbot_pubnub.subscription_outcomes import Health, History
from errbot_pubnub.user_profiles import UserProfiles

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
        self.notices = AdminNotices(self._tell_admins, self.settings.warning_interval)
        self.capacity = GroupCapacity(
            self.settings.group_capacity, self.notices, shared=self.settings.share_groups
        )
        records = open_delivery_records(
            config, self.settings, on_error=lambda text: self.notices.notify("db", text)
        )
        self.tracker = records.tracker
        self.dead_letters = records.dead_letters
        # Bots sharing the groups publish under one user id: each knows the others' publishes.
        self._shared = (
            SharedPublications(records.database.engine)
            if self.settings.share_groups and records.database is not None
            else None
        )
        try:
            identity = read_identity_settings(config)
        except PubNubConfigurationError as error:
            log.critical("%s", error)
            raise
        engine = records.database.engine if records.database else None
        self._listening_since = 0  # messages under our id from before this start are ours
        self.inbound = InboundPipeline(
            own_user_id=self.settings.user_id,
            converter=self.settings.converter,
            tracker=self.tracker,
            dead_letters=self.dead_letters,
            notices=self.notices,
            deliver=self.callback_message,
            membership=self,
            workers=self.settings.channel_workers,
            profile_of=(
                UserProfiles(self._app_context).profile_of if self.settings.user_names else None
            ),
            identity=CustomerIdentity(identity, engine),
            published_by_us=self._published_by_us,
        )
        self.pubnub: Client | None = None  # publish, history, groups (never subscribes)
        self.subscription: SubscriptionSupervisor | None = None
        self._publisher: Publisher | None = None
        self._stop_requested = threading.Event()
        self._fatal: str | None = None
        self._groups_lock = threading.Lock()  # the groups followed grow while running
        self._sharing: GroupSharing | None = None  # with PUBNUB_SHARE_GROUPS
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
                assert self.subscription is not None
                self.subscription.activate()  # now catch-up may deliver: plugins are there
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

    def _app_context(self, user_id: str) -> dict[str, Any] | None:
        """What App Context holds for ``user_id`` (raises the SDK's errors)."""
        pubnub = self.pubnub
        if pubnub is None:  # not connected: the user id will do
            return None
        return pubnub.user_fields(user_id)

    @property
    def publisher(self) -> Publisher | None:
        """What publishes the bot's messages while connected (``None`` otherwise)."""
        return self._publisher

    def _new_client(self) -> Client:
        return backend_client(self.settings)

    def _connect(self) -> None:
        settings = self.settings
        self.pubnub = pubnub = self._new_client()
        self._listening_since = datetime_to_timetoken(utc_now())
        refusal = publish_key_refusal(pubnub, settings.user_id)
        if refusal:
            raise PubNubConfigurationError(refusal)
        self._publisher = Publisher(
            pubnub,
            settings.converter,
            policy=RetryPolicy(
                attempts=settings.publish_attempts, budget=settings.publish_retry_seconds
            ),
            user_id=settings.user_id,
            history_available=self._history_available,
            publish_id_meta=settings.publish_id_meta,
            on_published=self._shared.add if self._shared else lambda channel, timetoken: None,
        )
        self.inbound.start()
        self.subscription = SubscriptionSupervisor(
            settings=settings,
            make_client=self._new_client,
            pubnub=pubnub,
            pipeline=self.inbound,
            tracker=self.tracker,
            list_groups=self.channels_by_group,
            health=Health(self.capacity, self.notices, self.connection, self._denied_sentence),
        )
        log.info(
            "Subscribing as %r to channel group(s) %s at %s (access: %s)",
            settings.user_id,
            ", ".join(settings.channel_groups),
            settings.origin or "PubNub",
            settings.access,
        )
        self.subscription.start()
        if settings.share_groups:
            self._share_groups()

    def _share_groups(self) -> None:
        """Join the instances on the delivery database and take in this one's share of the
        channel groups only (at most all ten, which one subscriber can hold)."""
        url = self.settings.delivery_db_url
        assert url is not None and self.subscription is not None
        groups = self.settings.channel_groups
        self._sharing = GroupSharing(
            url,
            groups,
            self.subscription.set_groups,
            liveness_of(self.bot_config),
            warn_admins=self.warn_admins,
        )

    def _published_by_us(self, channel: str, timetoken: int) -> bool:
        """Whether a message under the bot's user id is one this bot published. One from
        before this start cannot be told apart: it counts as ours."""
        if timetoken < self._listening_since:
            return True
        publisher = self._publisher
        if publisher is None or publisher.published(channel, timetoken):
            return True
        return self._shared is not None and self._shared.has(channel, timetoken)

    def _history_available(self) -> bool:
        return self.subscription is not None and self.subscription.history is not History.DISABLED

    def _wait_until_connected(self) -> bool:
        subscription = self.subscription
        assert subscription is not None
        started = time.monotonic()
        warned = False
        while not subscription.connected_once.wait(_WAIT_STEP):
            if subscription.fatal:
                self._fatal = subscription.fatal
                return False
            if self._stop_requested.is_set():
                return False
            if not warned and time.monotonic() - started > _SLOW_CONNECT_WARNING:
                warned = True
                log.warning(
                    "Still not connected to PubNub at %s; the bot keeps trying.",
                    self.settings.origin or "the default origin",
                )
        log.info("Connected to PubNub channel group(s) %s", self._groups_text())
        return not self._stop_requested.is_set()

    def _disconnect(self, activated: bool) -> None:
        """Stop in an order that loses nothing: input first, plugins, then the connection.

        Messages accepted but not handled within the stop timeout are not acknowledged: the
        next start catches them up from history. With several instances, the active role is
        handed over first, so that another instance faces the agents while this one stops.
        """
        log.info("Stopping the PubNub backend")
        if self.settings.delivery_db_url is not None:
            process.stopping(self.settings.delivery_db_url)
        self._stop_sharing()
        if self.subscription is not None:
            self.subscription.stop(STOP_TIMEOUT)
        self.inbound.stop(STOP_TIMEOUT)
        if activated:
            self.disconnect_callback()
        if not self.tracker.flush(STOP_TIMEOUT):
            log.warning("Some acknowledgements were not written: those messages come again.")
        pubnub, self.pubnub = self.pubnub, None
        if pubnub is not None:
            stop_client(pubnub)
        self._publisher = None
        self.tracker.close()
        self.connection.set(states.STOPPED)

    def _stop_sharing(self) -> None:
        """Hand this instance's channel groups to the others at once (they catch them up)."""
        sharing, self._sharing = self._sharing, None
        if sharing is not None:
            sharing.stop()

    def _denied_sentence(self, status: PNStatus) -> str:
        return denied_sentence(self.settings, status)

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
        if (msg.extras or {}).get("posing_as_support"):
            return False  # under our user id, but someone else published it: plugins must know
        return isinstance(msg.frm, Person) and msg.frm.person == self.settings.user_id

    def warn_admins(self, warning: str) -> None:
        """Tell every admin; one that cannot be told (a publish refused or failing) stops
        nobody. Errbot warns from the serving thread at start-up, where an exception would stop
        the bot."""
        for admin in self._admins_to_notify():
            try:
                self.send(self.build_identifier(admin), warning)
            except Exception as exc:
                log.warning("Could not warn the admin %s: %s", admin, exc)
        log.warning(warning)

    def _tell_admins(self, warning: str) -> None:
        """A warning about this bot's intake: told by the active instance where several share
        the channel groups and this one stands by, else by this one."""
        sharing = self._sharing
        if sharing is None or not sharing.hand_over(warning):
            self.warn_admins(warning)

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
                listing[group] = pubnub.channels_in_group(group)
            except PubNubException as exc:
                raise RoomError(f"listing channel group {group!r} failed: {exc}") from exc
        return listing

    def follow_channel_group(self, group: str) -> None:
        """Hear the channels of ``group`` too, from now on (a customer session service made it
        when the others were full); nothing happens for a group already followed."""
        with self._groups_lock:
            groups = self.settings.channel_groups
            if group in groups:
                return
            reason = invalid_name_reason(group)
            if reason:
                raise RoomError(f"{group!r} is not a valid channel group name: {reason}")
            limit = channel_group_limit(self.settings.share_groups)
            if len(groups) >= limit:
                raise RoomError(
                    f"cannot follow {group!r}: the bot already follows {limit} channel groups, "
                    + (
                        "the most the instances share out"
                        if self.settings.share_groups
                        else "PubNub's limit for one subscriber"
                    )
                )
            self.settings = dataclasses.replace(self.settings, channel_groups=(*groups, group))
            log.info("Following the channel group %s as well", group)
            if self._sharing is not None:
                self._sharing.add_groups([group])  # the instances share it out too
            elif self.subscription is not None:
                self.subscription.follow(group)

    def channel_groups_of(self, channel: str) -> list[str]:
        return [g for g, channels in self.channels_by_group().items() if channel in channels]

    def add_channel(self, channel: str) -> None:
        """Add ``channel`` to the first channel group with room, so its messages reach the bot.

        A group PubNub refuses because it is full is reported to admins and the next one tried.
        """
        pubnub = self._require_pubnub()
        refused: list[str] = []
        for group in self.settings.channel_groups:
            try:
                pubnub.add_to_group(group, [channel])
                return
            except PubNubException as exc:
                if not refusals.is_group_full(exc):
                    raise RoomError(
                        f"adding {channel!r} to channel group {group!r} failed: {exc}"
                    ) from exc
                self.capacity.refused(group, refusals.reason(exc))
                refused.append(group)
        raise RoomError(
            f"adding {channel!r} failed: every channel group is full ({', '.join(refused)})"
        )

    def remove_channel(self, channel: str) -> None:
        for group in self.channel_groups_of(channel):
            try:
                self._require_pubnub().remove_from_group(group, [channel])
            except PubNubException as exc:
                raise RoomError(
                    f"removing {channel!r} from channel group {group!r} failed: {exc}"
                ) from exc

    def _require_pubnub(self) -> Client:
        pubnub = self.pubnub
        if pubnub is None:
            raise RoomError("the PubNub backend is not connected")
        return pubnub

    @property
    def mode(self) -> str:
        return "pubnub"
