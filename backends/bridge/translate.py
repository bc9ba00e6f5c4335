"""Translate between one network's own objects and what plugins see of them.

Inbound, identifiers are wrapped so they carry their network; outbound, they are unwrapped so
the network's backend gets exactly the objects it made (its own message is kept for replies and
threads, since backends read private details from it, such as Slack's thread timestamps).
"""

from __future__ import annotations

import copy
from typing import Any

from errbot.backends.base import (
    Identifier,
    Message,
    Person,
    Presence,
    Reaction,
    Room,
    RoomOccupant,
    Stream,
)

from errbot_bridge.identifiers import (
    BridgeIdentifier,
    BridgePerson,
    BridgeRoom,
    BridgeRoomOccupant,
)

_MAX_PARENT_DEPTH = 8  # a thread's ancestry is short; this only guards against cycles


class BridgedMessage(Message):
    """A message as plugins see it: wrapped identifiers, plus the backend's own message."""

    def __init__(
        self,
        original: Message,
        network: str,
        frm: Identifier | None,
        to: Identifier | None,
        parent: Message | None,
    ) -> None:
        super().__init__(
            body=original.body,
            frm=frm,
            to=to,
            parent=parent,
            delayed=original.delayed,
            partial=original.partial,
            flow=getattr(original, "_flow", None),
        )
        for key, value in vars(original).items():  # e.g. IRC's msg.nick
            if not key.startswith("_") and key != "ctx":
                setattr(self, key, value)
        self._extras = original.extras  # shared: backends and plugins read the same dict
        self.ctx = original.ctx
        self.network = network
        self.original = original


class Translator:
    """Wraps and unwraps the objects of one network."""

    def __init__(self, network: str, backend: Any) -> None:
        self.network = network
        self.backend = backend

    # -- inbound -----------------------------------------------------------------------------

    def identifier(self, inner: Any) -> Any:
        """Wrap one of this network's identifiers (already wrapped ones and None pass through)."""
        if inner is None or isinstance(inner, BridgeIdentifier):
            return inner
        if isinstance(inner, RoomOccupant):
            return BridgeRoomOccupant(self.network, inner, self.room)
        if isinstance(inner, Room):
            return BridgeRoom(self.network, inner, self.room)
        if isinstance(inner, Person):
            return BridgePerson(self.network, inner)
        if isinstance(inner, Identifier):
            return BridgeIdentifier(self.network, inner)
        return inner

    def room(self, inner: Any) -> BridgeRoom:
        """Wrap a room; some backends name an occupant's room by a plain string."""
        if isinstance(inner, BridgeRoom):
            return inner
        if isinstance(inner, str):
            inner = self.backend.query_room(inner)
        return BridgeRoom(self.network, inner, self.room)

    def message(self, inner: Message, depth: int = 0) -> BridgedMessage:
        parent = inner.parent
        if parent is not None and depth < _MAX_PARENT_DEPTH:
            parent = self.message(parent, depth + 1)
        elif parent is not None:
            parent = None
        return BridgedMessage(
            inner, self.network, self.identifier(inner.frm), self.identifier(inner.to), parent
        )

    def anything(self, value: Any) -> Any:
        """Wrap whatever a backend hands to a plugin callback."""
        if isinstance(value, Message) and not isinstance(value, BridgedMessage):
            return self.message(value)
        if isinstance(value, Identifier):
            return self.identifier(value)
        if isinstance(value, list | tuple):
            return type(value)(self.anything(v) for v in value)
        return self._event(value)

    def _event(self, value: Any) -> Any:
        if isinstance(value, Presence):
            return Presence(self.identifier(value.identifier), value.status, value.message)
        if isinstance(value, Reaction):
            return Reaction(
                reactor=self.identifier(value.reactor),
                reacted_to_owner=self.identifier(value.reacted_to_owner),
                action=value.action,
                timestamp=value.timestamp,
                reaction_name=value.reaction_name,
                reacted_to=value.reacted_to,
            )
        if isinstance(value, Stream):
            value._identifier = self.identifier(value.identifier)
        return value

    # -- outbound ----------------------------------------------------------------------------

    def inner_identifier(self, identifier: Any) -> Any:
        if isinstance(identifier, BridgeIdentifier):
            if identifier.network != self.network:
                raise ValueError(f"{identifier} belongs to another network than {self.network}")
            return identifier.inner
        return identifier

    def original(self, msg: Message, depth: int = 0) -> Message:
        """The backend's own message behind ``msg`` (rebuilt when a plugin cloned it)."""
        if isinstance(msg, BridgedMessage) and msg.network == self.network:
            return msg.original
        return self.outgoing(msg, depth)

    def outgoing(self, msg: Message, depth: int = 0) -> Message:
        """The message the backend must send for ``msg``: same class, its own identifiers."""
        if isinstance(msg, BridgedMessage):
            # Its own backend's message keeps that backend's class and details; a message from
            # another network is only text to this one.
            out = copy.copy(msg.original) if msg.network == self.network else msg.clone()
        else:
            out = copy.copy(msg)  # keeps the class: a Card stays a Card
        out.body = msg.body
        out.to = self.inner_identifier(msg.to)
        out.frm = self._sender(msg.frm)
        out.parent = self._parent(msg.parent, depth)
        return out

    def _sender(self, frm: Any) -> Any:
        if isinstance(frm, BridgeIdentifier):
            if frm.network == self.network:
                return frm.inner
            return getattr(self.backend, "bot_identifier", None)
        return frm

    def _parent(self, parent: Message | None, depth: int) -> Message | None:
        if parent is None or depth >= _MAX_PARENT_DEPTH:
            return None
        owner = _network_of_message(parent)
        if owner is not None and owner != self.network:
            return None  # a thread cannot span two networks
        return self.original(parent, depth + 1)


def _network_of_message(msg: Message) -> str | None:
    if isinstance(msg, BridgedMessage):
        return msg.network
    for identifier in (msg.frm, msg.to):
        if isinstance(identifier, BridgeIdentifier):
            return identifier.network
    return None


def network_of(item: Any) -> str | None:
    """The network an identifier or a message belongs to; ``None`` when it is not bridged.

    Plugins use it to tell where a message came from, e.g. ``network_of(msg) == "customers"``.
    """
    if isinstance(item, BridgeIdentifier):
        return item.network
    if isinstance(item, Message):
        return _network_of_message(item)
    return None
