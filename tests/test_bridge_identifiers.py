"""Identifiers of a bridged bot keep their network: text, equality, ACL attributes, pickling.

The bot here is built the way ``errbot`` builds it but not served: identifiers, rooms and
routing need no connection on the ``Test`` and ``Text`` backends.
"""

from __future__ import annotations

import copy
import logging
import pickle
from collections.abc import Iterator
from typing import Any

import pytest
from errbot.backends.base import Card, Message, Person, Room, RoomOccupant
from errbot.bootstrap import setup_bot

from errbot_bridge import (
    BridgeIdentifier,
    BridgePerson,
    BridgeRoom,
    BridgeRoomOccupant,
    find_backends,
    network_of,
)
from tests.botrunner import make_config


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    config = make_config(
        tmp_path_factory.mktemp("bridge-identifiers"),
        BRIDGE_BACKENDS={"tests": {"BACKEND": "Test"}, "console": {"BACKEND": "Text"}},
        BOT_ADMINS=("tests:admin", "console:@boss"),
        CORE_PLUGINS=("ACLs", "Help"),
    )
    bridge = setup_bot("Bridge", logging.getLogger("errbot"), config)
    yield bridge
    bridge.shutdown()


def test_text_round_trips_with_the_network_prefix(bot: Any) -> None:
    for text in ("tests:alice", "console:@alice", "console:#lobby", "console:#lobby/alice"):
        identifier = bot.build_identifier(text)
        assert str(identifier) == text
        assert bot.build_identifier(str(identifier)) == identifier


def test_an_unprefixed_identifier_belongs_to_the_first_network(bot: Any) -> None:
    alice = bot.build_identifier("alice")
    assert network_of(alice) == "tests"
    assert alice == bot.build_identifier("tests:alice")


def test_wrappers_keep_the_errbot_contracts(bot: Any) -> None:
    person = bot.build_identifier("console:@alice")
    room = bot.build_identifier("console:#lobby")
    occupant = bot.build_identifier("console:#lobby/alice")
    assert isinstance(person, BridgePerson) and isinstance(person, Person)
    assert isinstance(room, BridgeRoom) and isinstance(room, Room)
    assert isinstance(occupant, BridgeRoomOccupant) and isinstance(occupant, RoomOccupant)
    assert occupant.room == room
    assert isinstance(person.inner, Person) and not isinstance(person.inner, BridgeIdentifier)


def test_namesakes_on_two_networks_are_different_people(bot: Any) -> None:
    on_tests = bot.build_identifier("tests:x")
    on_console = bot.build_identifier("console:@x")
    # Errbot's own identifiers would say they are the same person.
    assert on_tests.inner == on_console.inner
    assert on_tests != on_console and on_console != on_tests
    assert len({on_tests, on_console, bot.build_identifier("tests:x")}) == 2


def test_person_and_acl_attribute_carry_the_network(bot: Any) -> None:
    alice = bot.build_identifier("console:@alice")
    assert alice.person == "console:alice"
    assert alice.aclattr == "console:@alice"
    assert alice.nick == alice.inner.nick
    assert bot.build_identifier("tests:alice").aclattr == "tests:alice"
    assert bot.build_identifier("console:#lobby").aclattr == "console:#lobby"


def test_identifiers_pickle_as_their_text(bot: Any) -> None:
    for text in ("tests:alice", "console:#lobby", "console:#lobby/alice"):
        identifier = bot.build_identifier(text)
        restored = pickle.loads(pickle.dumps(identifier))
        assert restored == identifier and type(restored) is type(identifier)
        assert copy.deepcopy(identifier) is identifier


def test_network_of_identifiers_and_messages(bot: Any) -> None:
    alice = bot.build_identifier("console:@alice")
    message = Message("hi", frm=alice, to=bot.bot_identifier_on("console"))
    assert network_of(alice) == "console"
    assert network_of(message) == "console"
    assert network_of(message.clone()) == "console"
    assert network_of(alice.inner) is None
    assert network_of(Message("hi", frm=alice.inner)) is None
    assert network_of("console:@alice") is None


def test_rooms_work_through_the_wrapper(bot: Any) -> None:
    room = bot.query_room("tests:support")
    assert not room.joined and not room.exists
    room.join()
    assert room.joined
    room.topic = "customers first"
    again = bot.query_room("tests:support")
    assert again == room and again.topic == "customers first" and again.joined
    assert [str(o) for o in again.occupants] == ["tests:err@support"]
    room.leave()
    assert not bot.query_room("tests:support").joined


def test_occupants_belong_to_their_room_and_network(bot: Any) -> None:
    room = bot.query_room("console:#support")
    occupants = room.occupants
    assert occupants and all(network_of(o) == "console" for o in occupants)
    assert all(o.room == room for o in occupants)
    assert len(occupants) == len(room.inner.occupants)


def test_a_message_to_an_unbridged_identifier_is_refused(bot: Any) -> None:
    message = bot.build_message("hello")
    message.to = bot.networks["tests"].backend.build_identifier("alice")
    with pytest.raises(ValueError, match="not an identifier of this bridged bot"):
        bot.send_message(message)


def test_hosted_backends_are_found_by_name_or_class(bot: Any) -> None:
    console = bot.networks["console"].backend
    assert bot.hosted_backends("Text") == {"console": console}
    assert bot.hosted_backends(type(console)) == {"console": console}
    assert list(bot.hosted_backends()) == ["tests", "console"]
    assert find_backends(bot, "Test") == [bot.networks["tests"].backend]
    assert find_backends(bot, "IRC") == []


def test_replies_and_threads_go_back_to_the_backends_own_message(bot: Any) -> None:
    tests = bot.networks["tests"]
    inner = Message("question", frm=tests.backend.build_identifier("alice"))
    inner.to = tests.backend.bot_identifier
    inbound = tests.translate.message(inner)
    assert str(inbound.frm) == "tests:alice" and inbound.extras is inner.extras

    reply = bot.build_reply(inbound, "answer")
    assert network_of(reply) == "tests" and reply.body == "answer"
    answer = bot.build_message("in the thread")
    answer.to, answer.parent = inbound.frm, inbound
    outgoing = tests.translate.outgoing(answer.clone())  # plugins send clones (split parts)
    assert outgoing.parent is inner  # the backend gets its own message back, not a copy
    assert outgoing.to is inbound.frm.inner and outgoing.body == "in the thread"

    console = bot.networks["console"]
    elsewhere = console.translate.message(Message("hi", frm=console.backend.build_identifier("@x")))
    answer.parent = elsewhere  # a thread cannot span two networks
    assert tests.translate.outgoing(answer).parent is None


def test_cards_stay_cards_on_their_way_out(bot: Any) -> None:
    card = Card(body="details", title="Order 42", to=bot.build_identifier("tests:alice"))
    outgoing = bot.networks["tests"].translate.outgoing(card)
    assert isinstance(outgoing, Card) and outgoing.title == "Order 42"
    assert outgoing.to == bot.build_identifier("tests:alice").inner
