"""Publishing the bot's messages: convert, fit PubNub's size limit, publish, retry, report.

A publish that fails for a reason that may pass (no answer, a timeout, a 5xx, a 429) is retried
with exponential backoff and jitter, within a number of attempts and a time budget; any other
refusal (a 4xx: no permission, too large, bad key) is final at once. What finally fails raises
:class:`PublishError`, so the caller can tell people the reply did not reach the customer.

A request that got no answer may still have been published. Before retrying such a one, the
publisher looks for it in the channel's history (when the keyset has Message Persistence) and
does not publish it twice if it is there. Without history that check is impossible and a retry
may publish the message twice; ``publish_id_meta`` then puts one id per message in the publish
meta, the same on every attempt, so that client apps can drop the second copy.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from errbot_pubnub import refusals
from errbot_pubnub.converters import MessageConverter
from errbot_pubnub.message import MessageKind, PubNubMessage, datetime_to_timetoken, utc_now
from errbot_pubnub.retry import Backoff
from errbot_pubnub.sdk import Client, PubNubException

log = logging.getLogger(__name__)

_VERIFY_MARGIN_TICKS = 60 * 10_000_000  # clock skew allowed when looking for a lost publish
_REMEMBERED_PUBLISHES = 100  # per channel: own publishes a lost one must not be mistaken for
PUBLISH_BACKOFF = Backoff(base=0.5, cap=4.0)

# PubNub refuses a message whose URL-encoded channel name, payload and meta exceed 32 KiB.
MAX_MESSAGE_BYTES = 32 * 1024
_ENVELOPE_ALLOWANCE = 512  # keys, separators and signature parameters around the payload


class PublishError(RuntimeError):
    """A publish that PubNub refused or that could not reach it; the message was not sent.

    ``retryable`` says whether the failure may pass (no answer, timeout, 5xx, 429);
    ``attempts`` how many times it was tried.
    """

    def __init__(
        self,
        channel: str,
        reason: str,
        status_code: int | None = None,
        *,
        retryable: bool = False,
        attempts: int = 1,
    ) -> None:
        status = f" (HTTP {status_code})" if status_code else ""
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        super().__init__(
            f"Publishing to PubNub channel {channel!r} failed{status}{tries}: {reason}"
        )
        self.channel = channel
        self.reason = reason
        self.status_code = status_code
        self.retryable = retryable
        self.attempts = attempts

    @property
    def unanswered(self) -> bool:
        """No answer came back: the message may have been published all the same."""
        return self.retryable and not self.status_code


@dataclass(frozen=True)
class RetryPolicy:
    """How long a publish keeps trying: ``attempts`` at most, none started after ``budget``
    seconds, waiting ``backoff.delay(n)`` before the n-th retry."""

    attempts: int = 4
    budget: float = 15.0
    backoff: Backoff = PUBLISH_BACKOFF


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
        pubnub: Client,
        converter: MessageConverter,
        max_bytes: int = MAX_MESSAGE_BYTES,
        *,
        policy: RetryPolicy | None = None,
        user_id: str | None = None,
        history_available: Callable[[], bool] = lambda: False,
        publish_id_meta: str | None = None,
        on_published: Callable[[str, int], None] = lambda channel, timetoken: None,
    ) -> None:
        """``on_published(channel, timetoken)``: told of each publication (the other bots on
        the delivery database learn of it: ``errbot_pubnub.shared_publications``)."""
        self._on_published = on_published
        self._pubnub = pubnub
        self._converter = converter
        self._max_bytes = max_bytes
        self._policy = policy or RetryPolicy()
        self._user_id = user_id
        self._history_available = history_available
        self._publish_id_meta = publish_id_meta
        self._channel_locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        self._published: dict[str, deque[int]] = {}
        self.retries = 0  # attempts after a first failure, since start (for ``!pubnub status``)

    def publish(
        self, channel: str, message: PubNubMessage, meta: dict[str, Any] | None
    ) -> list[int]:
        """Publish ``message`` (in parts if needed); the timetokens of what was published."""
        leading = _leading_part(message, "")
        # An id takes room too, and so do the converter's keys: fit with both.
        sample = self._with_publish_id(self._with_converter_meta(meta, message))
        parts = self.fit(channel, message, sample)
        kinds = [leading] * (len(parts) - 1) + [message]  # only the last part has the kind
        with self._lock_for(channel):
            return [
                self._publish_with_retries(
                    channel,
                    payload,
                    self._with_publish_id(self._with_converter_meta(meta, kind)),
                    self._converter.custom_message_type(kind),
                )
                for payload, kind in zip(parts, kinds, strict=True)
            ]

    def _with_converter_meta(
        self, meta: dict[str, Any] | None, message: PubNubMessage
    ) -> dict[str, Any] | None:
        extra = self._converter.publish_meta(message)
        return {**(meta or {}), **extra} if extra else meta

    def _with_publish_id(self, meta: dict[str, Any] | None) -> dict[str, Any] | None:
        if not self._publish_id_meta:
            return meta
        return {**(meta or {}), self._publish_id_meta: uuid.uuid4().hex}

    def _publish_with_retries(
        self,
        channel: str,
        payload: Any,
        meta: dict[str, Any] | None,
        custom_message_type: str | None = None,
    ) -> int:
        policy = self._policy
        started = time.monotonic()
        not_before = datetime_to_timetoken(utc_now()) - _VERIFY_MARGIN_TICKS
        attempt = 1
        while True:
            try:
                timetoken = self._publish_once(channel, payload, meta, custom_message_type)
            except PublishError as error:
                delay = policy.backoff.delay(attempt)
                out_of_time = time.monotonic() - started + delay > policy.budget
                if not error.retryable or attempt >= policy.attempts or out_of_time:
                    if attempt > 1:
                        raise PublishError(
                            channel,
                            error.reason,
                            error.status_code,
                            retryable=error.retryable,
                            attempts=attempt,
                        ) from error
                    raise
                log.warning(
                    "Publish to %r failed (%s); attempt %d of %d in %.1f s",
                    channel,
                    error.reason,
                    attempt + 1,
                    policy.attempts,
                    delay,
                )
                time.sleep(delay)
                if error.unanswered:
                    found = self._find_lost_publish(channel, payload, meta, not_before)
                    if found is not None:
                        log.info("The unanswered publish to %r did arrive (%s)", channel, found)
                        return self._remember(channel, found)
                attempt += 1
                self.retries += 1
                continue
            return self._remember(channel, timetoken)

    def published(self, channel: str, timetoken: int) -> bool:
        """Whether this publisher published ``timetoken`` in ``channel`` (among its latest).

        Its echo can come back before the publish call returns: a publish still under way
        on the channel is waited for before the answer is final.
        """
        with self._locks_lock:
            if timetoken in self._published.get(channel, ()):
                return True
        with self._lock_for(channel):
            pass
        with self._locks_lock:
            return timetoken in self._published.get(channel, ())

    def _remember(self, channel: str, timetoken: int) -> int:
        with self._locks_lock:
            published = self._published.setdefault(channel, deque(maxlen=_REMEMBERED_PUBLISHES))
            published.append(timetoken)
        self._on_published(channel, timetoken)
        return timetoken

    def _find_lost_publish(
        self, channel: str, payload: Any, meta: dict[str, Any] | None, not_before: int
    ) -> int | None:
        """The timetoken of ``payload`` if an unanswered attempt stored it; None otherwise."""
        if not self._history_available():
            return None
        try:
            stored = self._pubnub.stored_messages([channel], end=not_before, count=25)
        except Exception as exc:
            log.warning("Could not check whether the publish to %r arrived: %s", channel, exc)
            return None
        with self._locks_lock:
            known = set(self._published.get(channel, ()))
        for item in stored.get(channel, []):
            timetoken = int(item.timetoken)
            if (
                timetoken not in known
                and getattr(item, "uuid", None) == self._user_id
                and item.message == payload
                and (item.meta or None) == (meta or None)
            ):
                return timetoken
        return None

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

    def _publish_once(
        self,
        channel: str,
        payload: Any,
        meta: dict[str, Any] | None,
        custom_message_type: str | None = None,
    ) -> int:
        try:
            return self._pubnub.publish_json(channel, payload, meta, custom_message_type)
        except PubNubException as exc:
            status = exc.get_status_code() or None
            reason = _reason(exc)
            retryable = status is None or status == 429 or status >= 500
            log.error("Publish to %r failed (HTTP %s): %s", channel, status, reason)
            raise PublishError(channel, reason, status, retryable=retryable) from exc
        except Exception as exc:
            log.error("Publish to %r failed: %s: %s", channel, type(exc).__name__, exc)
            raise PublishError(channel, f"{type(exc).__name__}: {exc}", retryable=True) from exc


def _reason(exc: PubNubException) -> str:
    """PubNub's own explanation (the JSON ``message``) rather than the exception's repr."""
    if exc.get_status_code() == 403:
        return refusals.reason(exc)
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
