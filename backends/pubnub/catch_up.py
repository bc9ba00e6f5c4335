"""Catch-up: deliver from history what was written while the bot was not listening.

It runs each time a subscription is (re)established, while live messages are held:

1. List the channels of every channel group (a channel added while the bot was down is
   there too).
2. Each channel resumes after its cursor (the newest message acknowledged in it); a channel
   without one resumes after the resume point (where the previous catch-up ended, or the
   first start).
3. ``message_counts`` (100 channels a call) skips the idle channels.
4. Channels with at most 25 new messages are read together (up to 100 a call); busier ones
   are read alone in pages of 100, back in time, and put back in order. A channel that got 25
   by the time it is read together may have more (written since it was counted): it is read
   alone too.
5. Every message goes to its channel's lane like a live one (deduplicated, in order); then the
   held live messages follow.

A permission refusal for a channel is reported and that channel skipped; a failure that may
pass (no answer, 5xx, 429) aborts the run, which the caller retries.

:meth:`CatchUp.channels` does steps 2-5 for a few channels only: those of a full live answer,
which may have lost messages to PubNub's live buffer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from errbot_pubnub import refusals
from errbot_pubnub.delivery import DeliveryTracker
from errbot_pubnub.history import (
    FILE_MESSAGE_TYPE,
    MULTI_CHANNEL_PAGE,
    HistoryReader,
    StoredMessage,
)
from errbot_pubnub.sdk import Client, Inbound, PNFileMessageResult, PNMessageResult, PubNubException

log = logging.getLogger(__name__)


@dataclass
class CatchUpReport:
    """What one catch-up found, for logs and ``!pubnub status``."""

    until: int | None  # the resume point it was run for (None: a few channels only)
    groups: dict[str, int] = field(default_factory=dict)  # channels per group
    channels: int = 0
    busy: int = 0
    messages: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # channel -> why it was not read
    seconds: float = 0.0

    def summary(self) -> str:
        text = (
            f"{self.messages} message(s) from {self.busy} of {self.channels} channel(s) "
            f"in {self.seconds:.1f} s"
        )
        if self.skipped:
            text += f"; {len(self.skipped)} channel(s) could not be read"
        return text


def is_transient(error: BaseException) -> bool:
    """A failure worth retrying: no answer, a server error, or too many requests (also when
    wrapped, as ``RoomError`` wraps a failed group listing)."""
    if not isinstance(error, PubNubException) and isinstance(error.__cause__, PubNubException):
        error = error.__cause__
    if not isinstance(error, PubNubException):
        return True
    code = refusals.status_code(error)
    return code is None or code == 429 or code >= 500


class CatchUp:
    """Reads history since each channel's cursor and hands it to the inbound pipeline."""

    def __init__(
        self,
        *,
        pubnub: Client,
        tracker: DeliveryTracker,
        deliver: Callable[[Inbound], None],
        list_groups: Callable[[], dict[str, list[str]]],
        stopping: Callable[[], bool],
    ) -> None:
        self._pubnub = pubnub
        self._reader = HistoryReader(pubnub)
        self._tracker = tracker
        self._deliver = deliver
        self._list_groups = list_groups
        self._stopping = stopping

    def run(
        self, default_since: int, until: int, group_since: dict[str, int] | None = None
    ) -> CatchUpReport:
        """Deliver every stored message newer than each channel's cursor (or its group's
        ``group_since``, or ``default_since``); ``until`` is recorded as the new resume point
        by the caller."""
        started = time.monotonic()
        by_group = self._list_groups()
        group_of: dict[str, str | None] = {}
        for group, channels in by_group.items():
            for channel in channels:
                group_of.setdefault(channel, group)
        report = self._read(group_of, default_since, until, group_since or {})
        report.groups = {group: len(channels) for group, channels in by_group.items()}
        report.seconds = time.monotonic() - started
        return report

    def channels(self, group_of: dict[str, str | None], default_since: int) -> CatchUpReport:
        """Deliver what ``group_of``'s channels (each with the group that brings it) stored
        after their cursor (or ``default_since``)."""
        started = time.monotonic()
        report = self._read(group_of, default_since, until=None, group_since={})
        report.seconds = time.monotonic() - started
        return report

    def _read(
        self,
        group_of: dict[str, str | None],
        default_since: int,
        until: int | None,
        group_since: dict[str, int],
    ) -> CatchUpReport:
        report = CatchUpReport(until=until)
        report.channels = len(group_of)
        since = {
            channel: self._tracker.last_handled(channel)
            or group_since.get(group or "", default_since)
            for channel, group in group_of.items()
        }
        counts = self._reader.counts(since) if since else {}
        busy = {channel: n for channel, n in counts.items() if n > 0}
        report.busy = len(busy)
        few = {c: since[c] for c, n in busy.items() if n <= MULTI_CHANNEL_PAGE}
        alone = set(busy) - set(few)
        if few:
            try:
                for channel, messages in self._reader.few_since(few).items():
                    if len(messages) >= MULTI_CHANNEL_PAGE:
                        alone.add(channel)  # it got busier since counted: older ones may miss
                        continue
                    report.messages += self._hand_over(messages, group_of[channel])
            except PubNubException as exc:
                if is_transient(exc):
                    raise
                report.skipped.update(dict.fromkeys(few, refusals.reason(exc)))
                log.error("Cannot catch up channels %s: %s", sorted(few), refusals.reason(exc))
        for channel in sorted(alone):
            if self._stopping():
                break
            try:
                messages = self._reader.since(channel, since[channel])
            except PubNubException as exc:
                if is_transient(exc):
                    raise
                report.skipped[channel] = refusals.reason(exc)
                log.error("Cannot catch up channel %r: %s", channel, report.skipped[channel])
                continue
            report.messages += self._hand_over(messages, group_of[channel])
        return report

    def _hand_over(self, messages: list[StoredMessage], group: str | None) -> int:
        for message in messages:
            result = self._result(message, group)
            self._deliver(Inbound(message.channel, message.timetoken, message.publisher, result))
        return len(messages)

    def _result(self, message: StoredMessage, group: str | None) -> PNMessageResult:
        """The SDK's shape for a live message, so converters see no difference."""
        payload = message.payload
        if message.message_type == FILE_MESSAGE_TYPE and isinstance(payload, dict):
            file = payload.get("file") or {}
            file_id, name = str(file.get("id", "")), str(file.get("name", ""))
            return PNFileMessageResult(
                payload.get("message"),
                group,
                message.channel,
                message.timetoken,
                message.publisher,
                file_url=self._file_url(message.channel, file_id, name),
                file_id=file_id,
                file_name=name,
                user_metadata=message.meta,
            )
        return PNMessageResult(
            payload,
            group,
            message.channel,
            message.timetoken,
            user_metadata=message.meta,
            publisher=message.publisher,
        )

    def _file_url(self, channel: str, file_id: str, name: str) -> Any:
        try:
            return self._pubnub.file_url(channel, file_id, name)
        except Exception:
            log.exception("Cannot build the URL of file %r in %r", name, channel)
            return None
