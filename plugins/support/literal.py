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
