"""Message converters: the only place that knows which JSON shapes travel over PubNub.

A converter turns a received PubNub message into a :class:`PubNubMessage` (or ``None`` to ignore
it) and a :class:`PubNubMessage` into a JSON-serialisable payload to publish. Client apps differ,
so the backend loads its converter from a dotted path (``PUBNUB_MESSAGE_CONVERTER``).
"""

from __future__ import annotations

import abc
import mimetypes
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from errbot_pubnub.message import (
    Attachment,
    MessageKind,
    PubNubMessage,
    timetoken_to_datetime,
)

if TYPE_CHECKING:  # the SDK is only needed to type the argument, not to import this module
    from pubnub.models.consumer.pubsub import PNMessageResult


class UndecodablePayload(ValueError):
    """Raised by a converter for a payload it cannot read; the backend keeps it for admins."""


class MessageConverter(abc.ABC):
    """Translate between an app's PubNub JSON and the backend's :class:`PubNubMessage`.

    Subclass it, implement both methods, and name the class in ``PUBNUB_MESSAGE_CONVERTER``.
    ``convert_from_pubnub`` receives the SDK's ``PNMessageResult`` (``.message`` is the payload,
    ``.timetoken`` the server time, ``.publisher`` the sender, ``.user_metadata`` the publish
    meta); for a file shared with PubNub's File API it receives a ``PNFileMessageResult``, whose
    file :meth:`file_attachment` turns into an :class:`Attachment`. It returns ``None`` for
    payloads that are not chat messages (typing indicators, receipts) and raises
    :class:`UndecodablePayload` (or any exception) for payloads it cannot read: the backend
    logs them, keeps them for admins and goes on with the next message.
    """

    @abc.abstractmethod
    def convert_from_pubnub(self, message: PNMessageResult) -> PubNubMessage | None:
        """The chat message carried by ``message``, or ``None`` to ignore it."""

    @abc.abstractmethod
    def convert_to_pubnub(self, message: PubNubMessage) -> Any:
        """The JSON-serialisable payload to publish for ``message``."""

    def custom_message_type(self, message: PubNubMessage) -> str | None:
        """PubNub's ``customMessageType`` to publish ``message`` with (``None``: none).

        The SDKs hand it to apps beside the payload, so an app can tell a kind of message
        apart without reading it: 3 to 50 letters, digits, ``-`` or ``_``.
        """
        return None

    def publish_meta(self, message: PubNubMessage) -> dict[str, Any] | None:
        """Keys added to the publish ``meta`` of ``message`` (``None``: none); apps read
        them as the message's metadata, and the bot's own keys (``author``) stay."""
        return None

    @staticmethod
    def server_time(message: PNMessageResult) -> datetime:
        """When PubNub received ``message``: the fallback for a missing or unreadable time."""
        return timetoken_to_datetime(message.timetoken)

    @staticmethod
    def file_attachment(message: PNMessageResult) -> Attachment | None:
        """The file of a File API event as an attachment; ``None`` for ordinary messages."""
        url = getattr(message, "file_url", None)
        if not url:
            return None
        name = getattr(message, "file_name", None) or "file"
        kind = mimetypes.guess_type(name)[0] or Attachment.type
        return Attachment(name=name, url=url, type=kind)


def _parse_time(value: Any) -> datetime | None:
    """An ISO-8601 time with an offset; ``None`` when absent, unreadable or without offset."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _attachments(value: Any) -> list[Attachment]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise UndecodablePayload(f"attachments must be a list, not {type(value).__name__}")
    try:
        return [Attachment.from_mapping(item) for item in value]
    except ValueError as exc:
        raise UndecodablePayload(str(exc)) from None


_TEXT_KEYS = ("text", "message", "body")


def _find_text(payload: Mapping[str, Any]) -> str | None:
    """The text of the lenient shapes: ``text``/``message``/``body``, or inside ``content``."""
    for key in _TEXT_KEYS:
        value = payload.get(key)
        if isinstance(value, str):
            return value
        if isinstance(value, Mapping):
            nested = _find_text(value)
            if nested is not None:
                return nested
        elif value is not None:
            raise UndecodablePayload(f"{key!r} must be a string, not {type(value).__name__}")
    content = payload.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, Mapping):
        return _find_text(content)
    return None


_NOT_CHAT_TYPES = frozenset({"typing", "receipt", "read", "delivered", "presence"})


class DefaultMessageConverter(MessageConverter):
    """The format ``{"kind", "time", "text"}`` of existing support apps, read leniently.

    Besides that format it reads a bare string, the PubNub Chat SDK shape (``{"type": "text",
    "text", "files"}``), ``{"text": ...}``, ``{"message": ...}`` and ``{"content": {...}}``.
    A missing or unreadable ``time`` falls back to the server time; an unknown ``kind`` is read
    as a customer message (its text still matters) and stays visible in the raw payload.
    """

    def convert_from_pubnub(self, message: PNMessageResult) -> PubNubMessage | None:
        payload = message.message
        attachments: list[Attachment] = []
        file_attachment = self.file_attachment(message)
        if file_attachment is not None:
            attachments.append(file_attachment)
            if payload is None:
                payload = ""
        decoded = self._decode(payload, message)
        if decoded is None:
            return None
        decoded.attachments = attachments + decoded.attachments
        if (
            not decoded.text
            and not decoded.attachments
            and decoded.kind is MessageKind.FROM_CUSTOMER
        ):
            raise UndecodablePayload("the message has neither text nor attachments")
        return decoded

    def _decode(self, payload: Any, message: PNMessageResult) -> PubNubMessage | None:
        if isinstance(payload, str):
            return PubNubMessage(
                kind=MessageKind.FROM_CUSTOMER,
                text=payload,
                time_utc=self.server_time(message),
                raw=message.message,
            )
        if not isinstance(payload, Mapping):
            raise UndecodablePayload(
                f"expected an object or a string, got {type(payload).__name__}"
            )
        message_type = payload.get("type")
        if isinstance(message_type, str) and message_type.lower() in _NOT_CHAT_TYPES:
            return None
        kind = _kind(payload.get("kind"))
        text = _find_text(payload)
        files = payload.get("attachments", payload.get("files"))
        attachments = _attachments(files)
        if text is None and not attachments and kind is MessageKind.FROM_CUSTOMER:
            keys = ", ".join(sorted(map(str, payload))) or "none"
            raise UndecodablePayload(f"no text found in the object (keys: {keys})")
        return PubNubMessage(
            kind=kind,
            text=text or "",
            time_utc=_parse_time(payload.get("time")) or self.server_time(message),
            attachments=attachments,
            raw=message.message,
        )

    def convert_to_pubnub(self, message: PubNubMessage) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "kind": message.kind.value,
            "time": message.time_utc.isoformat(),
            "text": message.text,
        }
        if message.attachments:
            payload["attachments"] = [a.as_dict() for a in message.attachments]
        return payload


class ChatSDKMessageConverter(MessageConverter):
    """The PubNub Chat SDK shape both ways: ``{"type": "text", "text": ..., "files": [...]}``.

    The Chat SDK has no notion of a conversation's state, and its ``Message.content`` keeps
    only its own keys. So a notice (resolved, postponed) says what it is three ways: an extra
    ``"kind"`` key in the payload, ``{"kind": ...}`` in the publish meta (``Message.meta`` in
    the Chat SDK) and a ``customMessageType`` of ``support-resolved`` or ``support-postponed``
    (``customMessageType`` of the message event in PubNub's other SDKs).
    """

    #: The ``customMessageType`` of each notice (agents' replies have none).
    NOTICE_TYPES = {
        MessageKind.RESOLVED: "support-resolved",
        MessageKind.POSTPONED: "support-postponed",
    }

    def custom_message_type(self, message: PubNubMessage) -> str | None:
        return self.NOTICE_TYPES.get(message.kind)

    def publish_meta(self, message: PubNubMessage) -> dict[str, Any] | None:
        if message.kind in self.NOTICE_TYPES:
            return {"kind": message.kind.value}
        return None

    def convert_from_pubnub(self, message: PNMessageResult) -> PubNubMessage | None:
        payload = message.message
        attachments: list[Attachment] = []
        file_attachment = self.file_attachment(message)
        if file_attachment is not None:
            attachments.append(file_attachment)
            if payload is None or isinstance(payload, str):
                payload = {"type": "text", "text": payload or ""}
        if not isinstance(payload, Mapping):
            raise UndecodablePayload(
                f"expected a Chat SDK message object, got {type(payload).__name__}"
            )
        message_type = payload.get("type", "text")
        if message_type != "text":
            if isinstance(message_type, str) and message_type in _NOT_CHAT_TYPES:
                return None
            raise UndecodablePayload(f"unsupported Chat SDK message type {message_type!r}")
        text = payload.get("text", "")
        if not isinstance(text, str):
            raise UndecodablePayload(f"'text' must be a string, not {type(text).__name__}")
        attachments += _attachments(payload.get("files"))
        kind = _kind(payload.get("kind"))
        if not text and not attachments and kind is MessageKind.FROM_CUSTOMER:
            raise UndecodablePayload("the message has neither text nor files")
        return PubNubMessage(
            kind=kind,
            text=text,
            time_utc=self.server_time(message),
            attachments=attachments,
            raw=message.message,
        )

    def convert_to_pubnub(self, message: PubNubMessage) -> dict[str, Any]:
        payload: dict[str, Any] = {"type": "text", "text": message.text}
        if message.attachments:
            payload["files"] = [a.as_dict() for a in message.attachments]
        if message.kind is not MessageKind.FROM_AGENT:
            payload["kind"] = message.kind.value
        return payload


def _kind(value: Any) -> MessageKind:
    """The kind a payload names; a message from the customer when it names none we know."""
    if value is None:
        return MessageKind.FROM_CUSTOMER
    try:
        return MessageKind.parse(value)
    except (ValueError, TypeError):
        return MessageKind.FROM_CUSTOMER
