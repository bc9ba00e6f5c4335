"""Finding past conversations by what was written in them (``!search``): customer messages,
replies and notes, most recent first; events and automatic notices are not searched.

The desk on a real SQLite file; a real bot on Errbot's Test backend.
"""

from __future__ import annotations

import dataclasses

import pytest

from errbot_support import formatting
from errbot_support.errors import SearchTooShort
from tests.support_fixtures import *  # noqa: F403 (the desk fixture and what it needs)
from tests.support_fixtures import ALICE, BOB, customer_message, support_bot


def opened(desk, room: str, body: str) -> int:
    return desk.receive(customer_message(room, body)).conversation.number


def test_search_finds_customer_messages_replies_and_notes_latest_first(desk):
    dana = opened(desk, "dana-chat", "My parcel is late")
    erin = opened(desk, "erin-chat", "Where is my order?")
    desk.begin_reply(erin, ALICE, "Your PARCEL ships today")
    fay = opened(desk, "fay-chat", "Hello")
    desk.note(fay, BOB, "parcel lost by the carrier")
    opened(desk, "gus-chat", "Nothing to see")
    desk.claim(dana, BOB)  # an event ("Bob claimed the conversation"): not searched
    desk.resolve(dana, BOB)

    found = desk.search("Parcel", limit=10)
    assert [(c.number, e.body) for c, e in found] == [
        (fay, "parcel lost by the carrier"),
        (erin, "Your PARCEL ships today"),
        (dana, "My parcel is late"),
    ]
    assert [c.number for c, _ in desk.search("parcel", limit=2)] == [fay, erin]
    assert desk.search("claimed", limit=10) == []
    with pytest.raises(SearchTooShort):
        desk.search(" pa ", limit=10)


def test_wildcards_are_searched_as_written(desk):
    sure = opened(desk, "dana-chat", "I am 100% sure, file_2 is gone")
    opened(desk, "erin-chat", "I am 100 percent sure, file-2 is gone")
    assert [c.number for c, _ in desk.search("100%", limit=10)] == [sure]
    assert [c.number for c, _ in desk.search("file_2", limit=10)] == [sure]


#: Written, then searched for in another case: Unicode case folding, not ASCII only.
FOLDED = [
    ("Un café, s'il vous plaît", "CAFÉ"),
    ("Die Straße ist gesperrt", "STRASSE"),
    ("ΣΟΦΊΑ ΠΑΠΑΔΟΠΟΎΛΟΥ", "σοφία"),
    ("Привет, заказ 77", "ПРИВЕТ"),
    ("ǅemal's order", "ǆemal"),
]


@pytest.mark.parametrize(("written", "wanted"), FOLDED)
def test_search_ignores_case_in_every_script(desk, written, wanted):
    found = opened(desk, "dana-chat", written)
    opened(desk, "erin-chat", "Nothing of the kind")
    assert [c.number for c, _ in desk.search(wanted, limit=10)] == [found]
    assert [c.number for c, _ in desk.search(written.upper(), limit=10)] == [found]


def test_a_customer_is_found_by_name_id_room_and_their_own_names(desk):
    """Ids and rooms are stored with their network ("customers:dana-support/dana"); agents
    type what they see of them ("dana", "dana-support")."""
    message = customer_message("customers:dana-support", "hi", name="Dana Émile")
    message = dataclasses.replace(message, customer_id="customers:dana-support/dana")
    dana = desk.receive(message).conversation.number
    desk.receive(customer_message("customers:dana-supporter", "someone else", name="Erin"))
    for wanted in (
        "customers:dana-support",
        "dana-support",
        "customers:dana-support/dana",
        "dana",
        "DANA ÉMILE",
    ):
        assert [c.number for c in desk.customer_history(wanted)] == [dana], wanted


def test_agents_search_from_chat(tmp_path):
    with support_bot(tmp_path, SUPPORT_ACKNOWLEDGEMENT=None) as bot:
        bot.customer("dana-chat", "Hi! " + "blah " * 20 + "my parcel never came, " + "x" * 80)
        bot.customer("erin-chat", "hello")
        found = bot.command("alice", "!search parcel never").splitlines()
        assert found[0] == "1 conversation(s) mention 'parcel never':"
        assert found[1].startswith("#1 dana, waiting, ")
        # About 60 characters around what was found, from a whole word.
        snippet = "...blah blah blah my parcel never came, " + "x" * 23 + "..."
        assert found[1].endswith(f": dana: {snippet}")
        assert found[2] == "!transcript <number> shows one."
        assert bot.command("alice", "!search refund") == "No conversation mentions 'refund'."
        assert bot.command("alice", "!search ab") == "Search for at least 3 characters."
        assert bot.command("alice", "!search") == "What should be found? Usage: !search <text>"
        # What was written, and what was searched for, are shown as written.
        bot.customer("erin-chat", "Code *A_B* `C` for JOHN_DOE@example.com # 5")
        found = bot.command("alice", "!search john_doe@").splitlines()
        assert found[0] == "1 conversation(s) mention 'john_doe@':"
        assert found[1].endswith(": erin: Code *A_B* `C` for JOHN_DOE@example.com # 5")


def test_the_snippet_shows_what_was_found_whatever_its_case():
    text = "Straße " * 60 + "the Café on Main Street is where my parcel waits " + "x " * 40
    shown = formatting.snippet(text, "CAFÉ ON MAIN")
    assert shown.startswith("...") and "the Café on Main Street" in shown
