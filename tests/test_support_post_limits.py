"""What one post to an agent room may hold on each network, texts cut to it without losing a
character, failures told apart (refused for what a post holds, or the network is away), floods
noticed, and a flood that cannot hide other customers from a relay reading the store.
"""

from __future__ import annotations

from types import SimpleNamespace

import irc.client
import pytest

from errbot_bridge import NetworkUnavailableError
from errbot_support.floods import FloodWatch
from errbot_support.limits import PostLimits, irc_text_bytes, limits_for
from errbot_support.literal import SPAN_END, SPAN_START, span
from errbot_support.parts import grouped, split_post
from errbot_support.refusals import refused_for_content
from tests.support_fixtures import customer_message, db_url, store  # noqa: F401

MARK7 = "**#7** \u2506 "
IRC = PostLimits("IRC", irc_text_bytes("helpdesk", "#support"), bytes=True, per_line=True)


def test_an_irc_line_leaves_room_for_the_longest_prefix_the_server_adds() -> None:
    text = irc_text_bytes("helpdesk", "#support")
    prefix = f":{'n' * 30}!{'u' * 10}@{'h' * 63} PRIVMSG #support :"
    assert len(prefix) + text + len("\r\n") < 512


@pytest.mark.parametrize(
    ("mode", "attributes", "expected"),
    [
        ("irc", {"IRC_CHANNEL_RATE": 1}, ("IRC", True, True, 1)),
        ("slack", {}, ("Slack", False, False, 1.0)),
        ("telegram", {}, ("Telegram", False, False, 3.0)),
        ("mattermost", {}, ("Mattermost", False, False, 0.0)),
        ("text", {}, ("Text", False, False, 0.0)),
    ],
)
def test_each_network_has_its_limits_in_one_place(mode, attributes, expected) -> None:
    backend = SimpleNamespace(mode=mode, message_size_limit=100_000, bot_identifier=None)
    limits = limits_for(backend, SimpleNamespace(**attributes), "#support")
    assert (limits.network, limits.bytes, limits.per_line, limits.interval) == expected
    sizes = {"Slack": 40_000, "Telegram": 4_096, "Mattermost": 16_383, "Text": 100_000}
    assert limits.size == sizes.get(limits.network, irc_text_bytes("", "#support"))


def test_errbots_own_lower_message_size_limit_is_kept() -> None:
    backend = SimpleNamespace(mode="slack", message_size_limit=4_096)
    assert limits_for(backend, SimpleNamespace(), "#support").size == 4_096


def test_a_long_paragraph_is_cut_into_marked_lines_that_fit_and_lose_nothing() -> None:
    paragraph = " ".join(f"mot{n:03d}é" for n in range(100))  # multi-byte characters too
    pieces = split_post(f"**#7** **dana**: {paragraph}", IRC, 7)
    assert len(pieces) > 1
    assert all(IRC.measure(piece) <= IRC.size for piece in pieces)
    assert all(piece.startswith(MARK7) for piece in pieces[1:])
    rebuilt = " ".join(p.removeprefix(MARK7) for p in pieces)
    assert rebuilt == f"**#7** **dana**: {paragraph}"


def test_customer_text_cut_in_two_stays_customer_text_on_both_sides() -> None:
    text = f"**#7** **dana**: {span(' '.join(f'w{n:03d}' for n in range(150)))}"
    pieces = split_post(text, IRC, 7)
    assert len(pieces) > 1
    for piece in pieces:  # each piece's customer text is one whole span
        assert piece.count(SPAN_START) == piece.count(SPAN_END) == 1
        assert piece.index(SPAN_START) < piece.index(SPAN_END)
    words = [w for p in pieces for w in p.split(SPAN_START, 1)[1].rstrip(SPAN_END).split()]
    assert words == [f"w{n:03d}" for n in range(150)]


def test_a_word_longer_than_a_line_is_cut_and_an_escape_kept_whole() -> None:
    limits = PostLimits("chat", 40)
    word = "a" * 30 + "\\*" + "b" * 50
    pieces = split_post(word, limits, 3)
    assert all(len(piece) <= 40 for piece in pieces)
    assert not any(piece.endswith("\\") for piece in pieces)
    assert "".join(p.removeprefix("**#3** \u2506 ") for p in pieces) == word


def test_lines_are_packed_into_posts_each_after_the_first_marked() -> None:
    limits = PostLimits("chat", 50)
    text = "\n".join(f"line {n}" for n in range(20))
    posts = split_post(text, limits, 9)
    assert all(len(post) <= 50 for post in posts)
    assert all(post.startswith("**#9** \u2506 ") for post in posts[1:])
    lines = [line for post in posts for line in post.split("\n")]
    assert [line.removeprefix("**#9** \u2506 ") for line in lines] == text.split("\n")


def test_a_text_that_fits_is_one_post_as_it_is() -> None:
    assert split_post("hello\nthere", PostLimits("chat", 100), 1) == ["hello\nthere"]
    assert split_post("hello\nthere", IRC, 1) == ["hello", "there"]


def test_grouped_messages_share_their_heading() -> None:
    texts = ["**#4** **dana**: one", "**#4** **dana**: two", "**#4** **dana**: three"]
    assert grouped(texts) == "**#4** **dana**: one | two | three"
    assert grouped(["**#4** **dana**: one", "other"]) == "**#4** **dana**: one | other"


@pytest.mark.parametrize(
    "exc",
    [
        irc.client.MessageTooLong("Messages limited to 512 bytes including CR/LF"),
        irc.client.InvalidCharacters("Carriage returns not allowed in privmsg(text)"),
        UnicodeEncodeError("utf-8", "\ud83d", 0, 1, "surrogates not allowed"),
    ],
)
def test_what_a_network_refuses_for_what_a_post_holds(exc: Exception) -> None:
    assert refused_for_content(exc)


def test_a_slack_refusal_is_told_by_its_error_code() -> None:
    class SlackApiError(Exception):
        def __init__(self, error: str) -> None:
            super().__init__(error)
            self.response = {"ok": False, "error": error}

    assert refused_for_content(SlackApiError("msg_too_long"))
    assert not refused_for_content(SlackApiError("ratelimited"))


@pytest.mark.parametrize(
    "exc",
    [
        NetworkUnavailableError("agents", "IRC", "#support"),
        ConnectionError("reset"),
        irc.client.ServerNotConnectedError("Not connected."),
        TimeoutError(),
    ],
)
def test_a_network_that_is_away_is_not_a_refusal(exc: Exception) -> None:
    assert not refused_for_content(exc)


def test_a_flood_is_noticed_once_and_ends_once_calm_and_relayed() -> None:
    now = [0.0]
    watch = FloodWatch(5, clock=lambda: now[0])
    began = [watch.saw(1, entry_id) for entry_id in range(1, 10)]
    assert began == [False] * 5 + [True, False, False, False]
    assert not watch.saw(1, 3)  # read again: not counted twice
    assert not watch.saw(2, 10)  # another conversation is not flooding
    now[0] = 61.0
    assert watch.flooding(1, waiting=True)  # its messages still wait: it floods on
    watch.settle({1})
    assert watch.flooding(1, waiting=True)
    watch.settle(set())  # all relayed, and a calm minute
    assert not watch.flooding(1, waiting=True)
    assert [watch.saw(1, entry_id) for entry_id in range(20, 26)][-1]  # a new flood


def test_a_flood_does_not_hide_others_from_a_relay_reading_the_store(store) -> None:  # noqa: F811
    for n in range(30):
        store.record_customer_message(customer_message("dana-chat", f"flood {n}"))
    store.record_customer_message(customer_message("erin-chat", "hello", name="Erin"))
    read = store.unrelayed(limit=20, per_conversation=5)
    assert [p.entry.body for p in read] == [*(f"flood {n}" for n in range(5)), "hello"]
    assert len(store.unrelayed(limit=20)) == 20  # without the cap: the flood only
