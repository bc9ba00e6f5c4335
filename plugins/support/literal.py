"""Customer text made carriable by every agent network, with visible marks for what is not.

A NUL ends an IRC line, a carriage return starts a new protocol line, a lone UTF-16 surrogate
(half an emoji cut by a JavaScript app) cannot be encoded as UTF-8, and JSON APIs refuse it.
Each such character is replaced by a mark agents can see, so they know something was there;
the store and ``!transcript``'s source keep what the customer sent.
"""

from __future__ import annotations

import re

#: Shown in place of a character no network can carry and that has no picture of its own.
REPLACEMENT = "\ufffd"

_LINE_BREAKS = re.compile("\r\n|[\r\u2028\u2029\x85\x0b\x0c]")
_UNCARRIABLE = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff]")


def _mark(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # the Unicode "control pictures": ␀, ␁ ... ␟
    if code == 0x7F:
        return "\u2421"  # ␡
    return REPLACEMENT


def carriable(text: str) -> str:
    """``text`` with every line break as ``\\n`` and each uncarriable character made visible.

    Tabs and line breaks stay (formatting decides how lines are shown); idempotent, so it may
    be applied both where a text is formatted and where it is posted.
    """
    return _UNCARRIABLE.sub(_mark, _LINE_BREAKS.sub("\n", text))


# ---------------------------------------------------------------------------------------------
# Customer text kept as data until it is rendered for a network (errbot_support.rendering).

#: Around customer-controlled text in what the plugin composes for agents: the renderer of
#: the network it is posted to escapes what is between them, and nothing else.
SPAN_START, SPAN_END = "\ue000", "\ue001"
#: Starts a web address (ended by ``SPAN_END``) that the network may show as a link.
LINK_START = "\ue002"
#: Shown in place of a line break inside a one-line field (a name, an attachment's name).
NEWLINE_MARK = "\u2424"  # ␤

_SENTINELS = re.compile(f"[{SPAN_START}{SPAN_END}{LINK_START}]")
# Embeddings, overrides and isolates reorder what follows them on the line, the bot's own
# words included; natural right-to-left text needs none of them and stays as written.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def _bidi_mark(match: re.Match[str]) -> str:
    return f"[U+{ord(match.group()):04X}]"


def shown(text: str) -> str:
    """``text`` as agents are shown it: :func:`carriable`, with bidirectional controls as
    visible marks (``[U+202E]``); line breaks stay, for the caller to lay out."""
    return _BIDI_CONTROLS.sub(_bidi_mark, _SENTINELS.sub(REPLACEMENT, carriable(text)))


def lines(text: str) -> list[str]:
    """The lines of a customer message as agents are shown them (at least one)."""
    return shown(text).split("\n")


def span(text: str) -> str:
    """One line of customer-controlled text, marked as such for the network's renderer;
    a line break in it is shown as ␤, so that it can never start a line of its own."""
    return f"{SPAN_START}{shown(text).replace(chr(10), NEWLINE_MARK)}{SPAN_END}"


def link(url: str) -> str:
    """A customer-given web address (``http``, ``https``: the caller checks), on one line,
    for the network's renderer to show as a link where it can."""
    return f"{LINK_START}{shown(url).replace(chr(10), NEWLINE_MARK)}{SPAN_END}"


def unmarked(text: str) -> str:
    """What the plugin composed, without the marks of its customer text (for logs)."""
    return _SENTINELS.sub("", text)
