"""Durable conversations and transcripts behind a small interface (SQLAlchemy Core).

Every public method is one transaction. Rules that must hold under concurrency are left to
the database: one open conversation per room (partial unique index), one record per customer
message (unique source id), and state changes as conditional UPDATEs, so two agents claiming
at once cannot both win.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from errbot_support.database import (
    READ_ONLY,
    case_folding,
    open_engine,
    without_waiting_for_the_disk,
    writer_lock,
)
from errbot_support.migrations import current_version, migrate
from errbot_support.records import (
    RATING_QUESTION,
    RATING_WINDOW,
    Conversation,
    CustomerMessage,
    Delivery,
    Entry,
    Kind,
    Pending,
    Recorded,
    Relay,
    State,
)
from errbot_support.tables import conversations, entries, tags

log = logging.getLogger(__name__)

ANY: Any = object()  # "whatever the agent is" in Store.change
replies = entries.alias("replies")
words = entries.alias("words")
RECORD_ATTEMPTS = 5

# The statements of a customer message's way in and out, built once: building a statement
# and its cache key cost more than running it, and each message runs these.
_DUPLICATE = select(entries).where(
    entries.c.source_room == bindparam("room"), entries.c.source_id == bindparam("source_id")
)
# A conversation's tags in the same statement ("a b c"; tags never hold spaces).
_TAG_LIST = (
    select(func.aggregate_strings(tags.c.tag, " "))
    .where(tags.c.conversation_id == conversations.c.id)
    .scalar_subquery()
    .label("tag_list")
)
_OPEN_IN_ROOM = select(conversations, _TAG_LIST).where(
    conversations.c.customer_room == bindparam("room"),
    conversations.c.state != State.RESOLVED.value,
)
_ENTRY = select(entries).where(entries.c.id == bindparam("entry_id"))
_LAST_IN_ROOM = (
    select(conversations)
    .where(conversations.c.customer_room == bindparam("room"))
    .order_by(conversations.c.id.desc())
    .limit(1)
)
_RATING_ASKED = select(entries.c.id).where(
    entries.c.conversation_id == bindparam("number"), entries.c.notice == RATING_QUESTION
)
_SET_RATING = (
    update(conversations)
    .where(conversations.c.id == bindparam("number"))
    .values(rating=bindparam("rating"))
)
_CONVERSATIONS = select(conversations).where(
    conversations.c.id.in_(bindparam("numbers", expanding=True))
)
_TAGS = (
    select(tags.c.conversation_id, tags.c.tag)
    .where(tags.c.conversation_id.in_(bindparam("numbers", expanding=True)))
    .order_by(tags.c.tag)
)
_UNRELAYED = (
    select(entries)
    .where(entries.c.relay == Relay.RECORDED.value, entries.c.id > bindparam("after"))
    .order_by(entries.c.id)
    .limit(bindparam("limit"))
)
# The same, but at most ``per`` of each conversation (its oldest): a customer's flood must not
# fill what a relay reads and hide the others' messages behind it.
_RANKED = select(
    entries,
    func.row_number()
    .over(partition_by=entries.c.conversation_id, order_by=entries.c.id)
    .label("rank"),
).where(entries.c.relay == Relay.RECORDED.value)
_RANKED_SUB = _RANKED.subquery()
_FIRST_UNRELAYED = (
    select(_RANKED_SUB)
    .where(_RANKED_SUB.c.rank <= bindparam("per"), _RANKED_SUB.c.id > bindparam("after"))
    .order_by(_RANKED_SUB.c.id)
    .limit(bindparam("limit"))
)
_MARK_RELAYED = (
    update(entries).where(entries.c.id == bindparam("entry_id")).values(relay=Relay.RELAYED.value)
)
_SET_ASIDE = (
    update(entries)
    .where(entries.c.id == bindparam("entry_id"), entries.c.relay == Relay.RECORDED.value)
    .values(relay=Relay.SET_ASIDE.value)
)


#: What may stand before the own name of a room or a customer id: the Bridge's network prefix
#: ("customers:"), the room of a room's occupant ("dana-support/").
OWN_NAME_AFTER = (":", "/")


def _like_escaped(text: str) -> str:
    """``text`` matched as written by ``LIKE ... ESCAPE '\\'``."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class ConflictError(Exception):
    """A change would break a rule the database enforces (e.g. two open conversations)."""


@dataclass(frozen=True)
class NewEntry:
    """A transcript entry to add; the store assigns its id."""

    kind: Kind
    body: str
    created_at: datetime
    author: str | None = None
    author_name: str | None = None
    delivery: Delivery | None = None
    notice: str | None = None


class Store:
    def __init__(self, url: str) -> None:
        self.engine = open_engine(url)
        self._writer = writer_lock(self.engine)
        try:
            migrate(self.engine)
            self._fold = case_folding(self.engine)
        except Exception:
            self.engine.dispose()
            raise

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """A write transaction, taking turns with this process's other writers."""
        with self._writer, self.engine.begin() as connection:
            yield connection

    def _reading(self) -> Connection:
        """A connection for reads: on SQLite they need no write lock (see database.py)."""
        return self.engine.connect().execution_options(**{READ_ONLY: True})

    # ----------------------------------------------------------------------------- reading

    def conversation(self, number: int) -> Conversation | None:
        with self._reading() as c:
            return self._conversation(c, number)

    def open_conversations(self) -> list[Conversation]:
        query = (
            select(conversations)
            .where(conversations.c.state != State.RESOLVED.value)
            .order_by(conversations.c.opened_at, conversations.c.id)
        )
        with self._reading() as c:
            return self._conversations(c, c.execute(query).all())

    def open_conversation_in(self, room: str) -> Conversation | None:
        with self._reading() as c:
            row = self._find_open(c, room)
            return _with_tag_list(row) if row else None

    def conversations_in_rooms(self, rooms: Iterable[str]) -> list[Conversation]:
        query = (
            select(conversations)
            .where(conversations.c.customer_room.in_(list(rooms)))
            .order_by(conversations.c.id)
        )
        with self._reading() as c:
            return self._conversations(c, c.execute(query).all())

    def customer_rooms(self, text: str) -> list[str]:
        """Rooms whose customer is ``text``: a room, a customer id or a display name (any
        case); a room or id also by its own name, without its network ("dana-support" for
        "customers:dana-support") or room ("dana" for "customers:dana-support/dana")."""
        fold = self._fold
        own_name = [f"%{separator}{_like_escaped(text)}" for separator in OWN_NAME_AFTER]
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
            select(conversations)
            .where(conversations.c.opened_at >= since)
            .order_by(conversations.c.id)
        )
        with self._reading() as c:
            return self._conversations(c, c.execute(query).all())

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

    def entries(self, number: int, offset: int = 0, limit: int | None = None) -> list[Entry]:
        query = (
            select(entries)
            .where(entries.c.conversation_id == number)
            .order_by(entries.c.id)
            .offset(offset)
            .limit(limit)
        )
        with self._reading() as c:
            return [_entry(row) for row in c.execute(query)]

    def count_entries(self, number: int) -> int:
        query = select(func.count()).where(entries.c.conversation_id == number)
        with self._reading() as c:
            return c.execute(query).scalar_one()

    def entry(self, entry_id: int) -> Entry | None:
        with self._reading() as c:
            row = c.execute(select(entries).where(entries.c.id == entry_id)).first()
            return _entry(row) if row else None

    def unrelayed(
        self, limit: int = 100, after: int = 0, per_conversation: int | None = None
    ) -> list[Pending]:
        """Recorded customer messages not yet shown to agents, oldest first, from the first
        one after entry ``after`` (to go past messages whose agent room cannot take them);
        with ``per_conversation``, only that many of each conversation, its oldest."""
        with self._reading() as c:
            if per_conversation is None:
                rows = c.execute(_UNRELAYED, {"limit": limit, "after": after}).all()
            else:
                values = {"limit": limit, "after": after, "per": per_conversation}
                rows = c.execute(_FIRST_UNRELAYED, values).all()
            by_number = self._by_number(c, {row.conversation_id for row in rows})
        return [Pending(_entry(row), by_number[row.conversation_id]) for row in rows]

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
            select(conversations, since.label("since"))
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
            found = self._conversations(c, rows)
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
                fold(entries.c.body).like(fold(literal(f"%{_like_escaped(text)}%")), escape="\\"),
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
            found = [_entry(row) for row in c.execute(query)]
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
            answers = [_entry(row) for row in c.execute(query)]
            by_number = self._by_number(c, {answer.conversation for answer in answers})
        return [(by_number[answer.conversation], answer) for answer in answers]

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
            return [_entry(row) for row in c.execute(query)]

    # ----------------------------------------------------------------------------- writing

    def record_customer_message(self, message: CustomerMessage) -> Recorded:
        """Record ``message`` in the room's open conversation, opening one if there is none.

        A message already recorded (same room and source id) is reported as a duplicate and
        nothing is written. On databases where two transactions can race past the lookups
        (PostgreSQL), the loser hits a unique index and simply looks again.
        """
        for attempt in range(1, RECORD_ATTEMPTS + 1):
            try:
                with self._writing() as c:
                    # A repeat is rare (a redelivery): the unique source id catches it, and
                    # only then is it looked up, on the next attempt.
                    return self._record(c, message, look_for_duplicate=attempt > 1)
            except IntegrityError:
                if attempt == RECORD_ATTEMPTS:
                    raise
                log.info("Message already recorded or concurrent write in %s.", message.room)
        raise AssertionError("unreachable")

    def _record(
        self, c: Connection, message: CustomerMessage, *, look_for_duplicate: bool
    ) -> Recorded:
        if look_for_duplicate and message.source_id is not None:
            duplicate = c.execute(
                _DUPLICATE, {"room": message.room, "source_id": message.source_id}
            ).first()
            if duplicate is not None:
                return Recorded(
                    conversation=self._conversation(c, duplicate.conversation_id),
                    entry=_entry(duplicate),
                    opened=False,
                    duplicate=True,
                )
        found = self._find_open(c, message.room)
        if found is None and message.rating is not None:
            rated = self._rate(c, message)
            if rated is not None:
                return rated
        if found is None:
            number = c.execute(
                insert(conversations),
                {
                    "customer_room": message.room,
                    "customer_id": message.customer_id,
                    "customer_name": message.customer_name,
                    "state": State.WAITING.value,
                    "opened_at": message.sent_at,
                    "agent_room": message.agent_room,
                    "customer_details": message.customer_details or None,
                },
            ).inserted_primary_key[0]
        else:
            number = found.id
        row = self._inserted_entry(
            c, _customer_entry(message, number, Kind.CUSTOMER, opens_conversation=found is None)
        )
        conversation = _with_tag_list(found) if found is not None else self._conversation(c, number)
        return Recorded(
            conversation=conversation, entry=_entry(row), opened=found is None, duplicate=False
        )

    def _rate(self, c: Connection, message: CustomerMessage) -> Recorded | None:
        """Record ``message`` as the rating of the room's last conversation, if that one was
        resolved less than ``RATING_WINDOW`` ago, was asked for a rating and has none yet."""
        last = c.execute(_LAST_IN_ROOM, {"room": message.room}).first()
        if (
            last is None
            or last.state != State.RESOLVED.value
            or last.rating is not None
            or last.resolved_at is None
            or message.sent_at - last.resolved_at > RATING_WINDOW
            or c.execute(_RATING_ASKED, {"number": last.id}).first() is None
        ):
            return None
        c.execute(_SET_RATING, {"number": last.id, "rating": message.rating})
        row = self._inserted_entry(c, _customer_entry(message, last.id, Kind.RATING))
        return Recorded(
            conversation=self._conversation(c, last.id),
            entry=_entry(row),
            opened=False,
            duplicate=False,
        )

    @staticmethod
    def _inserted_entry(c: Connection, values: dict[str, Any]) -> Row:
        """Insert an entry and read it back (in the same statement where the database can)."""
        if c.dialect.insert_returning:
            return c.execute(insert(entries).returning(*entries.c), values).one()
        entry_id = c.execute(insert(entries), values).inserted_primary_key[0]
        return c.execute(_ENTRY, {"entry_id": entry_id}).one()

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
            return _entry(c.execute(select(entries).where(entries.c.id == entry_id)).one())

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
            self._writer,
            self.engine.connect() as c,
            without_waiting_for_the_disk(c),
            c.begin(),
        ):
            c.execute(_MARK_RELAYED, [{"entry_id": entry_id} for entry_id in entry_ids])

    def set_aside(self, entry_id: int) -> None:
        """The agent room's network refused this message: it no longer waits for it."""
        with self._writing() as c:
            c.execute(_SET_ASIDE, {"entry_id": entry_id})

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

    # ----------------------------------------------------------------------------- helpers

    def _find_open(self, c: Connection, room: str) -> Row | None:
        return c.execute(_OPEN_IN_ROOM, {"room": room}).first()

    @staticmethod
    def _insert_entry(c: Connection, number: int, new: NewEntry) -> int:
        return c.execute(
            insert(entries).values(
                conversation_id=number,
                kind=new.kind.value,
                author=new.author,
                author_name=new.author_name,
                body=new.body,
                created_at=new.created_at,
                delivery=new.delivery.value if new.delivery else None,
                notice=new.notice,
            )
        ).inserted_primary_key[0]

    @staticmethod
    def _rows_by_id(c: Connection, numbers: Iterable[int]) -> list[Row]:
        wanted = list(numbers)
        if not wanted:
            return []
        return c.execute(_CONVERSATIONS, {"numbers": wanted}).all()

    def _conversation(self, c: Connection, number: int) -> Conversation | None:
        found = self._conversations(c, self._rows_by_id(c, [number]))
        return found[0] if found else None

    def _by_number(self, c: Connection, numbers: Iterable[int]) -> dict[int, Conversation]:
        """These conversations, by number (each read once)."""
        found = self._conversations(c, self._rows_by_id(c, numbers))
        return {conversation.number: conversation for conversation in found}

    @staticmethod
    def _conversations(c: Connection, rows: list[Row]) -> list[Conversation]:
        numbers = [row.id for row in rows]
        by_number: dict[int, list[str]] = {n: [] for n in numbers}
        if numbers:
            for number, tag in c.execute(_TAGS, {"numbers": numbers}):
                by_number[number].append(tag)
        return [_conversation(row, sorted(by_number[row.id])) for row in rows]


def _customer_entry(
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


def _conversation(row: Row, tags: Iterable[str]) -> Conversation:
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
        tags=tuple(tags),
        rating=row.rating,
        agent_room=row.agent_room,
        customer_details=dict(row.customer_details or {}),
        thread_key=row.thread_key,
    )


def _with_tag_list(row: Row) -> Conversation:
    """A conversation read with its ``_TAG_LIST``, tags in order as ``_TAGS`` gives them."""
    return _conversation(row, sorted((row.tag_list or "").split()))


def _entry(row: Row) -> Entry:
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
