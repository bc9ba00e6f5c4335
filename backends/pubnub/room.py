"""A PubNub channel as an Errbot room: one customer conversation."""

from __future__ import annotations

from typing import Any, Protocol

from errbot.backends.base import Room, RoomError

from errbot_pubnub.settings import invalid_name_reason


class ChannelMembership(Protocol):
    """What a room needs from the backend to join and leave (channel-group membership)."""

    def channel_groups_of(self, channel: str) -> list[str]: ...

    def add_channel(self, channel: str) -> None: ...

    def remove_channel(self, channel: str) -> None: ...


class PubNubRoom(Room):
    """A channel; ``str()`` is the channel name.

    The bot "is in" a channel when the channel belongs to one of its channel groups, so joining
    adds it to a group and leaving removes it. Channels need no creation on PubNub.
    """

    def __init__(self, channel: str, membership: ChannelMembership | None = None) -> None:
        reason = invalid_name_reason(channel)
        if reason:
            raise ValueError(f"{channel!r} is not a valid PubNub channel name: {reason}")
        self._channel = channel
        self._membership = membership

    @property
    def channel(self) -> str:
        return self._channel

    def _require_membership(self) -> ChannelMembership:
        if self._membership is None:
            raise RoomError(f"the room {self._channel!r} is not attached to a PubNub backend")
        return self._membership

    def join(self, username: str | None = None, password: str | None = None) -> None:
        self._require_membership().add_channel(self._channel)

    def leave(self, reason: str | None = None) -> None:
        self._require_membership().remove_channel(self._channel)

    def create(self) -> None:
        """PubNub channels exist as soon as they are named: nothing to create."""

    @property
    def exists(self) -> bool:
        return True

    @property
    def joined(self) -> bool:
        return bool(self._require_membership().channel_groups_of(self._channel))

    def __str__(self) -> str:
        return self._channel

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._channel!r})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and str(other) == str(self)

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._channel))

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the name only: a stored identifier must not drag the live backend along."""
        return {"_channel": self._channel, "_membership": None}
