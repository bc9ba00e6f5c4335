"""What one post to an agent room may hold, and how often a room may be posted to, per network.

The limits of every agents' network the plugin knows are here and nowhere else. A post longer
than its network takes is refused (IRC), cut short (Slack beyond 40,000 characters) or split by
the backend into pieces that fail one by one; so the plugin splits first, knowing where each
piece belongs (see ``errbot_support.parts``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: An IRC line, CR LF included (RFC 2812 section 2.3).
IRC_LINE_BYTES = 512
#: What the server puts before the text when it passes a line on, at its longest:
#: ``:nick!user@host PRIVMSG #channel :`` (a nick may grow, e.g. ``helpdesk_`` after a clash).
IRC_NICK_MAX, IRC_USER_MAX, IRC_HOST_MAX = 30, 10, 63
#: Errbot's IRC renderer turns Markdown into mIRC codes, which may be a few bytes longer.
IRC_RENDERING_MARGIN = 16

SLACK_POST_CHARS = 40_000  # chat.postMessage truncates beyond
SLACK_SECONDS_PER_POST = 1.0  # "about one message a second per channel"
TELEGRAM_POST_CHARS = 4_096
TELEGRAM_SECONDS_PER_POST = 3.0  # 20 messages a minute in a group
MATTERMOST_POST_CHARS = 16_383  # the server's default MaxPostSize (in runes)


@dataclass(frozen=True)
class PostLimits:
    """``size``: the most a post may hold, in UTF-8 ``bytes`` or in characters; ``per_line``:
    each line of a post is sent (and paced, and limited) on its own, as on IRC; ``interval``:
    seconds the network wants between two posts in a room (0: no pace)."""

    network: str
    size: int
    bytes: bool = False
    per_line: bool = False
    interval: float = 0.0

    def measure(self, text: str) -> int:
        if self.bytes:
            return len(text.encode("utf-8", "surrogatepass"))
        return len(text)

    @property
    def paced(self) -> bool:
        return self.interval > 0


def irc_text_bytes(nick: str, channel: str) -> int:
    """Bytes of text an IRC line to ``channel`` may carry, as the server passes it on."""
    prefix = (
        f":{'n' * max(len(nick), IRC_NICK_MAX)}!{'u' * IRC_USER_MAX}@{'h' * IRC_HOST_MAX}"
        f" PRIVMSG {channel} :"
    )
    return IRC_LINE_BYTES - len(prefix.encode()) - len(b"\r\n") - IRC_RENDERING_MARGIN


def limits_for(backend: Any, config: Any, room: str) -> PostLimits:
    """The limits of ``room`` on the network ``backend`` serves (``config``: that network's
    settings). Errbot's own ``message_size_limit`` (``MESSAGE_SIZE_LIMIT``) is kept where it
    is lower, since the backend splits at it."""
    mode = str(getattr(backend, "mode", "") or "").lower()
    own = _own_limit(backend)
    if mode == "irc":
        identity = getattr(backend, "bot_identifier", None)
        nick = str(getattr(identity, "nick", None) or "")
        rate = getattr(config, "IRC_CHANNEL_RATE", 1)
        return PostLimits(
            "IRC", irc_text_bytes(nick, room), bytes=True, per_line=True, interval=rate or 0.0
        )
    if mode in ("slack", "slackv3"):
        return PostLimits("Slack", _lower(SLACK_POST_CHARS, own), interval=SLACK_SECONDS_PER_POST)
    if mode == "telegram":
        return PostLimits(
            "Telegram", _lower(TELEGRAM_POST_CHARS, own), interval=TELEGRAM_SECONDS_PER_POST
        )
    if mode == "mattermost":
        return PostLimits("Mattermost", _lower(MATTERMOST_POST_CHARS, own))
    return PostLimits(mode.capitalize() or "chat", own or 10_000)


def _own_limit(backend: Any) -> int | None:
    try:
        limit = int(backend.message_size_limit)
    except Exception:  # not every backend, nor every stand-in, has one
        return None
    return limit if limit > 0 else None


def _lower(network: int, own: int | None) -> int:
    return min(network, own) if own else network
