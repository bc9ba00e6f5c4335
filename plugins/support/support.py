"""The Support plugin: customer conversations relayed to agent rooms, run by commands.

This module is thin on purpose: it turns chat messages into desk operations and desk results
into chat messages. The rules live in ``errbot_support.desk``, the data in
``errbot_support.store``, customer messages taken in in ``errbot_support.intake`` and their way
to the agents in ``errbot_support.relay`` (which room serves whom in
``errbot_support.routing``, every post to an agent room in ``errbot_support.agent_posts``), the
way of answers to customers in ``errbot_support.to_customers``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from errbot import BotPlugin, botcmd, cmdfilter
from errbot.backends.base import Identifier, Message, Room, RoomOccupant
from errbot.botplugin import CommandError
from sqlalchemy.exc import SQLAlchemyError

from errbot_instances.sole import AlreadyServed, SoleInstance
from errbot_support import activation_log, formatting
from errbot_support.agent_posts import AgentPosts
from errbot_support.canned import expand as expand_canned
from errbot_support.desk import Desk
from errbot_support.errors import SupportError
from errbot_support.formatting import name
from errbot_support.identities import (
    agent_of,
    display_name,
    matches_any,
    network_of,
    one_window,
    weak_identity_warning,
)
from errbot_support.intake import Intake
from errbot_support.intruders import intrusion
from errbot_support.intruders import report as intruder_report
from errbot_support.literal import span, unmarked
from errbot_support.migrations import SchemaError
from errbot_support.records import (
    RATING_QUESTION,
    Agent,
    Conversation,
    Entry,
)
from errbot_support.relays import AgentRoomRelays
from errbot_support.reminders import Reminders
from errbot_support.rendering import dialect_of, render
from errbot_support.routing import AgentRoom, AgentRooms, agent_rooms
from errbot_support.settings import (
    NOT_CONFIGURED,
    CustomerTexts,
    Settings,
    SettingsError,
    in_use,
    read_settings,
)
from errbot_support.store import Store
from errbot_support.threads import ConversationThreads
from errbot_support.to_customers import RESTART_REASON, CustomerDelivery

SELF_WORDS = ("me", "myself")
MAX_STATS_DAYS = 36500
SEARCH_RESULTS = 10
REMINDER_CHECKS = 4  # looks for waiting customers per SUPPORT_REMINDER_MINUTES
MAX_REMINDER_CHECK_INTERVAL = 60.0
SILENCE_CHECKS = 4  # looks for silent customers per SUPPORT_AUTO_RESOLVE_HOURS
MAX_SILENCE_CHECK_INTERVAL = 600.0
#: Text in an agent's direct chat that is no command: said at most this often per agent.
STRAY_TEXT_HINT_INTERVAL = 600.0


def shown_for_sender(command: Callable) -> Callable:
    """A command's answer (or refusal) rendered for the network it goes back to."""

    @functools.wraps(command)
    def answer(self: Support, msg: Message, args: Any) -> Any:
        try:
            said = command(self, msg, args)
        except CommandError as refused:
            raise CommandError(self._shown(msg, refused.reason)) from None
        return self._shown(msg, said) if isinstance(said, str) else said

    return answer


activation_log.install()


class Support(BotPlugin):
    """Customer conversations in an agent room: claim, reply, note, resolve and more."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._settings: Settings | None = None
        self._desk: Desk | None = None
        self._rooms: AgentRooms | None = None
        self._relay: AgentRoomRelays | None = None
        self._posts: AgentPosts | None = None
        self._intake: Intake | None = None
        self._threads = ConversationThreads()
        self._interrupted: list[Entry] = []
        self._reminders: Reminders | None = None
        self._sole: SoleInstance | None = None  # this bot's claim on an SQLite database
        self._hinted: dict[str, float] = {}  # agent -> when their stray text was last answered
        self._customers = CustomerDelivery(
            lambda: self._desk, self._send_customer, self._tell_agents_about, self._prefix()
        )

    # ------------------------------------------------------------------ lifecycle

    def activate(self) -> None:
        if not in_use(self.bot_config):
            # Active all the same, so that its commands say what to set instead of nothing.
            self._settings = None
            self.log.info("Support is not in use on this bot: no SUPPORT_AGENT_ROOM is set.")
            super().activate()
            return
        try:
            settings = read_settings(self.bot_config)
            self._rooms = agent_rooms(settings, self.query_room, self._bridge_networks())
            self._sole = SoleInstance.hold(settings.db_url)
            store = self._open_store(settings)
        except (SettingsError, AlreadyServed) as problem:
            if self._sole is not None:  # the store could not be opened: let the database go
                self._sole.release()
            self.log.error("Support is not active: %s", problem)
            if isinstance(problem, AlreadyServed):  # logged as a setting to fix, in one line
                raise SettingsError(str(problem)) from None
            raise
        self._settings = settings
        self._desk = Desk(store)
        self._threads = ConversationThreads(self._desk)
        self._posts = AgentPosts(self._bot, self._threads, use_threads=settings.threads)
        self._relay = AgentRoomRelays(
            self._rooms,
            self._desk,
            self._posts,
            prefix=self._prefix(),
            join_as=getattr(self.bot_config, "CHATROOM_FN", None),
            warn_admins=self.warn_admins,
            retry_interval=settings.retry_interval,
            flood_per_minute=settings.flood_per_minute,
        )
        self._intake = Intake(
            self._desk,
            self._relay,
            self._rooms,
            settings,
            self._customers,
            warn_admins=self.warn_admins,
        )
        # Sending is synchronous: whatever is still pending now was cut short by a stop.
        self._interrupted = self._desk.abandon_pending_deliveries(RESTART_REASON)
        super().activate()
        self._warn_about_weak_identities(settings)
        self._relay.start()
        self._reminders = None
        if settings.reminder_after is not None:
            self._reminders = Reminders(settings.reminder_after, settings.business_hours)
            check = settings.reminder_after.total_seconds() / REMINDER_CHECKS
            self.start_poller(min(MAX_REMINDER_CHECK_INTERVAL, check), self._remind)
        if settings.auto_resolve_after is not None:
            check = settings.auto_resolve_after.total_seconds() / SILENCE_CHECKS
            self.start_poller(min(MAX_SILENCE_CHECK_INTERVAL, check), self._resolve_silent)
        self.log.info(
            "Support active: agent room(s) %s, customers %s, database %s.",
            ", ".join(self._rooms.names()),
            f"on network {settings.customer_network}"
            if settings.customer_network
            else "in every other room",
            store.engine.url.render_as_string(hide_password=True),
        )

    def deactivate(self) -> None:
        desk, self._desk = self._desk, None
        relay, self._relay = self._relay, None
        self._intake = None
        super().deactivate()
        if relay is not None:
            relay.stop()
        if desk is not None:
            desk.close()
        sole, self._sole = self._sole, None
        if sole is not None:
            sole.release()

    def callback_connect(self) -> None:
        """Catch up: report deliveries a stop cut short, relay what agents have not seen."""
        desk = self._desk
        if desk is None:
            return
        interrupted, self._interrupted = self._interrupted, []
        for entry in interrupted:
            self._customers.report_undelivered(desk.get(entry.conversation), entry, RESTART_REASON)
        if self._relay is not None:
            self._relay.wake()

    def _warn_about_weak_identities(self, settings: Settings) -> None:
        """Once at start: agents or admins named by what anyone can take (a bare IRC nick)."""
        warning = weak_identity_warning(
            self._bot,
            {
                "SUPPORT_AGENTS": settings.agents,
                "BOT_ADMINS": tuple(getattr(self.bot_config, "BOT_ADMINS", ()) or ()),
            },
        )
        if warning:
            self.warn_admins(f"Support: {warning}")

    def _bridge_networks(self) -> set[str] | None:
        networks = getattr(self._bot, "networks", None)
        if callable(networks):
            networks = networks()
        if networks is None:
            return None
        return {str(n) for n in networks}

    def _open_store(self, settings: Settings) -> Store:
        try:
            return Store(settings.db_url)
        except SchemaError as exc:
            raise SettingsError(f"SUPPORT_DB_URL: {exc}") from None
        except (SQLAlchemyError, OSError, ImportError) as exc:
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            raise SettingsError(
                f"SUPPORT_DB_URL cannot be used ({reason}): check the URL, that the database "
                "exists and is reachable, and that its driver is installed"
            ) from None

    # ------------------------------------------------------------------ who is who

    def _prefix(self) -> str:
        return self.bot_config.BOT_PREFIX

    def _customer_room(self, msg: Message) -> Identifier | None:
        """The customer chat ``msg`` was written in, or None if it is not from a customer."""
        settings = self._settings
        if settings is None:
            return None
        if settings.customer_network is not None:
            if network_of(msg) != settings.customer_network:
                return None
        elif not msg.is_group or self._rooms.holding(msg.to) is not None:
            return None
        if isinstance(msg.frm, RoomOccupant):
            return msg.frm.room
        return msg.to if msg.is_group else msg.frm

    def _texts(self, conversation: Conversation) -> CustomerTexts:
        """What this conversation's customer is sent automatically: its agent room's texts."""
        return self._rooms.of(conversation).texts

    def _agent_room_of(self, msg: Message) -> AgentRoom | None:
        """The agent room ``msg`` was written in, if any."""
        if not msg.is_group or self._rooms is None:
            return None
        return self._rooms.holding(msg.to)

    def _in_agent_room(self, msg: Message) -> bool:
        return self._agent_room_of(msg) is not None

    def _is_agent(self, msg: Message) -> bool:
        patterns = self._settings.agents if self._settings else ()
        if patterns:
            return matches_any(msg.frm, patterns)
        return self._in_agent_room(msg) or self._is_occupant_of_agent_room(msg.frm)

    def _is_occupant_of_agent_room(self, person: Identifier) -> bool:
        """Best effort: not every backend can list a room's occupants."""
        wanted = getattr(person, "person", None)
        if wanted is None:
            return False
        for agent_room in self._rooms.all:
            try:
                occupants = agent_room.room.occupants
            except Exception:
                continue
            if any(getattr(o, "person", None) == wanted for o in occupants):
                return True
        return False

    @staticmethod
    def _agent(msg: Message) -> Agent:
        return agent_of(msg.frm)

    def _named_agent(self, name: str, requester: Agent) -> Agent:
        wanted = name.lstrip("@")
        if wanted.casefold() in SELF_WORDS:
            return requester
        patterns = self._settings.agents
        if patterns and not matches_any(wanted, patterns):
            raise CommandError(f"{wanted} is not one of the agents listed in SUPPORT_AGENTS.")
        return Agent(key=wanted.casefold(), name=wanted)

    @cmdfilter
    def support_access(self, msg: Message, cmd: str, args: Any, dry_run: bool) -> tuple:
        """Customers run no command at all; support commands are for agents only.

        A refused command does nothing and says nothing: a customer's "!claim 1" is relayed
        to the agents as text by ``callback_message``.
        """
        if self._settings is None:  # support is not in use: its commands only say so
            return msg, cmd, args
        if self._customer_room(msg) is not None:
            if not dry_run:
                self.log.info("Refused command %r from customer %s.", cmd, msg.frm)
            return None, None, None
        if self._owns_command(cmd) and not self._is_agent(msg):
            if not dry_run:
                self.log.info("Refused support command %r from non-agent %s.", cmd, msg.frm)
            return None, None, None
        return msg, cmd, args

    def _owns_command(self, cmd: str | None) -> bool:
        command = self._bot.all_commands.get(cmd) if cmd else None
        return getattr(command, "__self__", None) is self

    # ------------------------------------------------------------------ customers

    def callback_message(self, msg: Message) -> None:
        if self._desk is None:
            return
        room = self._customer_room(msg)
        if room is not None and intrusion(msg.extras) is not None:
            self._intruder(msg, room)
        elif room is not None:
            self._from_customer(msg, room)
        elif self._settings.threads and self._in_agent_room(msg):
            self._from_agent_thread(msg)
        elif not msg.is_group:
            self._hint_stray_text(msg)

    def _from_customer(self, msg: Message, room: Identifier) -> None:
        intake = self._intake
        if intake is not None:
            intake.take(msg, room)

    def _intruder(self, msg: Message, room: Identifier) -> None:
        """Not the customer's words: the agents are told, in the chat's conversation if any."""
        desk, relay = self._desk, self._relay
        kind = intrusion(msg.extras)
        if desk is None or relay is None or kind is None:
            return
        conversations = desk.store.conversations_in_rooms([str(room)])
        latest = conversations[-1] if conversations else None
        where = f"**#{latest.number}**" if latest else span(str(room))
        customer = latest.customer_name if latest else (msg.extras or {}).get("customer_id")
        text = intruder_report(kind, where, display_name(msg.frm), customer, msg.body or "")
        self.log.warning("In %s: %s", room, unmarked(text))
        agent_room = self._rooms.of(latest) if latest else self._rooms.route(str(room))
        # From the room's relay: taking customers' messages in never waits for the agents.
        relay.tell(agent_room, text, latest.number if latest else None)

    def _remind(self) -> None:
        """Point out customers waiting too long for an answer (on its own poller)."""
        desk, reminders = self._desk, self._reminders
        if desk is not None and reminders is not None:
            reminders.run(desk, self._post_reminder)

    def _resolve_silent(self) -> None:
        """Resolve the conversations whose customer said nothing for SUPPORT_AUTO_RESOLVE_HOURS
        after an agent's reply (on its own poller), as if their agent had."""
        desk, settings = self._desk, self._settings
        if desk is None or settings is None or settings.auto_resolve_after is None:
            return
        for conversation, reply in desk.answered_then_silent(settings.auto_resolve_after):
            resolved = desk.resolve_silent(conversation, reply)
            if resolved is None:
                continue  # the customer wrote, or someone took it, meanwhile
            self._notify_resolved(resolved)
            silent = formatting.duration(desk.clock() - reply.created_at)
            text = (
                f"**#{resolved.number}** resolved automatically: {name(resolved.customer_name)} "
                f"said nothing for {silent} after {name(reply.author_name)}'s reply."
            )
            try:
                self._tell_agents_about(resolved, text)
            except Exception as exc:  # resolved all the same; the transcript says so
                self.log.warning("Could not tell #%d's agent room: %s", resolved.number, exc)

    def _notify_resolved(self, conversation: Conversation) -> None:
        """The resolved notice, and the rating question if the room asks for ratings."""
        texts = self._texts(conversation)
        if texts.resolved_notice:
            self._customers.notify(conversation, texts.resolved_notice, "resolved")
        if texts.rating_question:
            self._customers.notify(conversation, texts.rating_question, RATING_QUESTION)

    def _post_reminder(self, conversation: Conversation, waited: timedelta) -> None:
        text = formatting.reminder(conversation, waited, self._prefix())
        self._send_agents(text, self._rooms.of(conversation).room, conversation.number)

    def callback_room_joined(self, room: Room, identifier=None, invited_by=None) -> None:
        """Someone, maybe the bot after an outage, joined the agent room: let the next relay
        look again (the poller relays; this may run on the network's own thread)."""
        relay = self._relay
        if relay is not None:
            relay.room_joined(room)

    def _send_agents(
        self, text: str, room: Room, number: int | None = None, *, starts_thread=False
    ) -> None:
        """Post to an agent room (in the conversation's thread where threads are on)."""
        self._posts.post(room, text, number, starts_thread=starts_thread)

    def _send_customer(self, room: str, body: str, extras: dict) -> None:
        message = self._bot.build_message(body)
        message.frm = self.bot_identifier
        message.extras.update(extras)
        message.to = self.build_identifier(room)
        self._bot.send_message(message)

    def _shown(self, msg: Message, text: str) -> str:
        """``text`` rendered for the network an answer to ``msg`` goes to."""
        return render(text, dialect_of(msg.frm, self._bot.mode))

    def _hint_stray_text(self, msg: Message) -> None:
        """An agent wrote to the bot directly, but no command: nobody reads it, so say how
        to answer a customer (now and then, not for every line)."""
        body = (msg.body or "").strip()
        config = self.bot_config
        prefixes = (self._prefix(), *getattr(config, "BOT_ALT_PREFIXES", ()))
        if (
            not body
            or body.startswith(tuple(p for p in prefixes if p))
            or getattr(config, "BOT_PREFIX_OPTIONAL_ON_CHAT", False)
            or self.bot_identifier == msg.frm
            or not self._is_agent(msg)
        ):
            return
        key, now = self._agent(msg).key, time.monotonic()
        last = self._hinted.get(key)
        if last is not None and now - last < STRAY_TEXT_HINT_INTERVAL:
            return
        self._hinted[key] = now
        try:
            self.send(
                msg.frm,
                f"Not sent to anyone: `{self._prefix()}reply N text` answers a customer "
                f"(`{self._prefix()}queue` lists the conversations).",
            )
        except Exception as exc:  # only a hint: the network's trouble is reported elsewhere
            self.log.warning("Could not send %s a hint: %s", msg.frm, exc)

    def _tell_agents_about(self, conversation: Conversation, text: str) -> None:
        self._send_agents(text, self._rooms.of(conversation).room, conversation.number)

    def _echo(
        self, msg: Message, conversation: Conversation, text: str, *, answered: bool = True
    ) -> None:
        """Say in the conversation's agent room what an agent did elsewhere (a direct message,
        another team's room), so that the room always shows where its conversations stand.

        Where the agent's direct chat and the room are one window (a terminal), the command's
        answer already says it there, unless the command answers nothing (``answered``)."""
        room = self._rooms.of(conversation)
        if self._agent_room_of(msg) == room or (answered and one_window(msg.frm, room.room)):
            return  # the room saw the command and its answer
        try:
            self._tell_agents_about(conversation, text)
        except Exception as exc:  # the command was done; the room hears of it in !queue
            self.log.warning("Could not tell #%d's agent room: %s", conversation.number, exc)

    def _from_agent_thread(self, msg: Message) -> None:
        """An agent wrote in a conversation's thread: that is a reply to the customer."""
        if msg.body.startswith(self._prefix()) or not self._is_agent(msg):
            return
        number = self._threads.conversation_of(msg)
        if number is None:
            return
        try:
            said = self._reply(msg, number, msg.body)
        except CommandError as refused:
            said = str(refused)
        if said:
            self._send_agents(said, msg.to, number)

    # ------------------------------------------------------------------ commands

    def _desk_or_fail(self) -> Desk:
        if self._settings is None:
            raise CommandError(NOT_CONFIGURED)
        if self._desk is None:
            raise CommandError("The Support plugin is not active.")
        return self._desk

    def _usage(self, usage: str, problem: str | None = None) -> CommandError:
        lead = f"{problem} " if problem else ""
        return CommandError(f"{lead}Usage: `{self._prefix()}{usage}`")

    def _parse(self, args: str, usage: str, *, then: str | None = None) -> tuple[int, str]:
        """``N`` or ``#N`` first, then the remaining text if ``then`` asks for it (``then`` is
        the question to ask when it is missing)."""
        parts = (args or "").strip().split(None, 1)
        if not parts:
            raise self._usage(usage, "Which conversation?")
        number = parts[0].lstrip("#")
        if not number.isdecimal():
            raise self._usage(usage, f"'{parts[0]}' is not a conversation number.")
        text = parts[1].strip() if len(parts) > 1 else ""
        if then and not text:
            raise self._usage(usage, then)
        if not then and text:
            raise self._usage(usage, f"Unexpected '{text}'.")
        return int(number), text

    def _run(self, operation, *args: Any) -> Any:
        try:
            return operation(*args)
        except SupportError as refused:
            raise CommandError(refused.text(self._prefix())) from None

    @botcmd
    @shown_for_sender
    def claim(self, msg: Message, args: str) -> str:
        """Take a waiting conversation and see it so far: claim <number>"""
        desk = self._desk_or_fail()
        number, _ = self._parse(args, "claim <number>")
        agent = self._agent(msg)
        conversation = self._run(desk.claim, number, agent)
        self._echo(msg, conversation, f"**#{number}** claimed by {name(agent.name)}.")
        claimed_notice = self._texts(conversation).claimed_notice
        if claimed_notice:
            self._customers.notify(conversation, claimed_notice.format(agent=agent.name), "claimed")
        page = desk.transcript(number, 0, self._settings.page_size)
        return formatting.transcript(
            page,
            self._prefix(),
            heading=(
                f"**#{number}** is yours, {name(agent.name)}. "
                f"{name(conversation.customer_name)} {formatting.where(conversation)} so far:"
            ),
        )

    @botcmd
    @shown_for_sender
    def reply(self, msg: Message, args: str) -> str | None:
        """Answer the customer (the only way text reaches them): reply <number> <text>"""
        self._desk_or_fail()
        number, text = self._parse(
            args, "reply <number> <text>", then="What should the customer read?"
        )
        return self._reply(msg, number, text)

    def _reply(self, msg: Message, number: int, text: str) -> str | None:
        desk = self._desk_or_fail()
        agent = self._agent(msg)
        before = self._run(desk.get, number)
        text = self._run(
            lambda: expand_canned(
                text,
                self._settings.canned_replies,
                customer=before.customer_name,
                agent=agent.name,
            )
        )
        conversation, entry = self._run(desk.begin_reply, number, agent, text)
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
        if not delivered and not self._in_agent_room(msg):
            return f"**#{number}**: your reply was NOT delivered; its agent room has the details."
        return None

    @botcmd
    @shown_for_sender
    def note(self, msg: Message, args: str) -> str:
        """Add an internal note, never sent to the customer: note <number> <text>"""
        desk = self._desk_or_fail()
        number, text = self._parse(args, "note <number> <text>", then="What is the note?")
        agent = self._agent(msg)
        self._run(desk.note, number, agent, text)
        self._echo(
            msg,
            desk.get(number),
            formatting.agent_said(number, f"[note] {name(agent.name)}: ", agent.name, text),
        )
        return f"**#{number}**: note saved (agents only)."

    @botcmd
    @shown_for_sender
    def resolve(self, msg: Message, args: str) -> str:
        """Close a conversation and tell the customer: resolve <number>"""
        desk = self._desk_or_fail()
        number, _ = self._parse(args, "resolve <number>")
        agent = self._agent(msg)
        conversation = self._run(desk.resolve, number, agent)
        self._notify_resolved(conversation)
        took = formatting.duration(conversation.resolved_at - conversation.opened_at)
        said = f"**#{number}** resolved by {name(agent.name)} after {took}."
        self._echo(msg, conversation, said)
        return said

    @botcmd
    @shown_for_sender
    def release(self, msg: Message, args: str) -> str:
        """Put your conversation back in the queue for someone else: release <number>"""
        desk = self._desk_or_fail()
        number, _ = self._parse(args, "release <number>")
        agent = self._agent(msg)
        conversation = self._run(desk.release, number, agent)
        postponed_notice = self._texts(conversation).postponed_notice
        if postponed_notice:
            self._customers.notify(conversation, postponed_notice, "postponed")
        said = f"**#{number}** is back in the queue: `{self._prefix()}claim {number}` to take it."
        self._echo(msg, conversation, f"{said} (released by {name(agent.name)})")
        return said

    @botcmd
    @shown_for_sender
    def transfer(self, msg: Message, args: str) -> str:
        """Give a conversation to an agent ('me' takes it over): transfer <number> <agent>"""
        desk = self._desk_or_fail()
        usage = "transfer <number> <agent>"
        number, target = self._parse(args, usage, then="To which agent?")
        if len(target.split()) != 1:
            raise self._usage(usage, "Name one agent.")
        agent = self._agent(msg)
        to = self._named_agent(target, agent)
        conversation = self._run(desk.transfer, number, agent, to)
        said = f"**#{number}** is now {name(to.name)}'s (given by {name(agent.name)})."
        self._echo(msg, conversation, said)
        return said

    @botcmd
    @shown_for_sender
    def move(self, msg: Message, args: str) -> str:
        """Send a conversation to another team's agent room: move <number> <room>"""
        desk = self._desk_or_fail()
        usage = "move <number> <room>"
        number, target = self._parse(args, usage, then="To which agent room?")
        rooms = self._rooms
        to = rooms.find(target)
        if to is None:
            raise self._usage(
                usage, f"'{target}' is not an agent room; the rooms: {', '.join(rooms.names())}."
            )
        before = self._run(desk.get, number)
        if rooms.of(before) == to:
            raise CommandError(f"**#{number}** is already served in {to}.")
        agent = self._agent(msg)
        moved = self._run(desk.move, number, agent, to.name, str(to))
        self._echo(msg, before, f"**#{number}** moved to {to} by {name(agent.name)}.")
        page = desk.transcript(number, 0, self._settings.page_size)
        heading = (
            f"**#{number}** moved here from {rooms.of(before)} by {name(agent.name)}: "
            f"{name(moved.customer_name)} ({span(moved.customer_room)}), waiting. "
            f"Type `{self._prefix()}claim {number}` to take it. So far:"
        )
        try:
            self._send_agents(
                formatting.transcript(page, self._prefix(), heading=heading),
                to.room,
                number,
                starts_thread=True,
            )
        except Exception as exc:
            self.log.warning("Could not show #%d in %s: %s", number, to, exc)
            return (
                f"**#{number}** now waits in {to}, but that room could not be told ({exc}): "
                f"its agents see it in `{self._prefix()}queue`."
            )
        return f"**#{number}** now waits in {to} for one of its agents."

    @botcmd
    @shown_for_sender
    def reopen(self, msg: Message, args: str) -> str:
        """Bring a resolved conversation back, assigned to you: reopen <number>"""
        desk = self._desk_or_fail()
        number, _ = self._parse(args, "reopen <number>")
        agent = self._agent(msg)
        conversation = self._run(desk.reopen, number, agent)
        self._echo(msg, conversation, f"**#{number}** reopened by {name(agent.name)}.")
        return f"**#{number}** is open again and yours, {name(agent.name)}."

    @botcmd
    @shown_for_sender
    def queue(self, msg: Message, args: str) -> str:
        """Open conversations, waiting ones first, with age and agent: queue [all|mine]"""
        desk = self._desk_or_fail()
        wanted = args.strip()
        if wanted not in ("", "all", "mine"):
            raise self._usage("queue [all|mine]", f"Unexpected '{wanted}'.")
        rooms = self._rooms
        found, here = desk.queue(), self._agent_room_of(msg)
        if wanted == "mine":
            agent = self._agent(msg)
            return formatting.agents_queue(
                [c for c in found if agent.is_(c.agent)],
                desk.clock(),
                room_of=(lambda c: str(rooms.of(c))) if rooms.several else None,
            )
        if not rooms.several:
            return formatting.queue(found, self._prefix(), desk.clock())
        if here is not None and wanted != "all":
            return formatting.queue(
                [c for c in found if rooms.of(c) == here],
                self._prefix(),
                desk.clock(),
                where=f"in {here}",
                more=f"`{self._prefix()}queue all` lists every agent room's.",
            )
        return formatting.queue(
            found, self._prefix(), desk.clock(), room_of=lambda c: str(rooms.of(c))
        )

    @botcmd
    @shown_for_sender
    def transcript(self, msg: Message, args: str) -> str:
        """Show a conversation, page by page: transcript <number> [page]"""
        desk = self._desk_or_fail()
        usage = "transcript <number> [page]"
        parts = (args or "").split()
        page = 1
        if len(parts) == 2 and parts[1].isdecimal() and int(parts[1]) >= 1:
            page = int(parts[1])
        elif len(parts) != 1:
            raise self._usage(usage, "Give a conversation number and optionally a page.")
        number, _ = self._parse(parts[0], usage)
        found = self._run(desk.transcript, number, page, self._settings.page_size)
        return formatting.transcript(found, self._prefix())

    @botcmd
    @shown_for_sender
    def customer(self, msg: Message, args: str) -> str:
        """A customer's conversations, past and present: customer <name, id, room or #N>"""
        desk = self._desk_or_fail()
        wanted = (args or "").strip()
        if not wanted:
            raise self._usage("customer <name, id, room or #N>", "Which customer?")
        key: str | int = wanted
        if wanted.startswith("#") and wanted[1:].isdecimal():
            key = int(wanted[1:])
        found = self._run(desk.customer_history, key)
        return formatting.history(found)

    @botcmd
    @shown_for_sender
    def search(self, msg: Message, args: str) -> str:
        """Find conversations by what was written in them: search <text>"""
        desk = self._desk_or_fail()
        wanted = " ".join((args or "").split())
        if not wanted:
            raise self._usage("search <text>", "What should be found?")
        found = self._run(desk.search, wanted, SEARCH_RESULTS)
        return formatting.search(found, wanted, SEARCH_RESULTS, self._prefix())

    @botcmd
    @shown_for_sender
    def support_status(self, msg: Message, args: str) -> str:
        """Where support stands: agent rooms, database, what waits: support status"""
        desk = self._desk_or_fail()
        if args.strip():
            raise self._usage("support status", f"Unexpected '{args.strip()}'.")
        settings, relay = self._settings, self._relay
        down = relay.unreachable() if relay is not None else []
        hours = settings.business_hours
        return formatting.status(
            rooms=[(str(room), room not in down) for room in self._rooms.all],
            database=desk.store.engine.url.render_as_string(hide_password=True),
            schema=desk.store.schema_version(),
            unrelayed=desk.count_unrelayed(),
            queue=desk.queue(),
            reminder_after=settings.reminder_after,
            auto_resolve_after=settings.auto_resolve_after,
            open_now=None if hours is None else hours.open_at(desk.clock()),
        )

    @botcmd
    @shown_for_sender
    def canned(self, msg: Message, args: str) -> str:
        """The canned replies (reply <number> :<name> sends one): canned"""
        self._desk_or_fail()
        replies = self._settings.canned_replies
        if not replies:
            return "No canned replies: set them in SUPPORT_CANNED_REPLIES."
        lines = [f"{len(replies)} canned repl{'y' if len(replies) == 1 else 'ies'}:"]
        lines += [f"`:{name}` {text}" for name, text in sorted(replies.items())]
        lines.append(f"Send one with `{self._prefix()}reply <number> :<name>`.")
        return "\n".join(lines)

    @botcmd
    @shown_for_sender
    def tag(self, msg: Message, args: str) -> str:
        """Tag a conversation: tag <number> <tag> [more tags]"""
        desk = self._desk_or_fail()
        number, text = self._parse(args, "tag <number> <tag> [more tags]", then="Which tags?")
        conversation, added = self._run(desk.tag, number, self._agent(msg), text.split())
        tagged = span(", ".join(conversation.tags)) if conversation.tags else "none"
        return f"**#{number}** tags: {tagged}" + ("" if added else " (nothing new)")

    @botcmd
    @shown_for_sender
    def untag(self, msg: Message, args: str) -> str:
        """Remove tags from a conversation: untag <number> <tag> [more tags]"""
        desk = self._desk_or_fail()
        number, text = self._parse(args, "untag <number> <tag> [more tags]", then="Which tags?")
        conversation, removed = self._run(desk.untag, number, self._agent(msg), text.split())
        tagged = span(", ".join(conversation.tags)) if conversation.tags else "none"
        return f"**#{number}** tags: {tagged}" + ("" if removed else " (it had none of those)")

    @botcmd
    @shown_for_sender
    def stats(self, msg: Message, args: str) -> str:
        """Conversations by state, times to reply and to resolve: stats [all] [days]"""
        desk = self._desk_or_fail()
        parts = (args or "").split()
        everywhere = parts[:1] == ["all"]
        text = " ".join(parts[1:] if everywhere else parts)
        if text and not (text.isdecimal() and 1 <= int(text) <= MAX_STATS_DAYS):
            raise self._usage(
                "stats [all] [days]",
                f"'{text}' is not a number of days from 1 to {MAX_STATS_DAYS}.",
            )
        days = int(text) if text else self._settings.stats_days
        since = desk.clock() - timedelta(days=days)
        rooms, here = self._rooms, self._agent_room_of(msg)
        if rooms.several and here is not None and not everywhere:
            # One team's own figures, in its room.
            summary = desk.stats(since, rooms=lambda name: rooms.named(name) == here)
            more = f"`{self._prefix()}stats all` covers every agent room."
            return formatting.stats(summary, days, scope=str(here)) + "\n" + more
        said = formatting.stats(desk.stats(since), days)
        if rooms.several:
            open_now = desk.queue()
            said += "\n" + formatting.rooms_load(
                [(str(room), [c for c in open_now if rooms.of(c) == room]) for room in rooms.all]
            )
        return said
