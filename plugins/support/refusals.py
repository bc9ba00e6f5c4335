"""Why a post to an agent room failed: the network refused what the post is, or the network
(or the bot's place in the room) is not there.

The two call for opposite things. A network that is down is waited for: the room's messages
stay in the store, in order, until it is back. A post refused for its content would be
refused again forever; waiting for it would hold up the whole room (an over-long IRC line once
stopped every conversation), so it is made postable, or set aside with a word to the agents.
"""

from __future__ import annotations

#: Error codes of Slack's Web API that reject a message for what it is.
SLACK_CONTENT_ERRORS = frozenset(
    {"msg_too_long", "no_text", "invalid_blocks", "invalid_attachments", "too_many_attachments"}
)
#: Words in the errors of other chat APIs (Telegram's "Bad Request: message is too long").
CONTENT_WORDS = ("too long", "too large", "can't parse entities", "message text is empty")


def refused_for_content(exc: BaseException) -> bool:
    """Whether ``exc`` says the network refuses this post for what it holds.

    ``ValueError`` covers the ``irc`` library's ``MessageTooLong`` and ``InvalidCharacters``
    and text that cannot be encoded (``UnicodeError``); connection problems are ``OSError``
    or the Bridge's ``NetworkUnavailableError`` (a ``RuntimeError``), never these.
    """
    if isinstance(exc, ValueError):
        return True
    response = getattr(exc, "response", None)
    code = _get(response, "error")
    if isinstance(code, str) and code in SLACK_CONTENT_ERRORS:
        return True
    if isinstance(exc, OSError):
        return False
    said = str(exc).lower()
    return type(exc).__name__ == "BadRequest" and any(word in said for word in CONTENT_WORDS)


def _get(response: object, key: str) -> object:
    try:
        return response[key]  # type: ignore[index]
    except Exception:
        return None
