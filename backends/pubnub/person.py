"""People on PubNub: a user id, and a user speaking in a channel (a customer in their channel)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from errbot.backends.base import Person, RoomOccupant

if TYPE_CHECKING:
    from errbot_pubnub.room import PubNubRoom

OCCUPANT_SEPARATOR = "/"  # PubNub channel names cannot contain it, so the split is unambiguous


class PubNubPerson(Person):
    """A PubNub user id with no channel: the support user itself.

    PubNub has no direct messages, so a bare person has no address to send to; replies always go
    to a channel (a :class:`~errbot_pubnub.room.PubNubRoom`) or a person in one
    (a :class:`PubNubOccupant`).
    """

    def __init__(self, user_id: str, fullname: str | None = None) -> None:
        if not isinstance(user_id, str) or not user_id:
            raise ValueError("a PubNub user id must be a non-empty string")
        self._user_id = user_id
        self._fullname = fullname  # from App Context; identity is the user id alone

    @property
    def user_id(self) -> str:
        return self._user_id

    @property
    def person(self) -> str:
        return self._user_id

    @property
    def client(self) -> str | None:
        return None

    @property
    def nick(self) -> str:
        return self._user_id

    @property
    def aclattr(self) -> str:
        return str(self)

    @property
    def fullname(self) -> str:
        return self._fullname or self._user_id

    def __str__(self) -> str:
        return self._user_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._user_id!r})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and str(other) == str(self)

    def __hash__(self) -> int:
        return hash((type(self).__name__, str(self)))


class PubNubOccupant(PubNubPerson, RoomOccupant):
    """A user speaking in a channel; ``str()`` is ``"<channel>/<user id>"``.

    A customer message comes from the occupant, so answering "them" means publishing to
    their channel, and ACL patterns such as ``"*/alice"`` or ``"vip-*/*"`` can match either part.
    """

    def __init__(self, room: PubNubRoom, user_id: str, fullname: str | None = None) -> None:
        super().__init__(user_id, fullname)
        self._room = room

    @property
    def room(self) -> PubNubRoom:
        return self._room

    @property
    def channel(self) -> str:
        return self._room.channel

    @property
    def client(self) -> str:
        return self._room.channel

    def __str__(self) -> str:
        return f"{self._room.channel}{OCCUPANT_SEPARATOR}{self._user_id}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._room.channel!r}, {self._user_id!r})"
