"""Why a desk operation was refused, worded for the agent who asked.

Each error knows how to say what happened and what to type instead; the command prefix is
passed in because it is a setting of the bot, not of the desk. No sentence starts with "#":
Markdown would make the line a heading. Names and what was typed are spans
(:func:`errbot_support.literal.span`) in ``text``, kept plain in ``str()`` for logs.
"""

from __future__ import annotations

from errbot_support.literal import span
from errbot_support.records import Conversation


class SupportError(Exception):
    """A refused operation; ``text(prefix)`` is what the agent reads."""

    def text(self, prefix: str) -> str:
        return str(self)


class UnknownConversation(SupportError):
    def __init__(self, number: int) -> None:
        super().__init__(f"There is no conversation #{number}.")
        self.number = number

    def text(self, prefix: str) -> str:
        return f"There is no conversation #{self.number}: `{prefix}queue` lists the open ones."


class ConversationResolved(SupportError):
    def __init__(self, conversation: Conversation) -> None:
        super().__init__(f"Conversation #{conversation.number} is resolved.")
        self.conversation = conversation

    def text(self, prefix: str) -> str:
        n = self.conversation.number
        return (
            f"Conversation #{n} is resolved; the customer's next message opens a new "
            f"conversation. `{prefix}reopen {n}` to continue this one."
        )


class NotYours(SupportError):
    def __init__(self, conversation: Conversation) -> None:
        super().__init__(f"Conversation #{conversation.number} is {conversation.agent_name}'s.")
        self.conversation = conversation

    def text(self, prefix: str) -> str:
        n = self.conversation.number
        return (
            f"Conversation #{n} is {span(self.conversation.agent_name or '')}'s. Ask them, or "
            f"take it over with `{prefix}transfer {n} me`."
        )


class AlreadyClaimed(SupportError):
    def __init__(self, conversation: Conversation) -> None:
        super().__init__(
            f"Too late: {conversation.agent_name} claimed #{conversation.number} first."
        )
        self.conversation = conversation

    def text(self, prefix: str) -> str:
        c = self.conversation
        return f"Too late: {span(c.agent_name or '')} claimed #{c.number} first."


class AlreadyAssigned(SupportError):
    def __init__(self, conversation: Conversation) -> None:
        super().__init__(
            f"Conversation #{conversation.number} is already {conversation.agent_name}'s."
        )
        self.conversation = conversation

    def text(self, prefix: str) -> str:
        c = self.conversation
        return f"Conversation #{c.number} is already {span(c.agent_name or '')}'s."


class AlreadyYours(SupportError):
    def __init__(self, conversation: Conversation) -> None:
        super().__init__(f"Conversation #{conversation.number} is already yours.")
        self.conversation = conversation


class NotAssigned(SupportError):
    def __init__(self, conversation: Conversation) -> None:
        super().__init__(f"Conversation #{conversation.number} is not assigned to anyone.")
        self.conversation = conversation

    def text(self, prefix: str) -> str:
        n = self.conversation.number
        return f"Conversation #{n} is not assigned to anyone: `{prefix}claim {n}` to take it."


class NotResolved(SupportError):
    def __init__(self, conversation: Conversation) -> None:
        super().__init__(
            f"Conversation #{conversation.number} is still open, there is nothing to reopen."
        )
        self.conversation = conversation


class OpenElsewhere(SupportError):
    """The customer already has another open conversation."""

    def __init__(self, conversation: Conversation, other: Conversation | None) -> None:
        where = f" #{other.number}" if other else ""
        super().__init__(
            f"{conversation.customer_name} already has an open conversation{where}; "
            f"continue there instead of reopening #{conversation.number}."
        )
        self.conversation = conversation
        self.other = other

    def text(self, prefix: str) -> str:
        name = span(self.conversation.customer_name)
        return str(self).replace(self.conversation.customer_name, name, 1)


class ChangedMeanwhile(SupportError):
    def __init__(self, number: int) -> None:
        super().__init__(f"Conversation #{number} changed while you typed; look again and retry.")
        self.number = number

    def text(self, prefix: str) -> str:
        return (
            f"Conversation #{self.number} changed while you typed: "
            f"`{prefix}transcript {self.number}` shows where it stands."
        )


class NoSuchPage(SupportError):
    def __init__(self, number: int, page: int, pages: int) -> None:
        super().__init__(f"Conversation #{number} has {pages} page(s) of transcript, not {page}.")
        self.number, self.page, self.pages = number, page, pages

    def text(self, prefix: str) -> str:
        return f"{self} `{prefix}transcript {self.number} {self.pages}` shows the last one."


class BadTag(SupportError):
    def __init__(self, tag: str) -> None:
        super().__init__(
            f"'{tag}' is not a tag: use letters, digits, '-' or '_' (at most 32 characters)."
        )
        self.tag = tag

    def text(self, prefix: str) -> str:
        return str(self).replace(f"'{self.tag}'", f"'{span(self.tag)}'", 1)


class UnknownCustomer(SupportError):
    def __init__(self, text: str) -> None:
        super().__init__(f"No conversation with a customer named or identified '{text}'.")
        self.customer = text

    def text(self, prefix: str) -> str:
        said = str(self).replace(f"'{self.customer}'", f"'{span(self.customer)}'", 1)
        return f"{said} `{prefix}queue` lists the open conversations with their customers."


class SearchTooShort(SupportError):
    def __init__(self, minimum: int) -> None:
        super().__init__(f"Search for at least {minimum} characters.")


class UnknownCannedReply(SupportError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"There is no canned reply ':{name}'.")
        self.known = known

    def text(self, prefix: str) -> str:
        if not self.known:
            return f"{self} Canned replies are set in SUPPORT_CANNED_REPLIES; there are none."
        names = ", ".join(f":{name}" for name in self.known)
        return f"{self} Known: {names} (`{prefix}canned` shows their texts)."
