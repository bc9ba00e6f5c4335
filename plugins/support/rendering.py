"""What the plugin composes for agents, made ready for the network it is posted to.

The plugin writes light Markdown (bold, code) around customer-controlled text, which
:func:`errbot_support.literal.span` marks. Errbot then converts the Markdown for each network
(``errbot.rendering``; the Slack backend's own converter; Markdown as is for Mattermost and
the like). Here the marked text is escaped so that, once converted, it reads exactly as
written, with none of the network's own markup, mentions or links taking effect, and line
breaks are written so that every converter keeps them.

Python-Markdown, as Errbot drives it to make plain, ANSI, IRC or Slack text, drops a line
break that ends right before bold or code; a character reference (``&#10;``) survives, and
so do references for punctuation, which no Markdown reads as markup.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Any

from errbot.backends.base import Message

from errbot_support.identities import own_identity
from errbot_support.literal import LINK_START, SPAN_END, SPAN_START


class Dialect(Enum):
    """How a network's Errbot backend turns Markdown into what people read."""

    #: Python-Markdown to plain text, ANSI, IRC codes: Text, Test, IRC, Telegram, XMPP...
    ERRBOT = "errbot"
    #: Python-Markdown to Slack's mrkdwn (errbot-backend-slackv3).
    SLACK = "slack"
    #: Markdown posted as is and rendered by the chat (Mattermost, Discord, Rocket.Chat...).
    MARKDOWN = "markdown"


_BY_BACKEND = (
    ("slack", Dialect.SLACK),
    ("mattermost", Dialect.MARKDOWN),
    ("discord", Dialect.MARKDOWN),
    ("rocketchat", Dialect.MARKDOWN),
    ("zulip", Dialect.MARKDOWN),
)

_MARKS = f"{SPAN_START}{SPAN_END}{LINK_START}"
_SPANS = re.compile(f"([{SPAN_START}{LINK_START}])([^{_MARKS}]*){SPAN_END}")
_WHOLE_SPANS = re.compile(f"([{SPAN_START}{LINK_START}][^{_MARKS}]*{SPAN_END})")
_OWN_ENTITIES = re.compile("[`&<>]")
# What cannot stand inside a link's address in Slack's <...> or Markdown's autolink <...>.
_NOT_IN_LINKS = re.compile(r"[\s<>|\\`]")
_PUNCTUATION = re.compile(r"[!-/:-@\[-`{-~\t]")
_EDGE_SPACES = re.compile(r"^ +| +$")
# Slack's mrkdwn markers, read as such next to a space, punctuation or a line's ends; one
# between two letters or digits (john_doe_smith@example.com) is not, and stays untouched.
_SLACK_MARKERS = re.compile(r"(?<![^\W_])[*_~`]|[*_~`](?![^\W_])")
_SLACK_EMOJI = re.compile(r"(?<![^\W_]):(?=[\w+-]+:)")  # :smile:
_SLACK_MENTION = re.compile(r"(?<![^\W_])@(?=\w)")  # @channel, @here, @name
_INVISIBLE_BREAK = "\u200b"  # a zero-width space: keeps a marker from pairing, unseen


def dialect_of(identifier: Any, backend: str | None = None) -> Dialect:
    """The dialect of the network ``identifier`` is on (the Bridge's inner network), or of
    ``backend`` (the bot's ``mode``) when the identifier does not tell."""
    names = [] if identifier is None else [type(own_identity(identifier)).__name__.casefold()]
    names.append((backend or "").casefold())
    for name in names:
        for key, dialect in _BY_BACKEND:
            if key in name:
                return dialect
    return Dialect.ERRBOT


def _references(text: str) -> str:
    """Punctuation and the spaces at the ends as character references: literal everywhere."""
    text = _PUNCTUATION.sub(lambda m: f"&#{ord(m.group())};", text)
    return _EDGE_SPACES.sub(lambda m: "&#32;" * len(m.group()), text)


def _slack(text: str) -> str:
    """What Slack must receive to show ``text``: its three entities, and its markers and
    mentions kept from taking effect by an invisible break."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _SLACK_MENTION.sub("@" + _INVISIBLE_BREAK, text)
    text = _SLACK_EMOJI.sub(":" + _INVISIBLE_BREAK, text)
    return _SLACK_MARKERS.sub(lambda m: _INVISIBLE_BREAK + m.group() + _INVISIBLE_BREAK, text)


def _slack_own(text: str) -> str:
    """The plugin's own words for Slack, their ``&``, ``<`` and ``>`` as the entities Slack
    requires (in code as written, elsewhere as references): else Slack reads the ``<number>``
    of ``!transcript <number>`` as a link and shows no brackets."""
    in_code = False

    def entity(match: re.Match[str]) -> str:
        nonlocal in_code
        char = match.group()
        if char == "`":
            in_code = not in_code
            return char
        written = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}[char]
        return written if in_code else _references(written)

    parts = _WHOLE_SPANS.split(text)  # the plugin's words, then a span, and so on
    parts[::2] = [_OWN_ENTITIES.sub(entity, own) for own in parts[::2]]
    return "".join(parts)


def escape(text: str, dialect: Dialect) -> str:
    """One line of customer text, as Markdown that ``dialect``'s converter shows as written."""
    if dialect is Dialect.SLACK:
        text = _slack(text)
    return _references(text)


def link(url: str, dialect: Dialect) -> str:
    """A web address as a link where the network makes one of ``<...>`` (Slack's link,
    Markdown's autolink), as escaped text elsewhere (chats link addresses in text)."""
    if dialect is Dialect.ERRBOT:
        return escape(url, dialect)
    address = _NOT_IN_LINKS.sub(
        lambda m: "%" + "%".join(f"{b:02X}" for b in m.group().encode()), url
    )
    if dialect is Dialect.SLACK:
        return _references(f"<{address.replace('&', '&amp;')}>")
    return f"<{address}>"


def render(text: str, dialect: Dialect) -> str:
    """The plugin's Markdown, with its customer spans escaped and its line breaks kept."""
    if dialect is Dialect.SLACK:
        text = _slack_own(text)
    text = _SPANS.sub(
        lambda m: (link if m.group(1) == LINK_START else escape)(m.group(2), dialect), text
    )
    for mark in _MARKS:
        text = text.replace(mark, "")
    if dialect is Dialect.MARKDOWN:
        return text
    return text.replace("\n", "&#10;")


def post_extras(dialect: Dialect) -> dict[str, Any]:
    """Message extras that keep a network from acting on names in a post: Slack links
    ``@channel`` and ``@name`` in plain text unless told not to."""
    if dialect is Dialect.SLACK:
        return {"link_names": False, "unfurl_links": False, "unfurl_media": False}
    return {}


def post(bot: Any, text: str, to: Any) -> Message:
    """A message from ``bot`` (an Errbot backend) to ``to`` saying ``text``, the plugin's
    Markdown, rendered for the network ``to`` is on."""
    dialect = dialect_of(to, getattr(bot, "mode", None))
    message = bot.build_message(render(text, dialect))
    message.extras.update(post_extras(dialect))
    message.to = to
    return message
