"""The conversation state machine: waiting -> assigned -> resolved, and back.

Plain Python over the store, with no Errbot in sight, so every rule is testable without a
bot. The desk decides what is allowed and raises a ``SupportError`` saying why not; the
store makes each decision stick atomically.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from errbot_support.errors import (
    AlreadyAssigned,
    AlreadyClaimed,
    AlreadyYours,
    BadTag,
    ChangedMeanwhile,
    ConversationResolved,
    NoSuchPage,
    NotAssigned,
    NotResolved,
    NotYours,
    OpenElsewhere,
    SearchTooShort,
    UnknownConversation,
    UnknownCustomer,
)
from errbot_support.figures import Stats, figures
from errbot_support.records import (
    Agent,
    Conversation,
    CustomerMessage,
    Delivery,
    Entry,
    Kind,
    Pending,
    Recorded,
    State,
)
from errbot_support.relayed_marks import RelayedMarks
from errbot_support.store import ConflictError, NewEntry, Store

TAG = re.compile(r"^[\w-]{1,32}$")
RATING = re.compile(r"^\s*([1-5])\s*(?:/\s*5)?\s*[.!]?\s*$")
OPEN = (State.WAITING, State.ASSIGNED)
LARGEST_NUMBER = 2**31 - 1  # conversation numbers are INTEGER columns
MIN_SEARCH = 3  # characters: shorter texts are in nearly every conversation
SEARCHED = (Kind.CUSTOMER, Kind.REPLY, Kind.NOTE)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def rating_in(text: str | None) -> int | None:
    """The rating a customer's message gives, if it is nothing but one: "4", "4/5", "5!"."""
    found = RATING.match(text or "")
    return int(found.group(1)) if found else None


@dataclass(frozen=True)
class TranscriptPage:
    conversation: Conversation
    entries: list[Entry]
    page: int
    pages: int


class Desk:
    def __init__(
        self, store: Store, clock: Callable[[], datetime] = utc_now, *, sender: str | None = None
    ) -> None:
        self.store = store
        self.clock = clock
        self.sender = sender  # this instance, named on what it sends (several bots)
        self._marks = RelayedMarks(lambda entry_ids: store.mark_relayed(*entry_ids))

    def close(self) -> None:
        """Write the marks still queued, then let go of the database."""
        self._marks.close()
        self.store.close()

    # ----------------------------------------------------------------------- customers

    def receive(self, message: CustomerMessage) -> Recorded:
        """Record a customer's message durably (idempotent for a known source id)."""
        return self.store.record_customer_message(message)

    def unrelayed(
        self,
        limit: int = 100,
        after: int = 0,
        per_conversation: int | None = None,
        *,
        flush: bool = True,
    ) -> list[Pending]:
        """What waits for the agents (from the first entry after ``after``; only the oldest
        ``per_conversation`` of each if given); never a message relayed whose mark is still
        queued, unless ``flush`` is False (for a caller that knows those messages)."""
        if flush:
            self._marks.flush()
        return self.store.unrelayed(limit, after, per_conversation)

    def thread_started(self, number: int, key: str) -> None:
        """Conversation ``number``'s messages go in the agent-room thread ``key`` from now on."""
        self.store.set_thread_key(number, key)

    def thread_of(self, number: int) -> str | None:
        conversation = self.store.conversation(number)
        return conversation.thread_key if conversation else None

    def conversation_in_thread(self, key: str) -> int | None:
        return self.store.conversation_in_thread(key)

    def latest_in_room(self, room: str) -> Conversation | None:
        """The customer chat ``room``'s latest conversation, open or not."""
        found = self.store.conversations_in_rooms([room])
        return found[-1] if found else None

    def schema_version(self) -> int | None:
        return self.store.schema_version()

    def count_unrelayed(self) -> int:
        """How many customer messages wait for their agent room (queued marks written first)."""
        self._marks.flush()
        return self.store.count_unrelayed()

    def mark_relayed(self, *relayed: Entry) -> None:
        """Agents have seen these: marked within ``MARK_INTERVAL`` (see relayed_marks)."""
        self._marks.add([entry.id for entry in relayed])

    def set_aside(self, entry: Entry) -> None:
        """Its agent room's network refused ``entry`` even cut small: the transcript keeps
        it, and it waits no longer (queued marks written first, so none lands on it later)."""
        self._marks.flush()
        self.store.set_aside(entry.id)

    # ----------------------------------------------------------------------- agents

    def get(self, number: int) -> Conversation:
        if not 1 <= number <= LARGEST_NUMBER:  # the database could not even look it up
            raise UnknownConversation(number)
        conversation = self.store.conversation(number)
        if conversation is None:
            raise UnknownConversation(number)
        return conversation

    def claim(self, number: int, agent: Agent) -> Conversation:
        """Take a waiting conversation; of two agents claiming at once, exactly one wins."""
        conversation = self._open(number)
        if conversation.state is State.ASSIGNED:
            raise _claimed(conversation, agent)
        claimed = self.store.change(
            number,
            states=[State.WAITING],
            values={"state": State.ASSIGNED.value, "agent": agent.key, "agent_name": agent.name},
            event=self._event(agent, f"{agent.name} claimed the conversation"),
        )
        if claimed is None:  # someone else was faster, or it was resolved meanwhile
            raise _claimed(self._open(number), agent)
        return claimed

    def release(self, number: int, agent: Agent) -> Conversation:
        """Hand a conversation back to the queue."""
        conversation = self._open(number)
        if conversation.state is State.WAITING:
            raise NotAssigned(conversation)
        self._require_owner(conversation, agent)
        released = self.store.change(
            number,
            states=[State.ASSIGNED],
            agent=conversation.agent,
            values={"state": State.WAITING.value, "agent": None, "agent_name": None},
            event=self._event(agent, f"{agent.name} released the conversation"),
        )
        if released is None:
            raise ChangedMeanwhile(number)
        return released

    def transfer(self, number: int, agent: Agent, to: Agent) -> Conversation:
        """Give a conversation to ``to``; any agent may, so nobody's absence blocks one."""
        conversation = self._open(number)
        if to.is_(conversation.agent):
            raise AlreadyYours(conversation) if agent.is_(to.key) else AlreadyAssigned(conversation)
        previous = conversation.agent_name or "the queue"
        transferred = self.store.change(
            number,
            states=[conversation.state],
            agent=conversation.agent,
            values={"state": State.ASSIGNED.value, "agent": to.key, "agent_name": to.name},
            event=self._event(agent, f"{agent.name} transferred it from {previous} to {to.name}"),
        )
        if transferred is None:
            raise ChangedMeanwhile(number)
        return transferred

    def move(self, number: int, agent: Agent, room: str | None, room_label: str) -> Conversation:
        """Send an open conversation to another agent room (``room`` as stored, None for the
        main one), where it waits in the queue for one of that team to claim it."""
        conversation = self._open(number)
        moved = self.store.change(
            number,
            states=[conversation.state],
            agent=conversation.agent,
            values={
                "agent_room": room,
                "state": State.WAITING.value,
                "agent": None,
                "agent_name": None,
            },
            event=self._event(agent, f"{agent.name} moved it to {room_label}"),
        )
        if moved is None:
            raise ChangedMeanwhile(number)
        return moved

    def resolve(self, number: int, agent: Agent) -> Conversation:
        conversation = self._open(number)
        if conversation.state is State.ASSIGNED:
            self._require_owner(conversation, agent)
        resolved = self.store.change(
            number,
            states=[conversation.state],
            agent=conversation.agent,
            values={
                "state": State.RESOLVED.value,
                "agent": agent.key,
                "agent_name": agent.name,
                "resolved_at": self.clock(),
            },
            event=self._event(agent, f"{agent.name} resolved the conversation"),
        )
        if resolved is None:
            raise ChangedMeanwhile(number)
        return resolved

    def answered_then_silent(self, longer_than: timedelta) -> list[tuple[Conversation, Entry]]:
        """Assigned conversations whose customer has said nothing for ``longer_than`` since an
        agent's reply (the last word), each with that reply."""
        return self.store.answered_then_silent(self.clock() - longer_than)

    def resolve_silent(self, conversation: Conversation, reply: Entry) -> Conversation | None:
        """Resolve a conversation whose customer went silent after ``reply``, on its agent's
        behalf; None if it changed meanwhile (the customer wrote, someone else took it)."""
        return self.store.change(
            conversation.number,
            states=[State.ASSIGNED],
            agent=conversation.agent,
            values={"state": State.RESOLVED.value, "resolved_at": self.clock()},
            event=NewEntry(
                kind=Kind.EVENT,
                body="resolved automatically: no word from the customer after the last reply",
                created_at=self.clock(),
            ),
            silent_since=reply.id,
        )

    def reopen(self, number: int, agent: Agent) -> Conversation:
        """Bring a resolved conversation back, assigned to whoever reopens it."""
        conversation = self.get(number)
        if conversation.is_open:
            raise NotResolved(conversation)
        other = self.store.open_conversation_in(conversation.customer_room)
        if other is not None:
            raise OpenElsewhere(conversation, other)
        try:
            reopened = self.store.change(
                number,
                states=[State.RESOLVED],
                values={
                    "state": State.ASSIGNED.value,
                    "agent": agent.key,
                    "agent_name": agent.name,
                    "resolved_at": None,
                },
                event=self._event(agent, f"{agent.name} reopened the conversation"),
            )
        except ConflictError:  # the customer wrote again at this very moment
            raise OpenElsewhere(
                conversation, self.store.open_conversation_in(conversation.customer_room)
            ) from None
        if reopened is None:
            raise ChangedMeanwhile(number)
        return reopened

    def begin_reply(self, number: int, agent: Agent, text: str) -> tuple[Conversation, Entry]:
        """Record a reply as pending delivery; a waiting conversation is claimed by replying."""
        conversation = self._open(number)
        if conversation.state is State.WAITING:
            try:
                conversation = self.claim(number, agent)
            except AlreadyYours:
                conversation = self.get(number)
        self._require_owner(conversation, agent)
        entry = self.store.add_entry(
            number,
            NewEntry(
                kind=Kind.REPLY,
                body=text,
                created_at=self.clock(),
                author=agent.key,
                author_name=agent.name,
                delivery=Delivery.PENDING,
                sender=self.sender,
            ),
            first_reply=True,
            states=[State.ASSIGNED],
            agent=conversation.agent,
        )
        if entry is None:  # resolved or handed over since it was read
            self._require_owner(self._open(number), agent)
            raise ChangedMeanwhile(number)
        return conversation, entry

    def begin_notice(self, number: int, text: str, notice: str) -> Entry:
        """Record an automatic text to the customer (acknowledgement, resolution) as pending."""
        return self.store.add_entry(
            number,
            NewEntry(
                kind=Kind.NOTICE,
                body=text,
                created_at=self.clock(),
                delivery=Delivery.PENDING,
                notice=notice,
                sender=self.sender,
            ),
        )

    def delivered(self, entry: Entry) -> None:
        self.store.set_delivery(entry.id, Delivery.DELIVERED)

    def undelivered(self, entry: Entry, error: str) -> None:
        self.store.set_delivery(entry.id, Delivery.UNDELIVERED, error)

    def abandon_pending_deliveries(self, reason: str, alive_within: float) -> list[Entry]:
        """Mark replies whose sending was cut short (by a stop) undelivered, and return them.

        Sending is synchronous, so at start-up anything still pending was interrupted: it may
        or may not have reached the customer, and an agent must decide whether to resend. With
        several bots (PostgreSQL), only what the dead ones were sending: one heard from within
        ``alive_within`` seconds is sending its own right now.
        """
        return self.store.abandon_pending(reason, alive_within)

    def note(self, number: int, agent: Agent, text: str) -> Entry:
        """An internal note: stored in the transcript, never sent to the customer."""
        self.get(number)
        return self.store.add_entry(
            number,
            NewEntry(
                kind=Kind.NOTE,
                body=text,
                created_at=self.clock(),
                author=agent.key,
                author_name=agent.name,
            ),
        )

    def tag(self, number: int, agent: Agent, names: Iterable[str]) -> tuple[Conversation, list]:
        wanted = _tags(names)
        self.get(number)
        added = self.store.add_tags(number, wanted)
        if added:
            self.store.add_entry(number, self._event(agent, f"{agent.name} tagged {_hash(added)}"))
        return self.get(number), added

    def untag(self, number: int, agent: Agent, names: Iterable[str]) -> tuple[Conversation, list]:
        wanted = _tags(names)
        self.get(number)
        removed = self.store.remove_tags(number, wanted)
        if removed:
            self.store.add_entry(
                number, self._event(agent, f"{agent.name} removed tag(s) {_hash(removed)}")
            )
        return self.get(number), removed

    # ----------------------------------------------------------------------- views

    def queue(self) -> list[Conversation]:
        """Open conversations: waiting ones first, each group oldest first."""
        found = self.store.open_conversations()
        return sorted(found, key=lambda c: (c.state is not State.WAITING, c.opened_at, c.number))

    def transcript(self, number: int, page: int, page_size: int) -> TranscriptPage:
        """Page ``page`` (1 = oldest; 0 or less counts from the end: 0 = latest)."""
        conversation = self.get(number)
        total = self.store.count_entries(number)
        pages = max(1, math.ceil(total / page_size))
        index = page if page > 0 else pages + page
        if not 1 <= index <= pages:
            raise NoSuchPage(number, page, pages)
        found = self.store.entries(number, offset=(index - 1) * page_size, limit=page_size)
        return TranscriptPage(conversation, found, index, pages)

    def awaiting_answer(self, longer_than: timedelta) -> list[tuple[Conversation, datetime]]:
        """Open conversations whose customer has waited ``longer_than`` for an answer, with
        since when (their first message after the last reply), longest waiting first."""
        return self.store.awaiting_answer(self.clock() - longer_than)

    def search(self, text: str, limit: int) -> list[tuple[Conversation, Entry]]:
        """Conversations in which ``text`` was written (by the customer, in a reply or in a
        note), most recent first, each with the latest entry that says it."""
        wanted = " ".join(text.split())
        if len(wanted) < MIN_SEARCH:
            raise SearchTooShort(MIN_SEARCH)
        return self.store.search(wanted, SEARCHED, limit)

    def customer_history(self, customer: str | int) -> list[Conversation]:
        """Every conversation of a customer, given a conversation number or who they are."""
        if isinstance(customer, int):
            rooms = [self.get(customer).customer_room]
        else:
            rooms = self.store.customer_rooms(customer)
            if not rooms:
                raise UnknownCustomer(customer)
        return self.store.conversations_in_rooms(rooms)

    def stats(self, since: datetime, rooms: Callable[[str | None], bool] | None = None) -> Stats:
        """Figures since ``since``; only of the conversations whose stored agent room ``rooms``
        accepts, if given (one team's)."""
        opened = self.store.conversations_opened_since(since)
        open_now = self.store.open_conversations()
        if rooms is not None:
            opened = [c for c in opened if rooms(c.agent_room)]
            open_now = [c for c in open_now if rooms(c.agent_room)]
        return figures(since, opened, open_now, self.store.count_by_state(rooms))

    # ----------------------------------------------------------------------- helpers

    def _open(self, number: int) -> Conversation:
        conversation = self.get(number)
        if not conversation.is_open:
            raise ConversationResolved(conversation)
        return conversation

    @staticmethod
    def _require_owner(conversation: Conversation, agent: Agent) -> None:
        if not agent.is_(conversation.agent):
            raise NotYours(conversation)

    def _event(self, agent: Agent, text: str) -> NewEntry:
        return NewEntry(
            kind=Kind.EVENT,
            body=text,
            created_at=self.clock(),
            author=agent.key,
            author_name=agent.name,
        )


def _claimed(conversation: Conversation, agent: Agent) -> Exception:
    if not conversation.is_open:
        return ConversationResolved(conversation)
    if agent.is_(conversation.agent):
        return AlreadyYours(conversation)
    return AlreadyClaimed(conversation)


def _tags(names: Iterable[str]) -> list[str]:
    cleaned = [name.lstrip("#").casefold() for name in names]
    for name in cleaned:
        if not TAG.match(name):
            raise BadTag(name)
    return list(dict.fromkeys(cleaned))


def _hash(names: Iterable[str]) -> str:
    return " ".join(f"#{n}" for n in names)
