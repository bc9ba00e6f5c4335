"""One customer's chat over PubNub: open the session, listen for agents, publish lines.

Used by the ``customer_client`` command line; kept apart so it can be driven from a script.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from errbot_pubnub.converters import MessageConverter
from errbot_pubnub.customer_sessions import CustomerSessions, SessionError
from errbot_pubnub.message import MessageKind, PubNubMessage
from errbot_pubnub.sdk import (
    PNConfiguration,
    PNMessageResult,
    PNStatus,
    PNStatusCategory,
    PubNub,
    PubNubException,
    new_client,
    stop_client,
)
from pubnub.callbacks import SubscribeCallback

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
    session_url: str | None = None  # the bot's customer session service
    session_secret: str | None = None  # shared with it


def permission_refused(action: str, permission: str, kind: str, name: str) -> CustomerError:
    return CustomerError(
        f"PubNub refused to {action} (403 Forbidden): the credentials lack {permission} "
        f"permission on {kind} {name!r}. Open the session with the bot's session service "
        "(--session-url), or set PUBNUB_SECRET_KEY, or PUBNUB_TOKEN to a token that grants it."
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
        """Open the session (channel in a group, token), subscribe; ``CustomerError`` if not.

        The customer never holds more than its token: with a session URL the bot's service
        opens the session; with the secret key this client plays the app server, through the
        same code; with a token alone, whoever issued it registered the channel; on an open
        keyset (no key, no token) the client registers its channel itself.
        """
        settings = self.settings
        token = settings.token
        if settings.session_url:
            token = self._open_remote_session()
        elif settings.secret_key:
            token = self._open_own_session()
        self.pubnub = new_client(self._config(with_secret=False))
        if token:
            self.pubnub.set_token(token)
        elif not self.settings.session_url:
            self._open_session(self.pubnub, can_grant=False)
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

    def _open_own_session(self) -> str | None:
        """With the secret key, open the session as the app server would, then drop the key."""
        admin = new_client(self._config(with_secret=True))
        try:
            return self._open_session(admin, can_grant=True)
        finally:
            stop_client(admin)

    def _open_session(self, pubnub: PubNub, *, can_grant: bool) -> str | None:
        settings = self.settings
        sessions = CustomerSessions(
            pubnub,
            channel_groups=(settings.channel_group,),
            can_grant=can_grant,
            token_ttl=TOKEN_TTL_MINUTES,
        )
        try:
            grant = sessions.open(settings.user_id, channel=settings.channel)
        except SessionError as error:
            if error.pubnub_status == 403:
                raise CustomerError(
                    f"{error} Give the client the bot's session service (--session-url), "
                    "PUBNUB_SECRET_KEY or PUBNUB_TOKEN."
                ) from None
            raise CustomerError(str(error)) from None
        self._placed(grant.channel, grant.channel_group)
        return grant.token

    def _open_remote_session(self) -> str | None:
        """Ask the bot's customer session service, as a company's backend does."""
        settings = self.settings
        request = urllib.request.Request(
            str(settings.session_url),
            data=json.dumps({"user_id": settings.user_id}).encode(),
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {settings.session_secret or ''}",
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=CONNECT_TIMEOUT) as answer:
                grant = json.loads(answer.read())
        except urllib.error.HTTPError as refused:
            try:
                why = json.loads(refused.read()).get("error") or refused.reason
            except (ValueError, AttributeError):
                why = refused.reason
            raise CustomerError(
                f"The customer session service refused (HTTP {refused.code}): {why}"
            ) from None
        except (OSError, ValueError) as exc:
            raise CustomerError(
                f"The customer session service at {settings.session_url} cannot be reached: {exc}"
            ) from None
        self._placed(grant["channel"], grant["channel_group"])
        return grant.get("token")

    def _placed(self, channel: str, group: str) -> None:
        """Where the session put the customer (a full group gives the next one)."""
        self.settings = dataclasses.replace(self.settings, channel=channel, channel_group=group)

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
