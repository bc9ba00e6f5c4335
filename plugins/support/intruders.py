"""Messages in a customer's chat that are not the customer's: the agents are told, nothing is
recorded as the customer's words.

A backend says so in the message's extras (the PubNub backend does): ``posing_as_support`` for
a message under the support user's own id that this bot did not publish (the customer saw it
as ours), ``not_the_customer`` for a message by another user than the chat's customer.
"""

from __future__ import annotations

from typing import Any

from errbot_support.formatting import name, said

POSING = "posing_as_support"
NOT_THE_CUSTOMER = "not_the_customer"


def intrusion(extras: Any) -> str | None:
    """Which kind of intrusion a message's extras report, if any."""
    if not isinstance(extras, dict):
        return None
    for kind in (POSING, NOT_THE_CUSTOMER):
        if extras.get(kind) is True:
            return kind
    return None


def report(kind: str, where: str, writer: str, customer: str | None, text: str) -> str:
    """The lines for the agent room. ``where`` is ``**#N**`` or the chat's name (a span);
    the message is shown as written, each further line with ``where`` and its writer."""
    if kind == POSING:
        head = f"{where}: a message posing as support reached the customer: "
        return "\n".join(said(head, f"{where} (posing as support)", text))
    who = name(writer)
    whose = f"{name(customer)}'s chat" if customer else "the customer's chat"
    head = (
        f"{where}: a message in {whose} came from **{who}**, who is not the customer "
        f"(not part of the conversation): "
    )
    return "\n".join(said(head, f"{where} {who}", text))
