"""What the agents' commands do: the desk's decision, the customer told, the conversation's
agent room told, and the answer to the agent who asked.

Refusals are raised: the desk's ``SupportError`` (the plugin words it for the network), or
Errbot's ``CommandError``. Arguments come parsed (see ``errbot_support.usage``).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from errbot.backends.base import Message
from errbot.botplugin import CommandError

from errbot_support import formatting
from errbot_support.access import Access
from errbot_support.agent_posts import AgentPosts
from errbot_support.canned import expand as expand_canned
from errbot_support.desk import Desk
from errbot_support.errors import SupportError
from errbot_support.formatting import name
from errbot_support.identities import one_window
from errbot_support.literal import span
from errbot_support.records import Conversation
from errbot_support.relays import AgentRoomRelays
from errbot_support.routing import AgentRooms
from errbot_support.settings import CustomerTexts, Settings
from errbot_support.to_customers import CustomerDelivery
from errbot_support.usage import usage_error

log = logging.getLogger(__name__)

SEARCH_RESULTS = 10


class AgentActions:
    def __init__(
        self,
        desk: Desk,
        access: Access,
        rooms: AgentRooms,
        *,
        posts: AgentPosts,
        customers: CustomerDelivery,
        relays: AgentRoomRelays,
        settings: Settings,
        prefix: str,
        database: str,
    ) -> None:
        self._desk = desk
        self._access = access
        self._rooms = rooms
        self._posts = posts
        self._customers = customers
        self._relays = relays
        self._settings = settings
        self._prefix = prefix
        self._database = database  # its URL without the password, as shown

    # ------------------------------------------------------------------ conversations

    def claim(self, msg: Message, number: int) -> str:
        desk, agent = self._desk, self._access.agent(msg)
        conversation = desk.claim(number, agent)
        self._echo(msg, conversation, f"**#{number}** claimed by {name(agent.name)}.")
        claimed_notice = self._texts(conversation).claimed_notice
        if claimed_notice:
            self._customers.notify(conversation, claimed_notice.format(agent=agent.name), "claimed")
        page = desk.transcript(number, 0, self._settings.page_size)
        return formatting.transcript(
            page,
            self._prefix,
            heading=(
                f"**#{number}** is yours, {name(agent.name)}. "
                f"{name(conversation.customer_name)} {formatting.where(conversation)} so far:"
            ),
        )

    def reply(self, msg: Message, number: int, text: str) -> str | None:
        desk, agent = self._desk, self._access.agent(msg)
        before = desk.get(number)
        text = expand_canned(
            text, self._settings.canned_replies, customer=before.customer_name, agent=agent.name
        )
        conversation, entry = desk.begin_reply(number, agent, text)
        delivered = (
            self._customers.deliver(conversation, entry, author=agent.name, kind=None) is None
        )
        if delivered:
            self._echo(
                msg,
                conversation,
                formatting.agent_said(
                    number,
                    f"{name(agent.name)} to {name(conversation.customer_name)}: ",
                    agent.name,
                    text,
                ),
                answered=False,  # what the customer read is said nowhere else
            )
        if delivered and before.agent is None:
            return f"**#{number}** is now yours, {name(agent.name)}."
        if not delivered and not self._access.in_agent_room(msg):
            return f"**#{number}**: your reply was NOT delivered; its agent room has the details."
        return None

    def note(self, msg: Message, number: int, text: str) -> str:
        agent = self._access.agent(msg)
        self._desk.note(number, agent, text)
        self._echo(
            msg,
            self._desk.get(number),
            formatting.agent_said(number, f"[note] {name(agent.name)}: ", agent.name, text),
        )
        return f"**#{number}**: note saved (agents only)."

    def resolve(self, msg: Message, number: int) -> str:
        agent = self._access.agent(msg)
        conversation = self._desk.resolve(number, agent)
        self._customers.notify_resolved(conversation, self._texts(conversation))
        took = formatting.duration(conversation.resolved_at - conversation.opened_at)
        said = f"**#{number}** resolved by {name(agent.name)} after {took}."
        self._echo(msg, conversation, said)
        return said

    def release(self, msg: Message, number: int) -> str:
        agent = self._access.agent(msg)
        conversation = self._desk.release(number, agent)
        postponed_notice = self._texts(conversation).postponed_notice
        if postponed_notice:
            self._customers.notify(conversation, postponed_notice, "postponed")
        said = f"**#{number}** is back in the queue: `{self._prefix}claim {number}` to take it."
        self._echo(msg, conversation, f"{said} (released by {name(agent.name)})")
        return said

    def transfer(self, msg: Message, number: int, target: str) -> str:
        agent = self._access.agent(msg)
        to = self._access.named_agent(target, agent)
        conversation = self._desk.transfer(number, agent, to)
        said = f"**#{number}** is now {name(to.name)}'s (given by {name(agent.name)})."
        self._echo(msg, conversation, said)
        return said

    def move(self, msg: Message, number: int, target: str, usage: str) -> str:
        desk, rooms = self._desk, self._rooms
        to = rooms.find(target)
        if to is None:
            raise usage_error(
                self._prefix,
                usage,
                f"'{span(target)}' is not an agent room; the rooms: {', '.join(rooms.names())}.",
            )
        before = desk.get(number)
        if rooms.of(before) == to:
            raise CommandError(f"**#{number}** is already served in {to}.")
        agent = self._access.agent(msg)
        moved = desk.move(number, agent, to.name, str(to))
        self._echo(msg, before, f"**#{number}** moved to {to} by {name(agent.name)}.")
        page = desk.transcript(number, 0, self._settings.page_size)
        heading = (
            f"**#{number}** moved here from {rooms.of(before)} by {name(agent.name)}: "
            f"{name(moved.customer_name)} ({span(moved.customer_room)}), waiting. "
            f"Type `{self._prefix}claim {number}` to take it. So far:"
        )
        try:
            self._posts.post(
                to.room,
                formatting.transcript(page, self._prefix, heading=heading),
                number,
                starts_thread=True,
            )
        except Exception as exc:
            log.warning("Could not show #%d in %s: %s", number, to, exc)
            return (
                f"**#{number}** now waits in {to}, but that room could not be told ({exc}): "
                f"its agents see it in `{self._prefix}queue`."
            )
        return f"**#{number}** now waits in {to} for one of its agents."

    def reopen(self, msg: Message, number: int) -> str:
        agent = self._access.agent(msg)
        conversation = self._desk.reopen(number, agent)
        self._echo(msg, conversation, f"**#{number}** reopened by {name(agent.name)}.")
        return f"**#{number}** is open again and yours, {name(agent.name)}."

    def tag(self, msg: Message, number: int, names: list[str]) -> str:
        conversation, added = self._desk.tag(number, self._access.agent(msg), names)
        return _tags_of(conversation) + ("" if added else " (nothing new)")

    def untag(self, msg: Message, number: int, names: list[str]) -> str:
        conversation, removed = self._desk.untag(number, self._access.agent(msg), names)
        return _tags_of(conversation) + ("" if removed else " (it had none of those)")

    def reply_in_thread(self, msg: Message, number: int) -> None:
        """An agent wrote in conversation ``number``'s thread: a reply to its customer."""
        try:
            said = self.reply(msg, number, msg.body)
        except SupportError as refused:
            said = refused.text(self._prefix)
        except CommandError as refused:
            said = str(refused)
        if said:
            self._posts.post(msg.to, said, number)

    # ------------------------------------------------------------------ views

    def queue(self, msg: Message, wanted: str) -> str:
        """``wanted``: "" (this room's, or all), "all" or "mine"."""
        desk, rooms, prefix = self._desk, self._rooms, self._prefix
        found, here = desk.queue(), self._access.agent_room_of(msg)
        if wanted == "mine":
            agent = self._access.agent(msg)
            return formatting.agents_queue(
                [c for c in found if agent.is_(c.agent)],
                desk.clock(),
                room_of=(lambda c: str(rooms.of(c))) if rooms.several else None,
            )
        if not rooms.several:
            return formatting.queue(found, prefix, desk.clock())
        if here is not None and wanted != "all":
            return formatting.queue(
                [c for c in found if rooms.of(c) == here],
                prefix,
                desk.clock(),
                where=f"in {here}",
                more=f"`{prefix}queue all` lists every agent room's.",
            )
        return formatting.queue(found, prefix, desk.clock(), room_of=lambda c: str(rooms.of(c)))

    def transcript(self, number: int, page: int) -> str:
        found = self._desk.transcript(number, page, self._settings.page_size)
        return formatting.transcript(found, self._prefix)

    def customer(self, key: str | int) -> str:
        return formatting.history(self._desk.customer_history(key))

    def search(self, wanted: str) -> str:
        found = self._desk.search(wanted, SEARCH_RESULTS)
        return formatting.search(found, wanted, SEARCH_RESULTS, self._prefix)

    def status(self) -> str:
        desk, settings = self._desk, self._settings
        down = self._relays.unreachable()
        hours = settings.business_hours
        return formatting.status(
            rooms=[(str(room), room not in down) for room in self._rooms.all],
            database=self._database,
            schema=desk.schema_version(),
            unrelayed=desk.count_unrelayed(),
            queue=desk.queue(),
            reminder_after=settings.reminder_after,
            auto_resolve_after=settings.auto_resolve_after,
            open_now=None if hours is None else hours.open_at(desk.clock()),
        )

    def canned(self) -> str:
        replies = self._settings.canned_replies
        if not replies:
            return "No canned replies: set them in SUPPORT_CANNED_REPLIES."
        lines = [f"{len(replies)} canned repl{'y' if len(replies) == 1 else 'ies'}:"]
        lines += [f"`:{name}` {text}" for name, text in sorted(replies.items())]
        lines.append(f"Send one with `{self._prefix}reply <number> :<name>`.")
        return "\n".join(lines)

    def stats(self, msg: Message, days: int | None, *, everywhere: bool) -> str:
        desk, rooms = self._desk, self._rooms
        days = days or self._settings.stats_days
        since = desk.clock() - timedelta(days=days)
        here = self._access.agent_room_of(msg)
        if rooms.several and here is not None and not everywhere:
            # One team's own figures, in its room.
            summary = desk.stats(since, rooms=lambda name: rooms.named(name) == here)
            more = f"`{self._prefix}stats all` covers every agent room."
            return formatting.stats(summary, days, scope=str(here)) + "\n" + more
        said = formatting.stats(desk.stats(since), days)
        if rooms.several:
            open_now = desk.queue()
            said += "\n" + formatting.rooms_load(
                [(str(room), [c for c in open_now if rooms.of(c) == room]) for room in rooms.all]
            )
        return said

    # ------------------------------------------------------------------ helpers

    def _texts(self, conversation: Conversation) -> CustomerTexts:
        """What this conversation's customer is sent automatically: its agent room's texts."""
        return self._rooms.of(conversation).texts

    def _echo(
        self, msg: Message, conversation: Conversation, text: str, *, answered: bool = True
    ) -> None:
        """Say in the conversation's agent room what an agent did elsewhere (a direct message,
        another team's room), so that the room always shows where its conversations stand.

        Where the agent's direct chat and the room are one window (a terminal), the command's
        answer already says it there, unless the command answers nothing (``answered``)."""
        room = self._rooms.of(conversation)
        if self._access.agent_room_of(msg) == room or (answered and one_window(msg.frm, room.room)):
            return  # the room saw the command and its answer
        try:
            self._posts.about(conversation, text)
        except Exception as exc:  # the command was done; the room hears of it in !queue
            log.warning("Could not tell #%d's agent room: %s", conversation.number, exc)


def _tags_of(conversation: Conversation) -> str:
    tagged = span(", ".join(conversation.tags)) if conversation.tags else "none"
    return f"**#{conversation.number}** tags: {tagged}"
