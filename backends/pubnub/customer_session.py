"""One customer's chat over PubNub: register the channel, listen for agents, publish lines.

Used by the ``customer_client`` command line; kept apart so it can be driven from a script.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from errbot_pubnub.converters import MessageConverter
from errbot_pubnub.message import MessageKind, PubNubMessage
from errbot_pubnub.sdk_stop import stop_client
from pubnub.callbacks import SubscribeCallback
from pubnub.enums import PNStatusCategory
from pubnub.exceptions import PubNubException
from pubnub.models.consumer.common import PNStatus
from pubnub.models.consumer.pubsub import PNMessageResult
from pubnub.models.consumer.v3.channel import Channel
from pubnub.models.consumer.v3.group import Group
from pubnub.models.consumer.v3.uuid import UUID
from pubnub.pnconfiguration import PNConfiguration
from pubnub.pubnub import PubNub

log = logging.getLogger(__name__)

TOKEN_TTL_MINUTES = 24 * 60
CONNECT_TIMEOUT = 20.0


class CustomerError(Exception):
    """A problem to tell the person at the keyboard in one sentence."""


@dataclass(frozen=True)
class CustomerSettings:
    user_id: str
    channel: str
    channel_group: str
    publish_key: str
    subscribe_key: str
    secret_key: str | None
    token: str | None
    origin: str | None
    ssl: bool
    display_name: str | None = None  # stored in App Context, where support reads it
    email: str | None = None  # likewise


def permission_refused(action: str, permission: str, kind: str, name: str) -> CustomerError:
    return CustomerError(
        f"PubNub refused to {action} (403 Forbidden): the credentials lack {permission} "
        f"permission on {kind} {name!r}. Set PUBNUB_SECRET_KEY (the client then grants itself "
        "a token) or PUBNUB_TOKEN to a token that grants it."
    )


class _Listener(SubscribeCallback):
    """Never raises into the SDK: a raising listener would end all delivery."""

    def __init__(self, session: CustomerSession) -> None:
        self._session = session

    def status(self, pubnub: PubNub, status: PNStatus) -> None:
        try:
            self._session.on_status(status)
        except Exception:
            log.exception("Could not handle a PubNub status")

    def message(self, pubnub: PubNub, message: PNMessageResult) -> None:
        try:
            self._session.on_message(message)
        except Exception:
            log.exception("Could not show a message")

    def presence(self, pubnub: PubNub, presence: Any) -> None:
        """Presence is not shown."""


class CustomerSession:
    """Chat in one channel as one customer; ``show`` receives each line to display."""

    def __init__(
        self, settings: CustomerSettings, converter: MessageConverter, show: Callable[[str], None]
    ) -> None:
        self.settings = settings
        self._converter = converter
        self._show = show
        self._connected = threading.Event()
        self._failure: CustomerError | None = None
        self.pubnub: PubNub | None = None

    def _config(self, *, with_secret: bool) -> PNConfiguration:
        settings = self.settings
        config = PNConfiguration()
        config.publish_key = settings.publish_key
        config.subscribe_key = settings.subscribe_key
        config.user_id = settings.user_id
        config.secret_key = settings.secret_key if with_secret else None
        config.ssl = settings.ssl
        if settings.origin:
            config.origin = settings.origin
        config.daemon = True
        config.suppress_leave_events = True
        config.disable_config_locking = False
        return config

    def start(self) -> None:
        """Authorise, register the channel in the group, subscribe; ``CustomerError`` if not."""
        token = self.settings.token
        if self.settings.secret_key:
            token = self._grant_own_token()
        self.pubnub = PubNub(self._config(with_secret=False))
        if token:
            self.pubnub.set_token(token)
        self._register_channel()
        if self.settings.display_name or self.settings.email:
            self._set_profile(self.settings.display_name, self.settings.email)
        self.pubnub.add_listener(_Listener(self))
        self.pubnub.subscribe().channels([self.settings.channel]).execute()
        if not self._connected.wait(CONNECT_TIMEOUT) and self._failure is None:
            raise CustomerError(
                f"Could not connect to PubNub at {self.settings.origin or 'the default origin'} "
                f"within {CONNECT_TIMEOUT:.0f} s."
            )
        if self._failure is not None:
            raise self._failure

    def _grant_own_token(self) -> str:
        """With the secret key, issue a token for exactly what a customer needs, then drop it."""
        settings = self.settings
        admin = PubNub(self._config(with_secret=True))
        try:
            envelope = (
                admin.grant_token()
                .ttl(TOKEN_TTL_MINUTES)
                .authorized_uuid(settings.user_id)
                .channels([Channel.id(settings.channel).read().write()])
                .groups([Group.id(settings.channel_group).manage()])
                .uuids([UUID.id(settings.user_id).update()])  # its own name
                .sync()
            )
        except PubNubException as exc:
            raise CustomerError(
                f"PubNub refused to grant a token with PUBNUB_SECRET_KEY "
                f"(HTTP {exc.get_status_code()}): check that it belongs to the keyset."
            ) from exc
        finally:
            stop_client(admin)
        return envelope.result.token

    def _set_profile(self, name: str | None, email: str | None) -> None:
        """Store the customer's name and email in App Context, as a real app does (support
        shows them)."""
        assert self.pubnub is not None
        user_id = self.settings.user_id
        request = self.pubnub.set_uuid_metadata().uuid(user_id)
        if name:
            request = request.set_name(name)
        if email:
            request = request.email(email)
        try:
            request.sync()
        except PubNubException as exc:
            if exc.get_status_code() == 403:
                raise permission_refused(
                    f"set the profile of user {user_id!r}", "UPDATE", "uuid", user_id
                ) from exc
            raise CustomerError(f"Could not set the profile of user {user_id!r}: {exc}") from exc

    def _register_channel(self) -> None:
        settings = self.settings
        assert self.pubnub is not None
        try:
            self.pubnub.add_channel_to_channel_group().channels([settings.channel]).channel_group(
                settings.channel_group
            ).sync()
        except PubNubException as exc:
            if exc.get_status_code() == 403:
                raise permission_refused(
                    f"add channel {settings.channel!r} to channel group {settings.channel_group!r}",
                    "MANAGE",
                    "channel group",
                    settings.channel_group,
                ) from exc
            raise CustomerError(
                f"Could not add channel {settings.channel!r} to channel group "
                f"{settings.channel_group!r}: {exc}"
            ) from exc

    def on_status(self, status: PNStatus) -> None:
        if status.category == PNStatusCategory.PNConnectedCategory:
            self._connected.set()
        elif status.category == PNStatusCategory.PNAccessDeniedCategory:
            self._failure = permission_refused(
                f"subscribe to channel {self.settings.channel!r}",
                "READ",
                "channel",
                self.settings.channel,
            )
            self._connected.set()

    def on_message(self, result: PNMessageResult) -> None:
        if result.publisher == self.settings.user_id:
            return
        try:
            message = self._converter.convert_from_pubnub(result)
        except Exception:
            self._show(f"(unreadable) {json.dumps(result.message, ensure_ascii=False)}")
            return
        if message is not None:
            self._show(describe(message))

    def say(self, text: str) -> None:
        """Publish one line as the customer; ``CustomerError`` when PubNub refuses it."""
        assert self.pubnub is not None
        message = PubNubMessage(kind=MessageKind.FROM_CUSTOMER, text=text)
        payload = self._converter.convert_to_pubnub(message)
        try:
            self.pubnub.publish().channel(self.settings.channel).message(payload).sync()
        except PubNubException as exc:
            if exc.get_status_code() == 403:
                raise permission_refused(
                    f"publish to channel {self.settings.channel!r}",
                    "WRITE",
                    "channel",
                    self.settings.channel,
                ) from exc
            raise CustomerError(f"Could not send the message: {exc}") from exc

    def stop(self) -> None:
        pubnub, self.pubnub = self.pubnub, None
        if pubnub is not None:
            stop_client(pubnub)


def describe(message: PubNubMessage) -> str:
    """One displayed line (more for attachments): who speaks, or what happened."""
    labels = {
        MessageKind.FROM_AGENT: "agent",
        MessageKind.FROM_CUSTOMER: "customer",
        MessageKind.RESOLVED: "resolved",
        MessageKind.POSTPONED: "postponed",
    }
    lines = [f"{labels[message.kind]}: {message.text}".rstrip()]
    lines += [f"  attachment: {a.name} <{a.url}>" for a in message.attachments]
    return "\n".join(lines)
