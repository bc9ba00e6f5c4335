"""Which identity of a person each network vouches for, and patterns that trust too little.

A pattern in ``BOT_ADMINS`` or an agents list should name what the network itself vouches
for, not what anyone may choose:

- IRC: the ``nick!user@host`` mask (Errbot's ``IRC_ACL_PATTERN``). A nick is first come, first
  served: once its owner leaves anyone can take it, so a pattern must name a host (or cloak)
  the network assigns, e.g. ``alice!*@trusted.example``.
- Slack: the member id (``U0123ABCD``); display and user names can be changed by their owner.
- Other networks (Text, Test, XMPP with its JIDs...): their own identifiers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from errbot_bridge.settings import NETWORK_SEPARATOR

IRC_BACKENDS = frozenset({"IRC"})
SLACK_BACKENDS = frozenset({"Slack", "SlackV3", "SlackRTM"})
_WILDCARD_ONLY = re.compile(r"^[*?]*$")
_SLACK_MEMBER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


def weak_irc_pattern(pattern: str) -> bool:
    """Whether an IRC pattern trusts a nick alone: no ``!user@host``, or a host anyone has."""
    userhost = pattern.partition("!")[2] or pattern
    _user, at, host = userhost.partition("@")
    return not at or bool(_WILDCARD_ONLY.match(host))


def weak_slack_pattern(pattern: str) -> bool:
    """Whether a Slack pattern names something else than a member id."""
    return not _SLACK_MEMBER_ID.match(pattern)


def weak_patterns(patterns: Iterable[str], networks: Mapping[str | None, str]) -> list[str]:
    """The patterns that trust a name anyone can take on the network they apply to.

    ``networks`` maps a network name to its backend name (``{"agents": "IRC"}``); the key
    ``None`` is the backend of a bot that is not bridged. A pattern without a network prefix
    applies to every network.
    """
    weak = []
    for pattern in patterns:
        head, sep, rest = str(pattern).partition(NETWORK_SEPARATOR)
        if sep and head in networks:
            kinds, own = [networks[head]], rest
        else:
            kinds, own = list(networks.values()), str(pattern)
        if any(_weak_for(kind, own) for kind in kinds):
            weak.append(str(pattern))
    return weak


def _weak_for(backend: str, pattern: str) -> bool:
    if backend in IRC_BACKENDS:
        return weak_irc_pattern(pattern)
    if backend in SLACK_BACKENDS:
        return weak_slack_pattern(pattern)
    return False


def backends_of(bot: Any) -> dict[str | None, str]:
    """Network name -> backend name of ``bot`` (``{None: backend}`` when it is not bridged)."""
    networks = getattr(bot, "networks", None)
    if isinstance(networks, Mapping):
        return {name: network.backend_name for name, network in networks.items()}
    return {None: str(getattr(getattr(bot, "bot_config", None), "BACKEND", ""))}


def weak_identity_warning(bot: Any, settings: Mapping[str, Iterable[str]]) -> str | None:
    """One sentence for admins about every setting (name -> patterns) that trusts too little."""
    networks = backends_of(bot)
    found = {name: weak_patterns(patterns, networks) for name, patterns in settings.items()}
    found = {name: weak for name, weak in found.items() if weak}
    if not found:
        return None
    # Patterns as inline code: the chat's Markdown would take "alice!*@*" for emphasis.
    listed = "; ".join(
        f"{name}: {', '.join(f'`{pattern}`' for pattern in weak)}" for name, weak in found.items()
    )
    kinds = set(networks.values())
    advice = []
    if kinds & IRC_BACKENDS:
        advice.append(
            "on IRC write nick!user@host with a host you trust, e.g. `alice!*@trusted.example`"
        )
    if kinds & SLACK_BACKENDS:
        advice.append("on Slack write member ids, e.g. `U0123ABCD`")
    return f"These patterns trust a name anyone can take ({listed}): {' and '.join(advice)}."
