"""Canned replies: an agent types ``:refund`` instead of the same paragraph every day.

Only a reply that is nothing but ``:name`` is expanded, so ``:)`` or a sentence starting with a
colon goes to the customer as typed; a name nobody configured is refused rather than sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from errbot_support.errors import UnknownCannedReply

NAME = re.compile(r"^[\w-]{1,32}$")
_CANNED = re.compile(r"^:([\w-]{1,32})$")
#: What a canned reply may contain besides text: the customer's and the agent's names.
PLACEHOLDERS = {"customer": "Dana", "agent": "Alice"}


def expand(text: str, replies: Mapping[str, str], *, customer: str, agent: str) -> str:
    """``text`` itself, or the canned reply it names with its placeholders filled in."""
    found = _CANNED.match(text.strip())
    if found is None:
        return text
    name = found.group(1)
    if name not in replies:
        raise UnknownCannedReply(name, sorted(replies))
    return replies[name].format(customer=customer, agent=agent)
