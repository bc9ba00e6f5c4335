"""Reading PubNub's Message Persistence the way catch-up needs it, within the API's limits.

- ``message_counts``: at most 100 channels per call; counts messages strictly newer than each
  channel's timetoken.
- ``fetch_messages``: ``start`` exclusive (older than), ``end`` inclusive; the NEWEST ``count``
  messages of the range come back, oldest first; at most 100 for one channel, 25 each for
  several. So a channel with more than 100 new messages is read in pages going back in time
  (each page's oldest timetoken is the next page's ``start``) and the pages are put back in
  order.
- A keyset without Message Persistence answers both with a 403 naming the add-on; that is told
  apart from an Access Manager 403 by its text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from errbot_pubnub.refusals import is_persistence_disabled
from errbot_pubnub.sdk import Client, PubNubException

log = logging.getLogger(__name__)

T = TypeVar("T")

COUNTS_PER_CALL = 100
SINGLE_CHANNEL_PAGE = 100
MULTI_CHANNEL_PAGE = 25
CHANNELS_PER_FETCH = 100  # the API takes 500; 100 keeps request lines short
FILE_MESSAGE_TYPE = 4


class HistoryDisabled(Exception):
    """The keyset has no Message Persistence: history cannot be read at all."""


@dataclass(frozen=True)
class StoredMessage:
    """One message read back from history."""

    channel: str
    timetoken: int
    payload: Any
    publisher: str | None
    meta: Any
    message_type: int | None


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class HistoryReader:
    """History and message counts through a PubNub client (not the subscribing one)."""

    def __init__(self, pubnub: Client) -> None:
        self._pubnub = pubnub

    def server_time(self) -> int:
        return self._pubnub.server_time()

    def counts(self, since: dict[str, int]) -> dict[str, int]:
        """How many messages each channel has after its timetoken (0 for idle channels)."""
        found: dict[str, int] = {}
        for names in chunks(sorted(since), COUNTS_PER_CALL):
            counted = _guarded(
                lambda names=names: self._pubnub.counts_since(names, [since[n] for n in names])
            )
            found.update({name: int(counted.get(name, 0)) for name in names})
        return found

    def since(self, channel: str, after: int) -> list[StoredMessage]:
        """Every stored message of ``channel`` newer than ``after``, oldest first."""
        pages: list[list[StoredMessage]] = []
        before: int | None = None
        while True:
            page = self._fetch([channel], after, SINGLE_CHANNEL_PAGE, before).get(channel, [])
            page = [m for m in page if m.timetoken > after]
            if page:
                pages.append(page)
            if len(page) < SINGLE_CHANNEL_PAGE:
                break
            before = page[0].timetoken
        return [message for page in reversed(pages) for message in page]

    def few_since(self, since: dict[str, int]) -> dict[str, list[StoredMessage]]:
        """The messages of channels known to have at most 25 new ones each, in few calls.

        One range serves all: from the oldest timetoken asked to now. A channel's new messages
        are its newest, so the newest 25 of the range hold them all; older ones are dropped.
        """
        found: dict[str, list[StoredMessage]] = {}
        for names in chunks(sorted(since), CHANNELS_PER_FETCH):
            oldest = min(since[name] for name in names)
            read = self._fetch(names, oldest, MULTI_CHANNEL_PAGE)
            for name in names:
                found[name] = [m for m in read.get(name, []) if m.timetoken > since[name]]
        return found

    def _fetch(
        self, channels: list[str], after: int, count: int, before: int | None = None
    ) -> dict[str, list[StoredMessage]]:
        """The stored messages of ``channels`` after ``after`` (and before ``before``)."""
        stored = _guarded(
            lambda: self._pubnub.stored_messages(
                channels,
                end=after + 1,  # inclusive: the first timetoken after ``after``
                count=count,
                start=before,
            )
        )
        return {
            channel: sorted(_stored(channel, items), key=lambda m: m.timetoken)
            for channel, items in stored.items()
        }


def _guarded(call: Callable[[], T]) -> T:
    """``call()``, with a keyset without Message Persistence told apart."""
    try:
        return call()
    except PubNubException as exc:
        if is_persistence_disabled(exc):
            raise HistoryDisabled(str(exc)) from exc
        raise


def _stored(channel: str, items: Iterable[Any]) -> list[StoredMessage]:
    return [
        StoredMessage(
            channel=channel,
            timetoken=int(item.timetoken),
            payload=item.message,
            publisher=getattr(item, "uuid", None),
            meta=item.meta,
            message_type=_message_type(getattr(item, "message_type", None)),
        )
        for item in items
    ]


def _message_type(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
