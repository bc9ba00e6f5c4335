"""The word the store gives, when a customer message is recorded, to the active instance.

The store calls :func:`recorded` inside the transaction that records the message: PostgreSQL
delivers the notification when, and only if, that transaction commits, so the active instance
(:mod:`errbot_support.active_role`) reads the message back the moment it can. On SQLite there is
one bot, which hands its own messages to its relays directly: nothing is sent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from errbot_instances.notifications import announce

if TYPE_CHECKING:
    from sqlalchemy import Connection

#: The PostgreSQL notification channel of recorded customer messages.
CHANNEL = "support_customer_message"


def recorded(connection: Connection, agent_room: str) -> None:
    """Announce a customer message recorded for ``agent_room`` (the routing name) when the
    transaction of ``connection`` commits."""
    announce(connection, CHANNEL, agent_room)
