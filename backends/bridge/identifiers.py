"""Identifiers that remember their network.

Plugins see one bot, so an identifier must say which network it belongs to: ``str()`` is
``"<network>:<the backend's own str>"``, equality and hashing include the network, and
``person`` / ``aclattr`` carry it so that ACL and ``BOT_ADMINS`` patterns are written per network.
Everything else (nick, fullname, backend-specific attributes) is the wrapped identifier's own.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from errbot.backends.base import Identifier, Person, Room, RoomOccupant

from errbot_bridge import room_guard
from errbot_bridge.settings import NETWORK_SEPARATOR

# The bridge that rebuilds identifiers when storage unpickles them (one bridged bot per process).
_builder: Callable[[], Any] = lambda: None  # noqa: E731


def register_builder(bridge: Any) -> None:
    """Make ``bridge.build_identifier`` the one that restores pickled identifiers."""
    global _builder  # noqa: PLW0603
    _builder = weakref.ref(bridge)


def _restore(text: str) -> Identifier:
    bridge = _builder()
    if bridge is None:
        raise RuntimeError(f"cannot restore the bridged identifier {text!r}: no Bridge is running")
    return bridge.build_identifier(text)


class BridgeIdentifier(Identifier):
    """Any identifier of a network; subclasses add the Person and Room contracts."""

    _kind = "identifier"

    def __init__(self, network: str, inner: Identifier) -> None:
        self._network = network
        self._inner = inner

    @property
    def network(self) -> str:
        """The name of the network (a key of ``BRIDGE_BACKENDS``) this identifier belongs to."""
        return self._network

    @property
    def inner(self) -> Identifier:
        """The identifier as the network's own backend knows it."""
        return self._inner

    @property
    def identity(self) -> tuple[Any, ...]:
        """What equal identifiers of this kind share: the network and the inner identity."""
        return (self._network, str(self._inner))

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.identity == self.identity

    def __hash__(self) -> int:
        return hash((self._kind, *self.identity))

    def __str__(self) -> str:
        return f"{self._network}{NETWORK_SEPARATOR}{self._inner}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self}>"

    def __reduce__(self) -> tuple[Any, ...]:
        # The wrapped identifier often holds its live backend; its text is what round-trips.
        return _restore, (str(self),)

    def __copy__(self) -> BridgeIdentifier:
        return self  # identifiers are values: copying a message must not rebuild them

    def __deepcopy__(self, memo: dict[int, Any]) -> BridgeIdentifier:
        return self

    def __getattr__(self, name: str) -> Any:
        # Backend-specific attributes (an IRC mask's host, a Slack channel id...) stay reachable.
        if name.startswith("__") or name in ("_inner", "_network"):
            raise AttributeError(name)
        return getattr(self._inner, name)


class BridgePerson(BridgeIdentifier, Person):
    _kind = "person"

    @property
    def identity(self) -> tuple[Any, ...]:
        return (self._network, self._inner.person)

    @property
    def person(self) -> str:
        return f"{self._network}{NETWORK_SEPARATOR}{self._inner.person}"

    @property
    def client(self) -> Any:
        return self._inner.client

    @property
    def nick(self) -> Any:
        return self._inner.nick

    @property
    def aclattr(self) -> str:
        inner = getattr(self._inner, "aclattr", None) or self._inner.person
        return f"{self._network}{NETWORK_SEPARATOR}{inner}"

    @property
    def fullname(self) -> Any:
        return self._inner.fullname

    @property
    def email(self) -> Any:
        return getattr(self._inner, "email", None)


class BridgeRoom(BridgeIdentifier, Room):
    """A room of one network; joining, topics and occupants are the backend's own.

    On a network whose rooms are locked, only what a bot admin sets off may act on them or
    read who is in them (:mod:`errbot_bridge.room_guard`).
    """

    _kind = "room"

    def __init__(self, network: str, inner: Room, wrap: Callable[[Any], Any]) -> None:
        super().__init__(network, inner)
        self._wrap = wrap

    def join(self, username: str | None = None, password: str | None = None) -> None:
        room_guard.check(self._network, "join")
        self._inner.join(username=username, password=password)

    def leave(self, reason: str | None = None) -> None:
        room_guard.check(self._network, "leave")
        self._inner.leave(reason=reason)

    def create(self) -> None:
        room_guard.check(self._network, "create")
        self._inner.create()

    def destroy(self) -> None:
        room_guard.check(self._network, "destroy")
        self._inner.destroy()

    @property
    def aclattr(self) -> str:
        inner = getattr(self._inner, "aclattr", None) or str(self._inner)
        return f"{self._network}{NETWORK_SEPARATOR}{inner}"

    @property
    def exists(self) -> bool:
        return self._inner.exists

    @property
    def joined(self) -> bool:
        return self._inner.joined

    @property
    def topic(self) -> str | None:
        room_guard.check(self._network, "read the topic of")
        return self._inner.topic

    @topic.setter
    def topic(self, topic: str) -> None:
        room_guard.check(self._network, "set the topic of")
        self._inner.topic = topic

    @property
    def occupants(self) -> list[BridgeRoomOccupant]:
        room_guard.check(self._network, "list the occupants of")
        return [
            BridgeRoomOccupant(self._network, occupant, self._wrap, room=self)
            for occupant in self._inner.occupants
        ]

    def invite(self, *args: Any) -> None:
        room_guard.check(self._network, "invite people into")
        prefix = f"{self._network}{NETWORK_SEPARATOR}"
        people = []
        for person in args:
            if isinstance(person, BridgeIdentifier):
                if person.network != self._network:
                    raise ValueError(f"cannot invite {person} into {self}: another network")
                people.append(person.inner)
            elif isinstance(person, str) and person.startswith(prefix):
                people.append(person[len(prefix) :])
            else:
                people.append(person)
        self._inner.invite(*people)


class BridgeRoomOccupant(BridgePerson, RoomOccupant):
    """Someone speaking in a room of one network."""

    _kind = "occupant"

    def __init__(
        self,
        network: str,
        inner: Identifier,
        wrap: Callable[[Any], Any],
        room: BridgeRoom | None = None,
    ) -> None:
        super().__init__(network, inner)
        self._wrap = wrap
        self._room = room

    @property
    def identity(self) -> tuple[Any, ...]:
        return (self._network, self._inner.person, str(self._inner.room))

    @property
    def room(self) -> BridgeRoom:
        if self._room is None:
            self._room = self._wrap(self._inner.room)
        return self._room
