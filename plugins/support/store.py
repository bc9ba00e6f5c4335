"""Durable conversations and transcripts behind a small interface (SQLAlchemy Core).

Every public method is one transaction. Rules that must hold under concurrency are left to
the database: one open conversation per room (partial unique index), one record per customer
message (unique source id), and state changes as conditional UPDATEs, so two agents claiming
at once cannot both win. A customer's message is recorded in ``store_recording``; the reports
(search, figures, who waits) are in ``store_views``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import (
    and_,
    delete,
    exists,
    func,
    insert,
    inspect,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError

from errbot_support.database import (
    case_folding,
    open_engine,
    without_waiting_for_the_disk,
    writer_lock,
)
from errbot_support.migrations import current_version, migrate
from errbot_support.records import (
    Conversation,
    Delivery,
    Entry,
    Kind,
    Pending,
    Relay,
    State,
)
from errbot_support.statements import (
    FIRST_UNRELAYED,
    MARK_RELAYED,
    SET_ASIDE,
    UNRELAYED,
    conversations_with_tags,
    entry_of,
    with_tag_list,
)
from errbot_support.store_base import NewEntry
from errbot_support.store_recording import CustomerRecording
from errbot_support.store_views import StoreViews
from errbot_support.tables import conversations, entries, tags

ANY: Any = object()  # "whatever the agent is" in Store.change


class ConflictError(Exception):
    """A change would break a rule the database enforces (e.g. two open conversations)."""


class Store(CustomerRecording, StoreViews):
    def __init__(self, url: str) -> None:
        self.engine = open_engine(url)
        self.writer = writer_lock(self.engine)
        try:
            migrate(self.engine)
            self._fold = case_folding(self.engine)
        except Exception:
            self.engine.dispose()
            raise

    def close(self) -> None:
        self.engine.dispose()

    def conversation(self, number: int) -> Conversation | None:
        with self._reading() as c:
            return self._conversation(c, number)

    def open_conversations(self) -> list[Conversation]:
        query = (
            conversations_with_tags()
            .where(conversations.c.state != State.RESOLVED.value)
            .order_by(conversations.c.opened_at, conversations.c.id)
        )
        with self._reading() as c:
            return self._conversations(c.execute(query).all())

    def open_conversation_in(self, room: str) -> Conversation | None:
        with self._reading() as c:
            row = self._find_open(c, room)
            return with_tag_list(row) if row else None

    def conversations_in_rooms(self, rooms: Iterable[str]) -> list[Conversation]:
        query = (
            conversations_with_tags()
            .where(conversations.c.customer_room.in_(list(rooms)))
            .order_by(conversations.c.id)
        )
        with self._reading() as c:
            return self._conversations(c.execute(query).all())

    def entries(self, number: int, offset: int = 0, limit: int | None = None) -> list[Entry]:
        query = (
            select(entries)
            .where(entries.c.conversation_id == number)
            .order_by(entries.c.id)
            .offset(offset)
            .limit(limit)
        )
        with self._reading() as c:
            return [entry_of(row) for row in c.execute(query)]

    def count_entries(self, number: int) -> int:
        query = select(func.count()).where(entries.c.conversation_id == number)
        with self._reading() as c:
            return c.execute(query).scalar_one()

    def entry(self, entry_id: int) -> Entry | None:
        with self._reading() as c:
            row = c.execute(select(entries).where(entries.c.id == entry_id)).first()
            return entry_of(row) if row else None

    def unrelayed(
        self, limit: int = 100, after: int = 0, per_conversation: int | None = None
    ) -> list[Pending]:
        """Recorded customer messages not yet shown to agents, oldest first, from the first
        one after entry ``after`` (to go past messages whose agent room cannot take them);
        with ``per_conversation``, only that many of each conversation, its oldest."""
        with self._reading() as c:
            if per_conversation is None:
                rows = c.execute(UNRELAYED, {"limit": limit, "after": after}).all()
            else:
                values = {"limit": limit, "after": after, "per": per_conversation}
                rows = c.execute(FIRST_UNRELAYED, values).all()
            by_number = self._by_number(c, {row.conversation_id for row in rows})
        return [Pending(entry_of(row), by_number[row.conversation_id]) for row in rows]

    def set_thread_key(self, number: int, key: str) -> None:
        with self._writing() as c:
            c.execute(
                update(conversations).where(conversations.c.id == number).values(thread_key=key)
            )

    def conversation_in_thread(self, key: str) -> int | None:
        query = (
            select(conversations.c.id)
            .where(conversations.c.thread_key == key)
            .order_by(conversations.c.id.desc())
            .limit(1)
        )
        with self._reading() as c:
            return c.execute(query).scalar_one_or_none()

    def count_unrelayed(self) -> int:
        query = select(func.count()).where(entries.c.relay == Relay.RECORDED.value)
        with self._reading() as c:
            return c.execute(query).scalar_one()

    def schema_version(self) -> int | None:
        with self._reading() as c:
            return current_version(c)

    def entries_with_delivery(self, delivery: Delivery) -> list[Entry]:
        query = select(entries).where(entries.c.delivery == delivery.value).order_by(entries.c.id)
        with self._reading() as c:
            return [entry_of(row) for row in c.execute(query)]

    def abandon_pending(self, reason: str, alive_within: float) -> list[Entry]:
        """Mark undelivered (with ``reason``) the pending deliveries of no live instance: on
        PostgreSQL those whose sender is not in the instances' table heard from within
        ``alive_within`` seconds (and not counted lost), in one statement (so that an instance
        counted dead cannot have a delivery seen that it recorded after its row); elsewhere
        all of them."""
        pending = and_(entries.c.delivery == Delivery.PENDING.value)
        with self._writing() as c:
            if c.dialect.name == "postgresql" and inspect(c).has_table("instances"):
                heard = (
                    "heard_at > clock_timestamp() - make_interval(secs => :alive)"
                    " AND role <> 'lost'"  # an active one whose role was taken over
                )
                live = (
                    select(text("id"))
                    .select_from(text("instances"))
                    .where(text(heard).bindparams(alive=alive_within))
                )
                pending = and_(
                    pending, or_(entries.c.sender.is_(None), entries.c.sender.not_in(live))
                )
            ids = [
                row.id
                for row in c.execute(
                    update(entries)
                    .where(pending)
                    .values(delivery=Delivery.UNDELIVERED.value, delivery_error=reason)
                    .returning(entries.c.id)
                )
            ]
            query = select(entries).where(entries.c.id.in_(ids)).order_by(entries.c.id)
            return [entry_of(row) for row in c.execute(query)] if ids else []

    def change(
        self,
        number: int,
        *,
        states: Iterable[State],
        values: Mapping[str, Any],
        agent: Any = ANY,
        event: NewEntry | None = None,
        silent_since: int | None = None,
    ) -> Conversation | None:
        """Apply ``values`` if the conversation is in one of ``states`` (and has ``agent``, and
        the customer wrote nothing after entry ``silent_since``).

        Returns the changed conversation, or None when the condition did not hold: the check
        and the write are one UPDATE, so concurrent changes cannot both succeed.
        """
        condition = [
            conversations.c.id == number,
            conversations.c.state.in_([s.value for s in states]),
        ]
        if silent_since is not None:
            condition.append(
                ~exists().where(
                    entries.c.conversation_id == number,
                    entries.c.kind == Kind.CUSTOMER.value,
                    entries.c.id > silent_since,
                )
            )
        if agent is not ANY:
            condition.append(
                conversations.c.agent.is_(None) if agent is None else conversations.c.agent == agent
            )
        try:
            with self._writing() as c:
                result = c.execute(update(conversations).where(and_(*condition)).values(**values))
                if result.rowcount != 1:
                    return None
                if event is not None:
                    self._insert_entry(c, number, event)
                return self._conversation(c, number)
        except IntegrityError as exc:
            raise ConflictError(str(exc.orig)) from exc

    def add_entry(
        self,
        number: int,
        new: NewEntry,
        *,
        first_reply: bool = False,
        states: Iterable[State] | None = None,
        agent: Any = ANY,
    ) -> Entry | None:
        """Append to the transcript; ``first_reply`` stamps the conversation's first reply.

        With ``states`` (and ``agent``), the entry is added only if the conversation is still
        in one of them, checked in the same transaction: a reply cannot slip in after the
        conversation was resolved or given to someone else. Returns None when it was not.
        """
        condition = [conversations.c.id == number]
        if states is not None:
            condition.append(conversations.c.state.in_([s.value for s in states]))
        if agent is not ANY:
            condition.append(
                conversations.c.agent.is_(None) if agent is None else conversations.c.agent == agent
            )
        stamp = (
            # Typed as the column: an untyped datetime reaches PostgreSQL as a timestamp with
            # time zone, which the column would store in the server's time zone, not in UTC.
            func.coalesce(
                conversations.c.first_reply_at,
                literal(new.created_at, conversations.c.first_reply_at.type),
            )
            if first_reply
            else conversations.c.first_reply_at
        )
        with self._writing() as c:
            guard = update(conversations).where(and_(*condition)).values(first_reply_at=stamp)
            if c.execute(guard).rowcount != 1:
                return None
            entry_id = self._insert_entry(c, number, new)
            return entry_of(c.execute(select(entries).where(entries.c.id == entry_id)).one())

    def set_delivery(self, entry_id: int, delivery: Delivery, error: str | None = None) -> None:
        with self._writing() as c:
            c.execute(
                update(entries)
                .where(entries.c.id == entry_id)
                .values(delivery=delivery.value, delivery_error=error)
            )

    def mark_relayed(self, *entry_ids: int) -> None:
        """Agents have seen these messages (one transaction for all of them).

        Written without waiting for the disk: should a power cut take the mark back, the
        message is only relayed again (the message itself was recorded durably before).
        """
        with (
            self.writer,
            self.engine.connect() as c,
            without_waiting_for_the_disk(c),
            c.begin(),
        ):
            c.execute(MARK_RELAYED, [{"entry_id": entry_id} for entry_id in entry_ids])

    def set_aside(self, entry_id: int) -> None:
        """The agent room's network refused this message: it no longer waits for it."""
        with self._writing() as c:
            c.execute(SET_ASIDE, {"entry_id": entry_id})

    def add_tags(self, number: int, new_tags: Iterable[str]) -> list[str]:
        """Add tags; returns those that were not there yet."""
        with self._writing() as c:
            present = set(
                c.execute(select(tags.c.tag).where(tags.c.conversation_id == number)).scalars()
            )
            added = [t for t in dict.fromkeys(new_tags) if t not in present]
            if added:
                c.execute(insert(tags), [{"conversation_id": number, "tag": t} for t in added])
            return added

    def remove_tags(self, number: int, old_tags: Iterable[str]) -> list[str]:
        """Remove tags; returns those that were there."""
        wanted = list(dict.fromkeys(old_tags))
        with self._writing() as c:
            present = set(
                c.execute(
                    select(tags.c.tag).where(
                        tags.c.conversation_id == number, tags.c.tag.in_(wanted)
                    )
                ).scalars()
            )
            if present:
                c.execute(
                    delete(tags).where(tags.c.conversation_id == number, tags.c.tag.in_(present))
                )
            return [t for t in wanted if t in present]
