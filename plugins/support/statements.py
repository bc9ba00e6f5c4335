"""The statements the store runs for each customer message, built once, and the rows the
store reads turned into records.

Building a statement and its cache key costs more than running it; these run for every message.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, Select, bindparam, func, select, update

from errbot_support.records import (
    RATING_QUESTION,
    Conversation,
    CustomerMessage,
    Delivery,
    Entry,
    Kind,
    Relay,
    State,
)
from errbot_support.tables import conversations, entries, tags

DUPLICATE = select(entries).where(
    entries.c.source_room == bindparam("room"), entries.c.source_id == bindparam("source_id")
)
# A conversation's tags in the same statement ("a b c"; tags never hold spaces).
TAG_LIST = (
    select(func.aggregate_strings(tags.c.tag, " "))
    .where(tags.c.conversation_id == conversations.c.id)
    .scalar_subquery()
    .label("tag_list")
)


def conversations_with_tags(*columns: Any) -> Select:
    """Conversations with their tags, in one statement: the one way the store reads them."""
    return select(conversations, TAG_LIST, *columns)


OPEN_IN_ROOM = conversations_with_tags().where(
    conversations.c.customer_room == bindparam("room"),
    conversations.c.state != State.RESOLVED.value,
)
ENTRY = select(entries).where(entries.c.id == bindparam("entry_id"))
LAST_IN_ROOM = (
    select(conversations)
    .where(conversations.c.customer_room == bindparam("room"))
    .order_by(conversations.c.id.desc())
    .limit(1)
)
RATING_ASKED = select(entries.c.id).where(
    entries.c.conversation_id == bindparam("number"), entries.c.notice == RATING_QUESTION
)
SET_RATING = (
    update(conversations)
    .where(conversations.c.id == bindparam("number"))
    .values(rating=bindparam("rating"))
)
CONVERSATIONS = conversations_with_tags().where(
    conversations.c.id.in_(bindparam("numbers", expanding=True))
)
UNRELAYED = (
    select(entries)
    .where(entries.c.relay == Relay.RECORDED.value, entries.c.id > bindparam("after"))
    .order_by(entries.c.id)
    .limit(bindparam("limit"))
)
# The same, but at most ``per`` of each conversation (its oldest): a customer's flood must not
# fill what a relay reads and hide the others' messages behind it.
RANKED = select(
    entries,
    func.row_number()
    .over(partition_by=entries.c.conversation_id, order_by=entries.c.id)
    .label("rank"),
).where(entries.c.relay == Relay.RECORDED.value)
RANKED_SUB = RANKED.subquery()
FIRST_UNRELAYED = (
    select(RANKED_SUB)
    .where(RANKED_SUB.c.rank <= bindparam("per"), RANKED_SUB.c.id > bindparam("after"))
    .order_by(RANKED_SUB.c.id)
    .limit(bindparam("limit"))
)
MARK_RELAYED = (
    update(entries).where(entries.c.id == bindparam("entry_id")).values(relay=Relay.RELAYED.value)
)
SET_ASIDE = (
    update(entries)
    .where(entries.c.id == bindparam("entry_id"), entries.c.relay == Relay.RECORDED.value)
    .values(relay=Relay.SET_ASIDE.value)
)


#: What may stand before the own name of a room or a customer id: the Bridge's network prefix
#: ("customers:"), the room of a room's occupant ("dana-support/").
OWN_NAME_AFTER = (":", "/")


def like_escaped(text: str) -> str:
    """``text`` matched as written by ``LIKE ... ESCAPE '\\'``."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def customer_entry(
    message: CustomerMessage, number: int, kind: Kind, *, opens_conversation: bool = False
) -> dict[str, Any]:
    """The transcript row of something the customer wrote, waiting to be relayed."""
    return {
        "conversation_id": number,
        "kind": kind.value,
        "author": message.customer_id,
        "author_name": message.customer_name,
        "body": message.body,
        "created_at": message.sent_at,
        "source_room": message.room,
        "source_id": message.source_id,
        "relay": Relay.RECORDED.value,
        "opens_conversation": opens_conversation,
        "attachments": list(message.attachments) or None,
    }


def with_tag_list(row: Row) -> Conversation:
    """A conversation read with its ``TAG_LIST``, tags in alphabetical order."""
    return Conversation(
        number=row.id,
        customer_room=row.customer_room,
        customer_id=row.customer_id,
        customer_name=row.customer_name,
        state=State(row.state),
        agent=row.agent,
        agent_name=row.agent_name,
        opened_at=row.opened_at,
        first_reply_at=row.first_reply_at,
        resolved_at=row.resolved_at,
        tags=tuple(sorted((row.tag_list or "").split())),
        rating=row.rating,
        agent_room=row.agent_room,
        customer_details=dict(row.customer_details or {}),
        thread_key=row.thread_key,
    )


def entry_of(row: Row) -> Entry:
    return Entry(
        id=row.id,
        conversation=row.conversation_id,
        kind=Kind(row.kind),
        author=row.author,
        author_name=row.author_name,
        body=row.body,
        created_at=row.created_at,
        source_id=row.source_id,
        relay=Relay(row.relay) if row.relay else None,
        delivery=Delivery(row.delivery) if row.delivery else None,
        delivery_error=row.delivery_error,
        notice=row.notice,
        opens_conversation=bool(row.opens_conversation),
        attachments=tuple(row.attachments or ()),
    )
