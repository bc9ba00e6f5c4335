"""What one keyset holds: channels with bounded logs, channel groups, waiting subscribers.

A keyset is identified by its subscribe key, as on PubNub. Every object here is owned by the
server's event loop thread; nothing in this module locks.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from errbot_pubnub.emulator.app_context import AppContext
from errbot_pubnub.emulator.presence import Presence

PRESENCE_SUFFIX = "-pnpres"

#: Publishes remembered per keyset (timetoken and channel) to find what a subscriber missed.
RECENT_INDEX = 10_000


@dataclass(frozen=True)
class PublishedMessage:
    """One publish or signal as the server recorded it."""

    channel: str
    message: Any
    timetoken: int
    publisher: str | None = None
    meta: Any = None
    stored: bool = True
    signal: bool = False
    custom_message_type: str | None = None
    action: bool = False  # a message action event (the payload says which)

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "message": self.message,
            "timetoken": str(self.timetoken),
            "publisher": self.publisher,
            "meta": self.meta,
            "stored": self.stored,
            "signal": self.signal,
            "custom_message_type": self.custom_message_type,
            "action": self.action,
        }


class GroupCapacityExceeded(Exception):
    """Adding these channels would take a channel group past its capacity."""

    def __init__(self, group: str, capacity: int, current: int, adding: int) -> None:
        super().__init__(
            f"Channel group {group!r} would exceed the maximum of {capacity} channels "
            f"(it has {current}, {adding} more requested)"
        )
        self.group = group
        self.capacity = capacity


class ChannelLog:
    """A channel's recent publishes (for live catch-up) and its stored history, both bounded."""

    __slots__ = ("history", "live")

    def __init__(self, retention: int) -> None:
        self.live: deque[PublishedMessage] = deque(maxlen=retention)
        self.history: deque[PublishedMessage] = deque(maxlen=retention)

    def append(self, message: PublishedMessage) -> None:
        self.live.append(message)
        if message.stored and not message.signal:
            self.history.append(message)

    def newer_than(self, timetoken: int, window: int, not_before: int) -> list[PublishedMessage]:
        """Messages newer than ``timetoken`` among the last ``window`` ones, oldest first."""
        found: list[PublishedMessage] = []
        for index, message in enumerate(reversed(self.live)):
            if index >= window or message.timetoken <= timetoken or message.timetoken < not_before:
                break
            found.append(message)
        found.reverse()
        return found


class Waiter:
    """A long-poll waiting for something to deliver; woken, it looks again."""

    __slots__ = ("channels", "event", "groups", "user_id")

    def __init__(self, channels: frozenset[str], groups: frozenset[str], user_id: str) -> None:
        self.channels = channels
        self.groups = groups
        self.user_id = user_id
        self.event = asyncio.Event()


class Keyset:
    """Channels, groups, subscribers and presence of one subscribe key."""

    def __init__(
        self,
        subscribe_key: str,
        retention: int,
        group_capacity: int,
        recent_index: int = RECENT_INDEX,
    ) -> None:
        self.subscribe_key = subscribe_key
        self._recent: deque[tuple[int, str]] = deque(maxlen=recent_index)
        self.retention = retention
        self.group_capacity = group_capacity
        self.channels: dict[str, ChannelLog] = {}
        self._groups: dict[str, dict[str, None]] = {}
        self._groups_of_channel: dict[str, set[str]] = {}
        self._waiters_by_channel: dict[str, set[Waiter]] = {}
        self._waiters_by_group: dict[str, set[Waiter]] = {}
        self.presence = Presence()
        self.context = AppContext()  # App Context: users, channels, memberships
        #: Message actions: channel -> message timetoken -> its actions, oldest first.
        self.actions: dict[str, dict[int, list[dict[str, Any]]]] = {}

    # --- messages -------------------------------------------------------------------------

    def record(self, message: PublishedMessage) -> None:
        log = self.channels.get(message.channel)
        if log is None:
            log = self.channels[message.channel] = ChannelLog(self.retention)
        log.append(message)
        self._recent.append((message.timetoken, message.channel))
        for waiter in self._waiters_for(message.channel):
            waiter.event.set()

    def published(self, channel: str) -> list[PublishedMessage]:
        log = self.channels.get(channel)
        return list(log.live) if log else []

    def history(self, channel: str) -> list[PublishedMessage]:
        log = self.channels.get(channel)
        return list(log.history) if log else []

    def pending(
        self,
        channels: Iterable[str],
        groups: Iterable[str],
        timetoken: int,
        *,
        window: int,
        not_before: int,
    ) -> list[tuple[PublishedMessage, str | None]]:
        """What a subscriber at ``timetoken`` has not had yet, oldest first, with the group
        (or None for a direct channel subscription) that matched each message."""
        recent = self._published_since(timetoken)
        if recent is None:
            routes = self.routes(channels, groups)
        else:
            routes = self._routes_among(recent, set(channels), set(groups))
        found: list[tuple[PublishedMessage, str | None]] = []
        for channel, match in routes.items():
            log = self.channels.get(channel)
            if log is None or not log.live or log.live[-1].timetoken <= timetoken:
                continue
            found.extend((m, match) for m in log.newer_than(timetoken, window, not_before))
        found.sort(key=lambda item: item[0].timetoken)
        return found

    def routes(self, channels: Iterable[str], groups: Iterable[str]) -> dict[str, str | None]:
        """Every channel a subscription hears, evaluated now, with the group that brings it."""
        routes: dict[str, str | None] = dict.fromkeys(channels)
        for group in sorted(groups):
            for channel in self.expand_group(group):
                routes.setdefault(channel, group)
        return routes

    def _published_since(self, timetoken: int) -> set[str] | None:
        """Channels published on after ``timetoken``, or None when the index of recent
        publishes no longer reaches back that far.

        Waking a subscriber of big channel groups must not mean scanning every channel of
        every group: the index names the few channels worth looking at.
        """
        recent = self._recent
        if len(recent) == recent.maxlen and recent[0][0] > timetoken:
            return None
        channels: set[str] = set()
        for published_at, channel in reversed(recent):
            if published_at <= timetoken:
                break
            channels.add(channel)
        return channels

    def _routes_among(
        self, candidates: set[str], channels: set[str], groups: set[str]
    ) -> dict[str, str | None]:
        routes: dict[str, str | None] = {}
        for channel in candidates:
            if channel in channels:
                routes[channel] = None
                continue
            if channel.endswith(PRESENCE_SUFFIX):
                base = channel[: -len(PRESENCE_SUFFIX)]
                owners = [g + PRESENCE_SUFFIX for g in self._groups_of_channel.get(base, ())]
            else:
                owners = list(self._groups_of_channel.get(channel, ()))
            matched = sorted(g for g in owners if g in groups)
            if matched:
                routes[channel] = matched[0]
        return routes

    def expand_group(self, group: str) -> list[str]:
        """A group's channels; ``g-pnpres`` stands for the presence channels of ``g``."""
        if group.endswith(PRESENCE_SUFFIX):
            base = self._groups.get(group[: -len(PRESENCE_SUFFIX)], {})
            return [channel + PRESENCE_SUFFIX for channel in base]
        return list(self._groups.get(group, {}))

    # --- channel groups -------------------------------------------------------------------

    def channels_in(self, group: str) -> list[str]:
        return list(self._groups.get(group, {}))

    def group_names(self) -> list[str]:
        return list(self._groups)

    def groups_of(self, channel: str) -> set[str]:
        return set(self._groups_of_channel.get(channel, ()))

    def add_channels(self, group: str, channels: Iterable[str]) -> None:
        members = self._groups.get(group, {})
        new = [c for c in dict.fromkeys(channels) if c not in members]
        if len(members) + len(new) > self.group_capacity:
            raise GroupCapacityExceeded(group, self.group_capacity, len(members), len(new))
        members = self._groups.setdefault(group, {})
        for channel in new:
            members[channel] = None
            self._groups_of_channel.setdefault(channel, set()).add(group)

    def remove_channels(self, group: str, channels: Iterable[str]) -> None:
        members = self._groups.get(group)
        if members is None:
            return
        for channel in channels:
            if channel in members:
                del members[channel]
                self._forget_membership(channel, group)
        if not members:
            del self._groups[group]

    def remove_group(self, group: str) -> None:
        for channel in self._groups.pop(group, {}):
            self._forget_membership(channel, group)

    def _forget_membership(self, channel: str, group: str) -> None:
        owners = self._groups_of_channel.get(channel)
        if owners is not None:
            owners.discard(group)
            if not owners:
                del self._groups_of_channel[channel]

    # --- waiting subscribers --------------------------------------------------------------

    def add_waiter(self, waiter: Waiter) -> None:
        for channel in waiter.channels:
            self._waiters_by_channel.setdefault(channel, set()).add(waiter)
        for group in waiter.groups:
            self._waiters_by_group.setdefault(group, set()).add(waiter)

    def remove_waiter(self, waiter: Waiter) -> None:
        for index, names in (
            (self._waiters_by_channel, waiter.channels),
            (self._waiters_by_group, waiter.groups),
        ):
            for name in names:
                waiting = index.get(name)
                if waiting is not None:
                    waiting.discard(waiter)
                    if not waiting:
                        del index[name]

    def waiters(self) -> set[Waiter]:
        everyone: set[Waiter] = set()
        for waiting in (*self._waiters_by_channel.values(), *self._waiters_by_group.values()):
            everyone |= waiting
        return everyone

    def _waiters_for(self, channel: str) -> set[Waiter]:
        found = set(self._waiters_by_channel.get(channel, ()))
        if channel.endswith(PRESENCE_SUFFIX):
            base = channel[: -len(PRESENCE_SUFFIX)]
            groups = [g + PRESENCE_SUFFIX for g in self._groups_of_channel.get(base, ())]
        else:
            groups = list(self._groups_of_channel.get(channel, ()))
        for group in groups:
            found |= self._waiters_by_group.get(group, set())
        return found
