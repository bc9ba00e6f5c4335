"""Plain value objects passed between the store, the desk and the plugin.

They are frozen dataclasses rather than ORM objects so that nothing outside the store can
touch the database by accident, and so that the desk stays testable without one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum

#: The notice that asks the customer to rate a resolved conversation (``Entry.notice``).
RATING_QUESTION = "rating"
#: How long after the resolution a customer's bare "1" to "5" is taken for a rating.
RATING_WINDOW = timedelta(days=1)
#: What a backend may say of a customer in ``extras["customer"]`` (the PubNub backend: from App
#: Context), shown to agents in this order.
CUSTOMER_DETAILS = ("email", "external_id", "profile_url")


class State(str, Enum):
    WAITING = "waiting"
    ASSIGNED = "assigned"
    RESOLVED = "resolved"


class Kind(str, Enum):
    """What a transcript entry is."""

    CUSTOMER = "customer"  # written by the customer
    REPLY = "reply"  # an agent's answer, sent to the customer
    NOTICE = "notice"  # an automatic text sent to the customer (acknowledgement, resolution)
    NOTE = "note"  # internal, never sent to the customer
    EVENT = "event"  # claim, release, transfer, resolve, reopen, tag
    RATING = "rating"  # the customer's rating of the conversation, after it was resolved


class Relay(str, Enum):
    """Where a customer message is on its way to the agent room."""

    RECORDED = "recorded"
    RELAYED = "relayed"
    SET_ASIDE = "set_aside"  # its agent room's network refused it: the transcript has it


class Delivery(str, Enum):
    """Where a reply or notice is on its way to the customer."""

    PENDING = "pending"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"


@dataclass(frozen=True)
class Agent:
    """An agent as the desk knows them: a stable key for comparisons and a name to show."""

    key: str
    name: str

    def is_(self, key: str | None) -> bool:
        return key is not None and key.casefold() == self.key.casefold()


@dataclass(frozen=True)
class Conversation:
    number: int
    customer_room: str
    customer_id: str
    customer_name: str
    state: State
    agent: str | None
    agent_name: str | None
    opened_at: datetime
    first_reply_at: datetime | None
    resolved_at: datetime | None
    tags: tuple[str, ...] = ()
    rating: int | None = None  # 1 to 5, given by the customer after resolution
    agent_room: str | None = None  # the team's room (SUPPORT_ROUTES); None: SUPPORT_AGENT_ROOM
    # What the customer's network said of them when the conversation opened (see CUSTOMER_DETAILS).
    customer_details: dict[str, str] = field(default_factory=dict)
    thread_key: str | None = None  # its thread in the agent room (SUPPORT_THREADS)

    @property
    def is_open(self) -> bool:
        return self.state is not State.RESOLVED


@dataclass(frozen=True)
class Entry:
    """One line of a transcript."""

    id: int
    conversation: int
    kind: Kind
    author: str | None
    author_name: str | None
    body: str
    created_at: datetime
    source_id: str | None = None
    relay: Relay | None = None
    delivery: Delivery | None = None
    delivery_error: str | None = None
    notice: str | None = None
    opens_conversation: bool = False
    attachments: tuple[dict, ...] = ()


@dataclass(frozen=True)
class CustomerMessage:
    """A customer's message as it arrived, before it is recorded."""

    room: str
    customer_id: str
    customer_name: str
    body: str
    sent_at: datetime
    source_id: str | None = None
    attachments: tuple[dict, ...] = field(default_factory=tuple)
    # What the message rates (1 to 5) if it is one, should the customer's last conversation
    # be waiting for a rating; otherwise it is an ordinary message.
    rating: int | None = None
    # The agent room serving the conversation this message opens, if it opens one.
    agent_room: str | None = None
    customer_details: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Recorded:
    """The outcome of recording a customer message."""

    conversation: Conversation
    entry: Entry
    opened: bool  # this message opened a new conversation
    duplicate: bool  # this message had been recorded before: nothing was written


@dataclass(frozen=True)
class Pending:
    """A recorded customer message still to be relayed, with its conversation."""

    entry: Entry
    conversation: Conversation
