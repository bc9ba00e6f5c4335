"""What a relay says in an agent room about the messages it relays."""

from __future__ import annotations

from errbot_support.formatting import name
from errbot_support.records import Conversation


def set_aside_notice(number: int, prefix: str) -> str:
    """A message the room's network refused even cut small; the transcript has it."""
    where = f"`{prefix}transcript {number}`"
    return f"**#{number}**: a message could not be shown here; {where} has it."


def flooding_notice(conversation: Conversation, per_minute: int, prefix: str) -> str:
    """A customer writing faster than the set rate: said once per flood."""
    number = conversation.number
    return (
        f"**#{number}** {name(conversation.customer_name)} is writing more than {per_minute} "
        f"messages a minute: every message is kept and comes here grouped, as the room's pace "
        f"allows; `{prefix}transcript {number}` has them all."
    )
