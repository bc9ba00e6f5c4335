"""Identifiers of the PubNub backend: parsing, round-trips, equality, pickling."""

from __future__ import annotations

import pickle

import pytest
from errbot.backends.base import Person, Room, RoomError, RoomOccupant

from errbot_pubnub.identifiers import parse_identifier
from errbot_pubnub.person import PubNubOccupant, PubNubPerson
from errbot_pubnub.room import PubNubRoom


class Groups:
    """A channel-group membership kept in memory, standing in for the backend's group calls."""

    def __init__(self) -> None:
        self.channels: set[str] = set()

    def channel_groups_of(self, channel: str) -> list[str]:
        return ["support"] if channel in self.channels else []

    def add_channel(self, channel: str) -> None:
        self.channels.add(channel)

    def remove_channel(self, channel: str) -> None:
        self.channels.discard(channel)


@pytest.mark.parametrize("text", ["alice-support", "alice-support/alice", "c/user/with/slashes"])
def test_str_round_trips_through_parse(text: str) -> None:
    identifier = parse_identifier(text)
    assert str(identifier) == text
    assert parse_identifier(str(identifier)) == identifier
    assert pickle.loads(pickle.dumps(identifier)) == identifier


def test_a_channel_is_a_room_and_a_user_in_it_an_occupant() -> None:
    room = parse_identifier("alice-support")
    assert isinstance(room, PubNubRoom)
    assert isinstance(room, Room)
    occupant = parse_identifier("alice-support/alice")
    assert isinstance(occupant, PubNubOccupant)
    assert isinstance(occupant, Person)
    assert isinstance(occupant, RoomOccupant)
    assert occupant.room == room
    assert (occupant.person, occupant.nick, occupant.fullname) == ("alice",) * 3
    assert (occupant.channel, occupant.client) == ("alice-support",) * 2
    assert occupant.aclattr == "alice-support/alice"


def test_equality_is_by_type_and_name() -> None:
    assert parse_identifier("x/u") == PubNubOccupant(PubNubRoom("x"), "u")
    assert parse_identifier("x/u") != parse_identifier("x/v")
    assert parse_identifier("x") != parse_identifier("y")
    assert PubNubPerson("x") != PubNubRoom("x")
    assert len({parse_identifier("x/u"), parse_identifier("x/u"), parse_identifier("x")}) == 2


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "non-empty"),
        ("a,b", "forbidden character ','"),
        ("a:b", "forbidden character ':'"),
        ("a*", "forbidden character"),
        ("room/", "names no user"),
        ("/user", "non-empty"),
    ],
)
def test_bad_identifiers_are_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_identifier(text)


def test_joining_a_room_adds_its_channel_to_a_group() -> None:
    groups = Groups()
    room = parse_identifier("bob-support", groups)
    assert isinstance(room, PubNubRoom)
    assert room.exists
    assert not room.joined
    room.join()
    assert room.joined
    assert groups.channels == {"bob-support"}
    room.leave()
    assert not room.joined
    with pytest.raises(RoomError, match="not attached"):
        _ = pickle.loads(pickle.dumps(room)).joined
