"""Who is here: users present on channels, directly or through channel groups.

A subscribe or heartbeat keeps a user present for the heartbeat period it asks for (PubNub's
default is 300 s); a leave removes it at once. Presence through a group counts on every
channel the group holds when somebody asks.
"""

from __future__ import annotations

from collections.abc import Iterable

DEFAULT_PRESENCE_TIMEOUT = 300.0


class Presence:
    def __init__(self) -> None:
        self._by_channel: dict[str, dict[str, float]] = {}
        self._by_group: dict[str, dict[str, float]] = {}

    def touch(
        self,
        user_id: str,
        channels: Iterable[str],
        groups: Iterable[str],
        *,
        now: float,
        timeout: float = DEFAULT_PRESENCE_TIMEOUT,
    ) -> None:
        expires = now + timeout
        for index, names in ((self._by_channel, channels), (self._by_group, groups)):
            for name in names:
                index.setdefault(name, {})[user_id] = expires

    def leave(self, user_id: str, channels: Iterable[str], groups: Iterable[str]) -> None:
        for index, names in ((self._by_channel, channels), (self._by_group, groups)):
            for name in names:
                users = index.get(name)
                if users is not None:
                    users.pop(user_id, None)
                    if not users:
                        del index[name]

    def occupants(self, channel: str, via_groups: Iterable[str], *, now: float) -> list[str]:
        """Users present on ``channel`` directly or through any of ``via_groups``."""
        found: set[str] = set()
        for index, names in ((self._by_channel, [channel]), (self._by_group, via_groups)):
            for name in names:
                users = index.get(name)
                if users is None:
                    continue
                for user_id, expires in list(users.items()):
                    if expires > now:
                        found.add(user_id)
                    else:
                        del users[user_id]
                if not users:
                    del index[name]
        return sorted(found)

    def channels_with_direct_presence(self) -> list[str]:
        return list(self._by_channel)

    def groups_with_presence(self) -> list[str]:
        return list(self._by_group)
