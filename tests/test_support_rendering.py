"""What agents read is what customers wrote, on every network, read back as a person sees it.

Each tricky text is composed by the plugin (``errbot_support.formatting``), rendered for the
network (``errbot_support.rendering``) and handed to that network's own Errbot backend:

- Errbot's Text backend (the demo's terminal): what it prints, its ANSI colours removed;
- errbot-backend-slackv3: what it posts to Slack's Web API, read as Slack shows mrkdwn.
  Slack cannot be reached from here: the backend's web client is a recorder (as in
  ``test_support_slack_threads``); the reading of mrkdwn follows Slack's documented rules;
- Errbot's Telegram backend: what it sends through the Bot API (a recorder likewise, Telegram
  cannot be reached either), which Telegram shows as plain text (the backend sets no parse mode);
- Markdown posted as is (Mattermost and the like, whose Errbot backends pass it on): rendered
  by markdown-it, a CommonMark implementation, then read as text;
- Errbot's IRC backend on real IRC servers (miniircd, and ngircd, strict as servers run), end
  to end: a customer on the local PubNub server writes, an IRC client in the agent room reads.

On each, every line the agent reads equals the customer's line after the conversation's
number and the customer's name, and a forged header never starts a line of its own.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import sys
import unicodedata
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
from errbot.bootstrap import setup_bot
from errbot.rendering import md
from markdown_it import MarkdownIt

from errbot_support import formatting
from errbot_support.identities import one_window
from errbot_support.literal import lines, shown
from errbot_support.records import Pending
from errbot_support.rendering import Dialect, dialect_of, post, render
from tests.botrunner import make_config, running_bot, wait_for
from tests.bridge_fixtures import irc_network
from tests.irc_fixtures import IRCClient, IRCServer, plain
from tests.support_fixtures import *  # noqa: F403 (the desk, PubNub and IRC fixtures)
from tests.support_fixtures import ALICE, bridged_config, customer_message, support_active
from tests.test_support_slack_threads import CHANNEL, slack_backend

pytest.importorskip("telegram", reason="python-telegram-bot (the test extra) is not installed")

#: What customers write that a chat network could read as something else.
TRICKY = {
    "emphasis": "order A*B*C please; Price is 5*3 = *15* and **not bold** __nor this__",
    "underscores": "mail john_doe_smith@example.com or _jane_@example.com",
    "backticks": "type `rm -rf /` or ```code``` here",
    "heading": "# Refund now\n## really\nsee #1234",
    "quote": "> the bot said so\n>> twice",
    "list": "- one\n* two\n+ three\n1. four",
    "links": "[click](javascript:alert(1)) <http://evil.example> ![x](http://x/y.png) "
    "https://ok.example/a_b_c",
    "slack": "<!channel> <!here> <!everyone> <@U024BE7LH> <#C024BE7LR> "
    "<https://evil.example|your bank> @channel @here :smile: ~gone~",
    "html": "<b>bold</b> <script>alert(1)</script> &amp; &lt;tag&gt; &#42; &nbsp;",
    "irc codes": "\x02bold\x02 \x0304red\x03 \x1funder\x1f \x1ditalic\x1d \x16rev\x16 \x0fend",
    "ctcp action": "\x01ACTION waves\x01",
    "ctcp dcc": "\x01DCC SEND evil.exe 2130706433 4444 1\x01",
    "forged header": "thanks\n**#1** (alice) **bob**: I changed my mind, refund to IBAN DE00",
    "forged bot": "ok\n#2 New conversation with **Eve** (x):\nType `!claim 2` to take it.",
    "right to left": "שלום, ההזמנה 4411 לא הגיעה / مرحبا بك",
    "bidi override": "invoice \u202egpj.exe",
    "emoji": "thanks 👍🏽 👨‍👩‍👧 🇩🇪",
    "combining": "e\u0301 n\u0303 Z\u0351\u0352a\u035bl\u0359g\u0354o",
    "long word": "x" * 150 + "y" * 150,
    "escapes": "a\\*b\\* c\\_d \\\\ {: .class} [^1] *[HTML]: x | a | b |",
    "table": "| a | b |\n|---|---|\n| 1 | 2 |",
    "whitespace": "  indented\n\ttabbed\ntrailing  \n\nafter a blank line",
    "chat markup": "~~strike~~ ||spoiler|| __under__ @all /start",
}
NAME = "Dana *Smith*_\n**#9** (bob) Eve"  # a display name: markup and a line break
ATTACHMENTS = (
    {"name": "label\n**#9** x.jpg", "type": "image/jpeg", "url": "https://files.example/a_b.jpg"},
    {"name": "run me", "type": "text/html", "url": "javascript:alert(document.cookie)"},
    {"name": "data", "type": "text/plain", "url": "data:text/html,<script>x</script>"},
)
ANSI = re.compile(r"\x1b\[[0-9;]*m")
ZWSP = "\u200b"


def expected(number: int, name: str, text: str, attachments=()) -> list[str]:
    """What an agent must read of a (non-first) message: each line with its number and
    author, the text exactly as written (made carriable: see ``errbot_support.literal``)."""
    who = shown(name).replace("\n", "\u2424")
    written = lines(text)
    said = [f"#{number} {who}: {written[0]}"]
    said += [
        f"#{number} {who} \u2506 {line}".rstrip(" ")
        if not line
        else f"#{number} {who} \u2506 {line}"
        for line in written[1:]
    ]
    for item in attachments:
        where = item["url"]
        if not where.startswith(("http://", "https://")):
            where += " (not a web link, shown as text)"
        name = shown(item["name"]).replace("\n", "\u2424")
        said.append(f"#{number} {who} \u2506 [attachment] {name} ({item['type']}): {where}")
    return said


def relayed(desk, room: str, text: str, name: str = "dana", attachments=()) -> tuple[str, int]:
    """The plugin's Markdown for a customer's second message in ``room``, and its number."""
    desk.receive(customer_message(room, "hello", name=name))
    message = dataclasses.replace(
        customer_message(room, text, name=name), attachments=tuple(attachments)
    )
    recorded = desk.receive(message)
    pending = Pending(recorded.entry, recorded.conversation)
    return formatting.relay(pending, "!", desk.clock()), recorded.conversation.number


def no_forged_line(read: list[str]) -> None:
    assert not any(
        line.startswith(("#1 (alice) bob", "**#1**", "#2 New", "Type ")) for line in read
    )


CASES = [pytest.param(text, id=label) for label, text in TRICKY.items()]


# ------------------------------------------------------------------------- Errbot's Text


# One backend of each kind for the module: building a bot opens files and a thread pool that
# nothing closes before the process ends.


@pytest.fixture(scope="module")
def text_backend(tmp_path_factory: pytest.TempPathFactory):
    config = make_config(
        tmp_path_factory.mktemp("text"), TEXT_DEMO_MODE=True, BOT_ADMINS=("@admin",)
    )
    return setup_bot("Text", logging.getLogger("errbot"), config)


def text_backend_shows(backend, capsys, markdown: str) -> list[str]:
    backend.send_message(post(backend, markdown, backend.build_identifier("#support")))
    return ANSI.sub("", capsys.readouterr().out).removesuffix("\n").split("\n")


@pytest.mark.parametrize("text", CASES)
def test_the_text_backend_shows_what_the_customer_wrote(text_backend, capsys, desk, text):
    markdown, n = relayed(desk, "dana-chat", text)
    read = text_backend_shows(text_backend, capsys, markdown)
    assert read == expected(n, "dana", text)
    no_forged_line(read[1:])


def test_the_text_backend_shows_names_and_attachments_as_written(text_backend, capsys, desk):
    markdown, n = relayed(desk, "eve-chat", "see attached", NAME, ATTACHMENTS)
    assert text_backend_shows(text_backend, capsys, markdown) == expected(
        n, NAME, "see attached", ATTACHMENTS
    )


# ------------------------------------------------------------------------------- Slack


def slack_reads(line: str, zwsp_is_space: bool) -> tuple[str, list[str]]:
    """What Slack shows of one line of mrkdwn, and the texts it formats (bold, italic, code,
    strike: a marker after a space or punctuation and before text, closed by one after text
    and before a space or punctuation). Whether Slack takes the invisible zero-width space
    for a space or for a letter, the reading must come out the same: both are tried."""

    def space(c: str) -> bool:
        return c.isspace() or (zwsp_is_space and c == ZWSP)

    def boundary(c: str) -> bool:
        return space(c) or unicodedata.category(c).startswith(("P", "S"))

    formatted, kept, i = [], [], 0
    while i < len(line):
        c = line[i]
        opens = (
            c in "*_~`"
            and (i == 0 or boundary(line[i - 1]))
            and i + 1 < len(line)
            and not space(line[i + 1])
        )
        close = next(
            (
                j
                for j in range(i + 2, len(line))
                if line[j] == c
                and not space(line[j - 1])
                and (j + 1 == len(line) or boundary(line[j + 1]))
            ),
            None,
        )
        if opens and close is not None:
            formatted.append(line[i + 1 : close])
            kept.append(line[i + 1 : close])
            i = close + 1
            continue
        kept.append(c)
        i += 1

    def seen(text: str) -> str:
        text = text.replace(ZWSP, "")
        return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")

    return seen("".join(kept)), [seen(text) for text in formatted]


def slack_shows(backend, api, room, markdown: str) -> list[str]:
    backend.send_message(post(backend, markdown, room))
    posted = api.posted[-1]
    assert posted["link_names"] is False  # no "@channel" in plain text notifies anybody
    # Slack reads <...> as a mention, a channel or a link: links to the web only, each shown
    # as its address (kept aside while the rest is read).
    links = re.findall(r"<(https?://[^<>|\s]*)>", posted["text"])
    text = re.sub(r"<https?://[^<>|\s]*>", "\x00", posted["text"])
    assert "<" not in text
    assert not re.search(r"(?<!\w):[\w+-]+:", text)  # no emoji code
    assert not re.search(r"(?<![\w\u200b])@\w", text)  # no mention, even where names link
    read = []
    for line in text.split("\n"):
        as_space, formatted = slack_reads(line, zwsp_is_space=True)
        as_letter, formatted_too = slack_reads(line, zwsp_is_space=False)
        assert (as_space, formatted) == (as_letter, formatted_too)
        for address in links[: as_space.count("\x00")]:
            as_space = as_space.replace("\x00", address.replace("&amp;", "&"), 1)
        links = links[line.count("\x00") :]
        read.append((as_space, formatted))
    return read


@pytest.fixture(scope="module")
def slack(tmp_path_factory: pytest.TempPathFactory):
    backend, api, slack_room = slack_backend(tmp_path_factory.mktemp("slack"))
    return backend, api, slack_room(webclient=api, channelid=CHANNEL, bot=backend)


@pytest.mark.parametrize("text", CASES)
def test_slack_shows_what_the_customer_wrote_and_notifies_nobody(slack, desk, text):
    markdown, n = relayed(desk, "dana-chat", text)
    read = slack_shows(*slack, markdown)
    assert [line for line, _ in read] == expected(n, "dana", text)
    # Bold: the number and name the bot gives; the customer's text formats nothing.
    assert [formatted for _, formatted in read] == [[f"#{n}", "dana"]] + [[f"#{n}"]] * (
        len(read) - 1
    )
    no_forged_line([line for line, _ in read][1:])


def test_slack_shows_names_and_attachments_as_written(slack, desk):
    markdown, n = relayed(desk, "eve-chat", "see attached", NAME, ATTACHMENTS)
    read = slack_shows(*slack, markdown)
    assert [line for line, _ in read] == expected(n, NAME, "see attached", ATTACHMENTS)
    assert "<https://files.example/a_b.jpg>" in slack[1].posted[-1]["text"]  # a link
    assert (
        "<javascript" not in slack[1].posted[-1]["text"]
        and "<data" not in slack[1].posted[-1]["text"]
    )
    assert read[0][1] == [f"#{n}", shown(NAME).replace("\n", "\u2424")]


# ---------------------------------------------------------------------------- Telegram


class TelegramBotAPI:
    """What the backend asks of Telegram's Bot API to post: sendMessage, recorded."""

    def __init__(self) -> None:
        self.sent: list[tuple[Any, str, dict]] = []

    def sendMessage(self, chat_id: Any, text: str, **options: Any) -> None:
        self.sent.append((chat_id, text, options))


@pytest.fixture(scope="module")
def telegram(tmp_path_factory: pytest.TempPathFactory):
    config = make_config(
        tmp_path_factory.mktemp("telegram"), BOT_IDENTITY={"token": "123456:not-used"}
    )
    backend = setup_bot("Telegram", logging.getLogger("errbot"), config)
    backend.telegram = api = TelegramBotAPI()
    room = sys.modules[type(backend).__module__].TelegramRoom(id=-100123)
    return backend, api, room


@pytest.mark.parametrize("text", CASES)
def test_telegram_shows_what_the_customer_wrote(telegram, desk, text):
    backend, api, room = telegram
    markdown, n = relayed(desk, "dana-chat", text)
    backend.send_message(post(backend, markdown, room))
    chat, sent, options = api.sent[-1]
    assert (str(chat), options) == ("-100123", {})  # no parse mode: Telegram shows plain text
    assert sent.split("\n") == expected(n, "dana", text)


def test_telegram_shows_names_and_attachments_as_written(telegram, desk):
    backend, api, room = telegram
    markdown, n = relayed(desk, "eve-chat", "see attached", NAME, ATTACHMENTS)
    backend.send_message(post(backend, markdown, room))
    assert api.sent[-1][1].split("\n") == expected(n, NAME, "see attached", ATTACHMENTS)


# --------------------------------------------------------- Markdown posted as is (Mattermost)


class TextAndTags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.tags: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags.append(tag)
        if tag == "a":
            self.links.append(dict(attrs)["href"])
        if tag == "br":
            self.text.append("\n")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def commonmark_shows(markdown: str) -> tuple[list[str], set[str], list[str]]:
    """The lines a person reads, the HTML elements they were made of, and the links."""
    page = TextAndTags()
    page.feed(MarkdownIt("commonmark").render(md().convert(render(markdown, Dialect.MARKDOWN))))
    return "".join(page.text).strip("\n").split("\n"), set(page.tags), page.links


@pytest.mark.parametrize("text", CASES)
def test_markdown_chats_show_what_the_customer_wrote(desk, text):
    markdown, n = relayed(desk, "dana-chat", text)
    read, tags, _ = commonmark_shows(markdown)
    assert read == expected(n, "dana", text)
    assert tags <= {"p", "strong"}  # no link, image, heading, list, quote, code or HTML


def test_markdown_chats_show_names_and_attachments_as_written(desk):
    markdown, n = relayed(desk, "eve-chat", "see attached", NAME, ATTACHMENTS)
    read, tags, links = commonmark_shows(markdown)
    assert read == expected(n, NAME, "see attached", ATTACHMENTS)
    assert tags <= {"p", "strong", "a"}
    assert links == ["https://files.example/a_b.jpg"]  # the web address only


# ---------------------------------------------------------------- IRC, end to end


#: The start of a line as Errbot's IRC backend writes the bot's bold number and name.
BOT_BOLD = re.compile(r"\x02(#\d+)\x0f (?:\x02([^\x02\x0f]*)\x0f: )?")


def irc_reads(raw: str) -> tuple[str, str]:
    """A line as a person reads it, and what follows the bot's own formatting codes."""
    start = BOT_BOLD.match(raw)
    assert start, raw
    rest = raw[start.end() :].removesuffix("\x03")  # the backend resets colours at the end
    name = f"{start.group(2)}: " if start.group(2) is not None else ""
    return f"{start.group(1)} {name}{rest}", rest


IRC_SAFE = {label: text for label, text in TRICKY.items() if label != "whitespace"}


@pytest.fixture
def alice(any_irc_server: IRCServer) -> Iterator[IRCClient]:
    """An agent on IRC, in ``#support``, on miniircd and on the strict ngircd in turn."""
    client = IRCClient(any_irc_server, "alice")
    client.join("#support")
    yield client
    client.close()


def test_irc_shows_what_customers_wrote_line_by_line(
    tmp_path, pubnub_server, customers, any_irc_server, alice
):
    """The whole way: PubNub, the Support plugin, Errbot's IRC backend, a real IRC server."""
    channel = "#support"
    agents = irc_network(any_irc_server, nick="helpdesk", CHATROOM_PRESENCE=(channel,))
    config = bridged_config(tmp_path, pubnub_server, agents, SUPPORT_AGENT_ROOM=f"agents:{channel}")
    with running_bot("Bridge", config, ready=support_active):
        alice.wait_for_join("helpdesk", channel)
        dana = customers("dana")
        dana.write("hello")
        alice.wait_for_text(channel, "Type !claim 1 to take it.")
        want: list[str] = []
        for text in [*IRC_SAFE.values(), TRICKY["whitespace"]]:
            dana.write(text)
            want += expected(1, "dana", text)
            count = 3 + len(want)
            wait_for(lambda n=count: len(alice.messages(channel)) >= n, timeout=30)
        # A name from the customer's app (App Context) and attachments, tricky likewise.
        eve = customers("eve")
        eve.client.set_uuid_metadata().uuid("eve").set_name(NAME).sync()
        eve.write("hello")
        alice.wait_for_text(channel, "Type !claim 2 to take it.")
        eve.write("see attached", attachments=list(ATTACHMENTS))
        eves = expected(2, NAME, "see attached", ATTACHMENTS)
        wait_for(lambda: len(alice.messages(channel)) >= count + 3 + len(eves), timeout=30)

    raw = [line.params[-1] for line in alice.messages(channel)][3:]
    raw, announced, raw_eve = raw[: len(want)], raw[len(want) : len(want) + 3], raw[len(want) + 3 :]
    read = [irc_reads(line)[0] for line in raw]
    assert read == want
    # The bot's bold is the only formatting, and nothing a customer wrote is a CTCP request.
    assert not any(ord(c) < 0x20 and c != "\t" for line in raw for c in irc_reads(line)[1])
    no_forged_line(read)
    # Her name stays on its line, in the announcement as in each line of her message.
    who = shown(NAME).replace("\n", "\u2424")
    assert [plain(line) for line in announced] == [
        f"#2 New conversation with {who} (customers:eve-support):",
        f"#2 {who}: hello",
        "Type !claim 2 to take it.",
    ]
    assert [irc_reads(line)[0] for line in raw_eve] == eves


def test_each_network_gets_its_own_dialect_and_the_terminal_is_one_window(
    text_backend, telegram, slack
):
    """Told apart by the identifiers of each network's own backend (inside the Bridge too)."""
    terminal_room, terminal_agent = (
        text_backend.build_identifier("#support"),
        text_backend.build_identifier("@alice"),
    )
    assert dialect_of(terminal_room) is Dialect.ERRBOT
    assert dialect_of(telegram[2]) is Dialect.ERRBOT
    assert dialect_of(slack[2]) is Dialect.SLACK
    assert dialect_of(None, "mattermost") is Dialect.MARKDOWN
    assert one_window(terminal_agent, terminal_room)
    assert not one_window(telegram[2], terminal_room)


def test_a_web_address_cannot_break_out_of_its_link(slack):
    """Slack's <address|label> and Markdown's <address>: what would end the address is
    percent-encoded, so the link goes where it says and nothing after it is markup."""
    url = "https://evil.example/a|<!channel> b>&c=1"
    line = formatting.attachment({"name": "x", "type": "text/html", "url": url})
    backend, api, room = slack
    backend.send_message(post(backend, line, room))
    assert api.posted[-1]["text"] == (
        "[attachment] x (text/html): <https://evil.example/a%7C%3C!channel%3E%20b%3E&amp;c=1>"
    )
    read, _, links = commonmark_shows(line)
    assert links == ["https://evil.example/a%7C%3C!channel%3E%20b%3E&c=1"]
    assert read == [f"[attachment] x (text/html): {url}"]  # the address as the customer gave it


DETAILS = {"email": "john_doe_smith@example.com", "external_id": "<!channel> *44*_11 <@U1>"}


def opened_with_details(desk) -> tuple[str, list[str]]:
    """A conversation's announcement, the customer's app having stored tricky details, and
    what an agent must read of it."""
    message = dataclasses.replace(
        customer_message("customers:fay_x-support", "Hi *there*", name="fay"),
        customer_details=DETAILS,
    )
    recorded = desk.receive(message)
    n = recorded.conversation.number
    markdown = formatting.relay(Pending(recorded.entry, recorded.conversation), "!", desk.clock())
    return markdown, [
        f"#{n} New conversation with fay (customers:fay_x-support; email "
        "john_doe_smith@example.com, customer id <!channel> *44*_11 <@U1>):",
        f"#{n} fay: Hi *there*",
        f"Type !claim {n} to take it.",
    ]


def test_details_from_the_customers_app_are_shown_as_written(text_backend, capsys, slack, desk):
    markdown, want = opened_with_details(desk)
    assert text_backend_shows(text_backend, capsys, markdown) == want
    read = slack_shows(*slack, markdown)
    assert [line for line, _ in read][:2] == want[:2]
    assert [formatted for _, formatted in read][:2] == [["#1", "fay"], ["#1", "fay"]]


# ----------------------------------------------------------------- lists, one item a line


def listings(desk) -> tuple[str, list[str]]:
    """What agents list (the queue, their own, a customer's conversations, a search, the end
    of a transcript), one after the other, and the lines a person must read of it: each
    item on its own line, though most lines begin with the bot's bold number."""
    dana = desk.receive(customer_message("dana-chat", "My *parcel* is late", name="Dana Smith"))
    desk.receive(customer_message("erin-chat", "parcel_2 `lost` <!here>", name="erin"))
    desk.claim(1, ALICE)
    desk.tag(1, ALICE, ["billing"])
    desk.clock.advance(minutes=2)
    now, mine = desk.clock(), [c for c in desk.queue() if c.agent == ALICE.key]
    markdown = "\n".join(
        [
            formatting.queue(desk.queue(), "!", now),
            formatting.agents_queue(mine, now),
            formatting.history(desk.customer_history("dana-chat")),
            formatting.search(desk.search("PARCEL", limit=10), "PARCEL", 10, "!"),
            formatting.transcript(desk.transcript(dana.conversation.number, 0, 10), "!"),
        ]
    )
    return markdown, [
        "2 open conversation(s), 1 waiting:",
        "#2 waiting, 2m: erin (erin-chat)",
        "#1 Alice, 2m: Dana Smith (dana-chat) [billing]",
        "Type !claim 2 to take the oldest waiting one.",
        "You have 1 open conversation(s):",
        "#1 Alice, 2m: Dana Smith (dana-chat) [billing]",
        "Dana Smith (dana-chat): 1 conversation(s)",
        "#1 opened 2024-05-06 09:00 UTC, assigned to Alice [billing]",
        "2 conversation(s) mention 'PARCEL':",
        "#2 erin, waiting, 2024-05-06: erin: parcel_2 `lost` <!here>",
        "#1 Dana Smith, assigned to Alice, 2024-05-06: Dana Smith: My *parcel* is late",
        "!transcript <number> shows one.",
        "#1 Dana Smith (dana-chat), assigned to Alice, page 1/1:",
        "-- 2024-05-06 (UTC) --",
        "09:00 Dana Smith: My *parcel* is late",
        "09:00 - Alice claimed the conversation",
        "09:00 - Alice tagged #billing",
    ]


def test_lists_show_one_item_a_line_on_every_network(text_backend, capsys, slack, telegram, desk):
    markdown, want = listings(desk)
    assert text_backend_shows(text_backend, capsys, markdown) == want
    assert [line for line, _ in slack_shows(*slack, markdown)] == want
    backend, api, room = telegram
    backend.send_message(post(backend, markdown, room))
    assert api.sent[-1][1].split("\n") == want
    assert commonmark_shows(markdown)[0] == want
