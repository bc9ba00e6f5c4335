"""The store's reports: whose conversations, who waits, what was said, figures by state.

Reads only, each in a connection of its own; the agents' commands and the pollers ask them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import func, literal, or_, select

from errbot_support.records import Conversation, Entry, Kind, State
from errbot_support.statements import (
    OWN_NAME_AFTER,
    conversations_with_tags,
    entry_of,
    like_escaped,
)
from errbot_support.store_base import StoreBase
from errbot_support.tables import conversations, entries

replies = entries.alias("replies")
words = entries.alias("words")


class StoreViews(StoreBase):
    def customer_rooms(self, text: str) -> list[str]:
        """Rooms whose customer is ``text``: a room, a customer id or a display name (any
        case); a room or id also by its own name, without its network ("dana-support" for
        "customers:dana-support") or room ("dana" for "customers:dana-support/dana")."""
        fold = self._fold
        own_name = [f"%{separator}{like_escaped(text)}" for separator in OWN_NAME_AFTER]
        query = (
            select(conversations.c.customer_room, func.max(conversations.c.id).label("last"))
            .where(
                or_(
                    conversations.c.customer_room == text,
                    conversations.c.customer_id == text,
                    *(
                        column.like(pattern, escape="\\")
                        for column in (conversations.c.customer_room, conversations.c.customer_id)
                        for pattern in own_name
                    ),
                    fold(conversations.c.customer_name) == fold(literal(text)),
                )
            )
            .group_by(conversations.c.customer_room)
            .order_by(func.max(conversations.c.id).desc())
        )
        with self._reading() as c:
            return [row.customer_room for row in c.execute(query)]

    def conversations_opened_since(self, since: datetime) -> list[Conversation]:
        query = (
            conversations_with_tags()
            .where(conversations.c.opened_at >= since)
            .order_by(conversations.c.id)
        )
        with self._reading() as c:
            return self._conversations(c.execute(query).all())

    def count_by_state(self, rooms: Callable[[str | None], bool] | None = None) -> dict[State, int]:
        """Every conversation ever, by state; only those whose stored agent room ``rooms``
        accepts, if given."""
        query = select(conversations.c.agent_room, conversations.c.state, func.count()).group_by(
            conversations.c.agent_room, conversations.c.state
        )
        counts = dict.fromkeys(State, 0)
        with self._reading() as c:
            for room, state, count in c.execute(query):
                if rooms is None or rooms(room):
                    counts[State(state)] += count
        return counts

    def awaiting_answer(self, written_before: datetime) -> list[tuple[Conversation, datetime]]:
        """Open conversations whose customer wrote after the last reply (or since it opened,
        if none), with when the first of those unanswered messages was written, for those
        written before ``written_before``."""
        last_reply = (
            select(func.coalesce(func.max(replies.c.id), 0))
            .where(
                replies.c.conversation_id == conversations.c.id,
                replies.c.kind == Kind.REPLY.value,
            )
            .scalar_subquery()
        )
        since = func.min(entries.c.created_at)
        query = (
            conversations_with_tags(since.label("since"))
            .join(entries, entries.c.conversation_id == conversations.c.id)
            .where(
                conversations.c.state != State.RESOLVED.value,
                entries.c.kind == Kind.CUSTOMER.value,
                entries.c.id > last_reply,
            )
            .group_by(conversations.c.id)
            .having(since < literal(written_before, entries.c.created_at.type))
            .order_by(since)
        )
        with self._reading() as c:
            rows = c.execute(query).all()
            found = self._conversations(rows)
        return [(conversation, row.since) for conversation, row in zip(found, rows, strict=True)]

    def search(
        self, text: str, kinds: Iterable[Kind], limit: int
    ) -> list[tuple[Conversation, Entry]]:
        """The ``limit`` conversations most recently mentioning ``text`` (in any case, of any
        script), each with its latest entry that does."""
        fold = self._fold
        latest = (
            select(func.max(entries.c.id).label("id"))
            .where(
                # Both sides folded by the database, the same way.
                fold(entries.c.body).like(fold(literal(f"%{like_escaped(text)}%")), escape="\\"),
                entries.c.kind.in_([kind.value for kind in kinds]),
            )
            .group_by(entries.c.conversation_id)
            .order_by(func.max(entries.c.id).desc())
            .limit(limit)
            .subquery()
        )
        query = (
            select(entries).join(latest, entries.c.id == latest.c.id).order_by(entries.c.id.desc())
        )
        with self._reading() as c:
            found = [entry_of(row) for row in c.execute(query)]
            by_number = self._by_number(c, {entry.conversation for entry in found})
        return [(by_number[entry.conversation], entry) for entry in found]

    def answered_then_silent(self, answered_before: datetime) -> list[tuple[Conversation, Entry]]:
        """Assigned conversations whose last word, customer's or agent's, is an agent's reply
        sent before ``answered_before``, each with that reply."""
        last_word = (
            select(func.max(words.c.id))
            .where(
                words.c.conversation_id == conversations.c.id,
                words.c.kind.in_([Kind.CUSTOMER.value, Kind.REPLY.value, Kind.RATING.value]),
            )
            .scalar_subquery()
        )
        query = (
            select(entries)
            .select_from(conversations)
            .join(entries, entries.c.id == last_word)
            .where(
                conversations.c.state == State.ASSIGNED.value,
                entries.c.kind == Kind.REPLY.value,
                entries.c.created_at < literal(answered_before, entries.c.created_at.type),
            )
            .order_by(entries.c.id)
        )
        with self._reading() as c:
            answers = [entry_of(row) for row in c.execute(query)]
            by_number = self._by_number(c, {answer.conversation for answer in answers})
        return [(by_number[answer.conversation], answer) for answer in answers]
