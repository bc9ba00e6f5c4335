"""Who is who across networks: names to show, keys to compare, patterns to match.

With the Bridge, identifiers carry their network ("agents:alice"); people are shown and typed
by the name their own network gives them ("alice"), while patterns may use either form.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from typing import Any

from errbot.backends.base import Identifier

from errbot_bridge import network_of  # None for anything not bridged
from errbot_bridge.trust import weak_identity_warning  # names anyone can take (IRC nicks)
from errbot_support.records import Agent

__all__ = [
    "agent_of",
    "display_name",
    "matches_any",
    "network_of",
    "one_window",
    "own_identity",
    "same_room",
    "weak_identity_warning",
]

#: Backends whose rooms and direct chats all show in one window (Errbot's Text: a terminal).
ONE_WINDOW_BACKENDS = ("errbot.backends.text",)


def own_identity(identifier: Identifier) -> Identifier:
    """The identifier as its own network knows it: the Bridge prefixes ``person`` with the
    network name, which is noise in a name shown to people or typed by them."""
    if network_of(identifier) is not None:
        return getattr(identifier, "inner", identifier)
    return identifier


def display_name(identifier: Identifier) -> str:
    identifier = own_identity(identifier)
    for attribute in ("fullname", "nick", "person"):
        value = getattr(identifier, attribute, None)
        if value:
            return str(value)
    return str(identifier)


def one_window(a: Any, b: Any) -> bool:
    """Whether ``a`` and ``b`` (a person, a room) are shown in the same window, so that what
    is said to one is seen in the other: both on one terminal's Text backend."""
    return all(
        x is not None and type(own_identity(x)).__module__ in ONE_WINDOW_BACKENDS for x in (a, b)
    ) and network_of(a) == network_of(b)


def same_room(a: Any, b: Any) -> bool:
    return a is not None and b is not None and str(a).casefold() == str(b).casefold()


def agent_of(identifier: Identifier) -> Agent:
    """The agent behind ``identifier``: keyed by nick (what colleagues type in ``!transfer``)."""
    own = own_identity(identifier)
    key = getattr(own, "nick", None) or getattr(own, "person", None) or str(own)
    return Agent(key=str(key).casefold(), name=display_name(own))


def matches_any(who: Identifier | str, patterns: Iterable[str]) -> bool:
    """Whether ``who`` (an identifier, or a name as typed) matches one of the glob patterns,
    by its ACL form, person, nick or full string, with or without its network, any case."""
    if isinstance(who, str):
        names = {who.casefold()}
    else:
        names = {
            str(value).casefold()
            for identity in (who, own_identity(who))
            for value in (
                getattr(identity, "aclattr", None),
                getattr(identity, "person", None),
                getattr(identity, "nick", None),
                identity,
            )
            if value
        }
    return any(fnmatch.fnmatchcase(n, p.casefold()) for n in names for p in patterns)
