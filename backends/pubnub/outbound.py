"""Publishing the bot's messages: convert, fit PubNub's size limit, publish, report failures."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from errbot_pubnub.converters import MessageConverter
from errbot_pubnub.message import MessageKind, PubNubMessage
from pubnub.exceptions import PubNubException
from pubnub.pubnub import PubNub

log = logging.getLogger(__name__)

# PubNub refuses a message whose URL-encoded channel name, payload and meta exceed 32 KiB.
MAX_MESSAGE_BYTES = 32 * 1024
_ENVELOPE_ALLOWANCE = 512  # keys, separators and signature parameters around the payload


class PublishError(RuntimeError):
    """A publish that PubNub refused or that could not reach it; the message was not sent."""

    def __init__(self, channel: str, reason: str, status_code: int | None = None) -> None:
        status = f" (HTTP {status_code})" if status_code else ""
        super().__init__(f"Publishing to PubNub channel {channel!r} failed{status}: {reason}")
        self.channel = channel
        self.reason = reason
        self.status_code = status_code


class MessageTooLarge(PublishError):
    """A message that cannot be made to fit PubNub's size limit even when split."""


def encoded_size(channel: str, payload: Any, meta: Any) -> int:
    """The size PubNub counts for a publish: the URL-encoded channel, payload and meta."""
    size = len(quote(channel, safe="")) + len(quote(json.dumps(payload), safe=""))
    if meta is not None:
        size += len(quote(json.dumps(meta), safe=""))
    return size + _ENVELOPE_ALLOWANCE


def _leading_part(message: PubNubMessage, text: str) -> PubNubMessage:
    """A part before the last: plain text, so a resolution or an attachment is announced once."""
    kind = message.kind if message.kind is MessageKind.FROM_CUSTOMER else MessageKind.FROM_AGENT
    return replace(message, kind=kind, text=text, attachments=[])


def _split_point(text: str, limit: int) -> int:
    """Where to cut ``text`` at most ``limit`` characters in: a line end, a space, or hard."""
    if len(text) <= limit:
        return len(text)
    for separator in ("\n", " "):
        cut = text.rfind(separator, limit // 2, limit)
        if cut > 0:
            return cut + 1
    return limit


class Publisher:
    """Publishes as the support user; splits long texts into parts that each fit the limit.

    Parts of one message are published in order, and parts of two messages to the same channel
    never interleave. Only the last part carries the message's kind and attachments, so a
    client app sees one resolution notice, not several.
    """

    def __init__(
        self,
        pubnub: PubNub,
        converter: MessageConverter,
        max_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        self._pubnub = pubnub
        self._converter = converter
        self._max_bytes = max_bytes
        self._channel_locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def publish(
        self, channel: str, message: PubNubMessage, meta: dict[str, Any] | None
    ) -> list[int]:
        """Publish ``message`` (in parts if needed); the timetokens of what was published."""
        parts = self.fit(channel, message, meta)
        with self._lock_for(channel):
            return [self._publish_once(channel, payload, meta) for payload in parts]

    def fit(self, channel: str, message: PubNubMessage, meta: dict[str, Any] | None) -> list[Any]:
        """The payloads to publish for ``message``: one, or the parts of a split text."""
        payload = self._convert(channel, message)
        if encoded_size(channel, payload, meta) <= self._max_bytes:
            return [payload]
        last_alone = replace(message, text="")
        if encoded_size(channel, self._convert(channel, last_alone), meta) > self._max_bytes:
            raise MessageTooLarge(
                channel,
                f"the message is over PubNub's {self._max_bytes // 1024} KiB limit even "
                "without its text (too many or too long attachments or meta)",
            )
        parts: list[Any] = []
        rest = message.text
        while True:
            payload = self._convert(channel, replace(message, text=rest))
            if encoded_size(channel, payload, meta) <= self._max_bytes:
                parts.append(payload)
                break
            cut = self._largest_fitting_prefix(channel, message, rest, meta)
            parts.append(self._convert(channel, _leading_part(message, rest[:cut])))
            rest = rest[cut:]
        log.info("Split a message to %r into %d parts to fit PubNub's limit", channel, len(parts))
        return parts

    def _largest_fitting_prefix(
        self, channel: str, message: PubNubMessage, text: str, meta: Any
    ) -> int:
        def fits(length: int) -> bool:
            part = _leading_part(message, text[:length])
            return encoded_size(channel, self._convert(channel, part), meta) <= self._max_bytes

        low, high = 1, min(len(text), self._max_bytes)  # a character takes at least a byte
        if not fits(low):
            raise MessageTooLarge(channel, "not even one character of the text fits the limit")
        while low < high:  # binary search for the longest prefix that fits
            middle = (low + high + 1) // 2
            if fits(middle):
                low = middle
            else:
                high = middle - 1
        return _split_point(text, low)

    def _convert(self, channel: str, message: PubNubMessage) -> Any:
        try:
            payload = self._converter.convert_to_pubnub(message)
            json.dumps(payload)
        except Exception as exc:
            raise PublishError(
                channel,
                f"the converter {type(self._converter).__name__} could not produce a JSON "
                f"payload: {type(exc).__name__}: {exc}",
            ) from exc
        return payload

    def _lock_for(self, channel: str) -> threading.Lock:
        with self._locks_lock:
            return self._channel_locks.setdefault(channel, threading.Lock())

    def _publish_once(self, channel: str, payload: Any, meta: dict[str, Any] | None) -> int:
        request = self._pubnub.publish().channel(channel).message(payload).use_post(True)
        if meta:
            request = request.meta(meta)
        try:
            envelope = request.sync()
        except PubNubException as exc:
            status = exc.get_status_code() or None
            reason = _reason(exc)
            log.error("Publish to %r failed (HTTP %s): %s", channel, status, reason)
            raise PublishError(channel, reason, status) from exc
        except Exception as exc:
            log.error("Publish to %r failed: %s: %s", channel, type(exc).__name__, exc)
            raise PublishError(channel, f"{type(exc).__name__}: {exc}") from exc
        return int(envelope.result.timetoken)


def _reason(exc: PubNubException) -> str:
    """PubNub's own explanation (the JSON ``message``) rather than the exception's repr."""
    text = getattr(exc, "_errormsg", "") or str(exc)
    try:
        body = json.loads(text)
    except (TypeError, ValueError):
        return str(text) or type(exc).__name__
    if isinstance(body, dict):
        details = body.get("message") or body.get("error_message") or text
        payload = body.get("payload")
        if isinstance(payload, dict) and payload:
            details = f"{details} {json.dumps(payload)}"
        return str(details)
    if isinstance(body, list) and len(body) > 1:
        return str(body[1])
    return str(text)
