"""The Support plugin: customer conversations relayed to agent rooms, run by commands.

This module is thin on purpose: each command parses its arguments, asks the runtime
(``errbot_support.runtime``, built once in ``activate``) and returns its answer; a refusal is
Errbot's ``CommandError``. Who is who is in ``errbot_support.access``, customers' messages are
taken in by ``errbot_support.intake``, what agents' commands do is in
``errbot_support.actions``, the rules in ``errbot_support.desk``, the data in
``errbot_support.store``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from errbot import BotPlugin, botcmd, cmdfilter
from errbot.backends.base import Message, Room
from errbot.botplugin import CommandError

from errbot_support import activation_log
from errbot_support.access import CUSTOMER
from errbot_support.actions import AgentActions
from errbot_support.errors import SupportError
from errbot_support.facing import AgentFacing, instance_liveness
from errbot_support.identities import weak_identity_warning
from errbot_support.literal import span
from errbot_support.one_answer import Standby
from errbot_support.rendering import dialect_of, render
from errbot_support.runtime import SupportRuntime, build_runtime
from errbot_support.settings import NOT_CONFIGURED, SettingsError, in_use, read_settings
from errbot_support.usage import number_and_text, usage_error

MAX_STATS_DAYS = 36500
#: Text in an agent's direct chat that is no command: said at most this often per agent.
STRAY_TEXT_HINT_INTERVAL = 600.0


def shown_for_sender(command: Callable) -> Callable:
    """A command's answer (or refusal) rendered for the network it goes back to; the desk's
    refusals worded as Errbot's ``CommandError``."""

    @functools.wraps(command)
    def answer(self: Support, msg: Message, args: Any) -> Any:
        try:
            said = command(self, msg, args)
        except SupportError as refused:
            raise CommandError(self._shown(msg, refused.text(self._prefix()))) from None
        except CommandError as refused:
            raise CommandError(self._shown(msg, refused.reason)) from None
        return self._shown(msg, said) if isinstance(said, str) else said

    return answer


activation_log.install()


class Support(BotPlugin):
    """Customer conversations in an agent room: claim, reply, note, resolve and more."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._runtime: SupportRuntime | None = None
        self._facing: AgentFacing | None = None  # the agent side, on the active instance
        self._configured = False  # SUPPORT_AGENT_ROOM is set
        self._hinted: dict[str, float] = {}  # agent -> when their stray text was last answered

    @property
    def runtime(self) -> SupportRuntime | None:
        """What the plugin runs on while it is active."""
        return self._runtime

    # ------------------------------------------------------------------ lifecycle

    def activate(self) -> None:
        self._configured = in_use(self.bot_config)
        if not self._configured:
            # Active all the same, so that its commands say what to set instead of nothing.
            self.log.info("Support is not in use on this bot: no SUPPORT_AGENT_ROOM is set.")
            super().activate()
            return
        try:
            settings = read_settings(self.bot_config)
            liveness = instance_liveness(self.bot_config)
            runtime = build_runtime(
                settings,
                self._bot,
                self,
                query_room=self.query_room,
                warn_admins=self._warn_of_intake,
                prefix=self._prefix(),
                join_as=getattr(self.bot_config, "CHATROOM_FN", None),
                liveness=liveness,
            )
        except SettingsError as problem:
            self.log.error("Support is not active: %s", problem)
            raise
        self._runtime = runtime
        runtime.intake.start()
        # The agent side runs while this bot is the active instance (always on SQLite): that
        # is settled before Errbot takes the plugin's commands, so none comes in between.
        self._facing = AgentFacing(
            runtime, self._bot, liveness=liveness, tell_admins=self.warn_admins
        )
        self._facing.begin()
        super().activate()
        self._warn_about_weak_identities()
        self.log.info(
            "Support active: agent room(s) %s, customers %s, database %s.",
            ", ".join(runtime.rooms.names()),
            f"on network {settings.customer_network}"
            if settings.customer_network
            else "in every other room",
            runtime.database,
        )

    def deactivate(self) -> None:
        facing, self._facing = self._facing, None
        if facing is not None:
            facing.end()  # another instance takes over at once
        runtime, self._runtime = self._runtime, None
        if runtime is not None:
            runtime.stop()
        super().deactivate()
        if runtime is not None:
            runtime.close()

    def _warn_of_intake(self, warning: str) -> None:
        """What the runtime tells the admins: standing by, the active instance tells them."""
        facing = self._facing
        if facing is not None:
            facing.warn(warning)
        else:
            self.warn_admins(warning)

    def callback_connect(self) -> None:
        runtime = self._runtime
        if runtime is not None:  # standing by, what it has to report goes to the active one
            runtime.agents.connected()

    def callback_room_joined(self, room: Room, identifier=None, invited_by=None) -> None:
        """Someone, maybe the bot after an outage, joined a room: an agent room's relay looks
        again (the relay posts; this may run on the network's own thread)."""
        runtime = self._runtime
        if runtime is not None and runtime.agents.running:
            runtime.agents.room_joined(room)
        facing = self._facing
        if facing is not None:
            facing.room_joined(room)

    def _warn_about_weak_identities(self) -> None:
        """Once at start: agents or admins named by what anyone can take (a bare IRC nick)."""
        warning = weak_identity_warning(
            self._bot,
            {
                "SUPPORT_AGENTS": self._runtime.settings.agents,
                "BOT_ADMINS": tuple(getattr(self.bot_config, "BOT_ADMINS", ()) or ()),
            },
        )
        if warning:
            self.warn_admins(f"Support: {warning}")

    # ------------------------------------------------------------------ messages

    @cmdfilter
    def support_access(self, msg: Message, cmd: str, args: Any, dry_run: bool) -> tuple:
        """Customers run no command at all; support commands are for agents only.

        A refused command does nothing and says nothing: a customer's "!claim 1" is relayed
        to the agents as text by ``callback_message``.
        """
        runtime = self._runtime
        if runtime is None:  # support is not in use: its commands only say so
            return msg, cmd, args
        command = self._bot.all_commands.get(cmd) if cmd else None
        owned = getattr(command, "__self__", None) is self
        refused = runtime.access.refusal(msg, owned)
        facing = self._facing
        standby = facing.on_standby(msg) if owned and facing and refused != CUSTOMER else None
        if standby is not None:  # another instance answers: say so at most once
            if standby is Standby.REFUSE and not dry_run:
                self.send(msg.frm, facing.refusal())
            return None, None, None
        if refused is None:
            return msg, cmd, args
        if not dry_run and refused == CUSTOMER:
            self.log.info("Refused command %r from customer %s.", cmd, msg.frm)
        elif not dry_run:
            self.log.info("Refused support command %r from non-agent %s.", cmd, msg.frm)
        return None, None, None

    def callback_message(self, msg: Message) -> None:
        runtime = self._runtime
        if runtime is None:
            return
        room = runtime.access.customer_room(msg)
        if room is not None:
            runtime.intake.take(msg, room)
        elif runtime.settings.threads and runtime.access.in_agent_room(msg):
            self._from_agent_thread(runtime, msg)
        elif not msg.is_group:
            self._hint_stray_text(runtime, msg)

    def _from_agent_thread(self, runtime: SupportRuntime, msg: Message) -> None:
        """An agent wrote in a conversation's thread: that is a reply to the customer."""
        if msg.body.startswith(self._prefix()) or not runtime.access.is_agent(msg):
            return
        number = runtime.threads.conversation_of(msg)
        facing = self._facing
        if facing is not None and facing.on_standby(msg) is not None:
            return  # the active instance reads the thread too
        if number is not None and (runtime.agents.running or self._may_answer()):
            runtime.agents.actions.reply_in_thread(msg, number)

    def _hint_stray_text(self, runtime: SupportRuntime, msg: Message) -> None:
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
            or not runtime.access.is_agent(msg)
        ):
            return
        key, now = runtime.access.agent(msg).key, time.monotonic()
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

    # ------------------------------------------------------------------ commands

    def _prefix(self) -> str:
        return self.bot_config.BOT_PREFIX

    def _shown(self, msg: Message, text: str) -> str:
        """``text`` rendered for the network an answer to ``msg`` goes to."""
        return render(text, dialect_of(msg.frm, self._bot.mode))

    def _actions(self) -> AgentActions:
        if not self._configured:
            raise CommandError(NOT_CONFIGURED)
        runtime = self._runtime
        if runtime is None or not (runtime.agents.running or self._may_answer()):
            raise CommandError("The Support plugin is not active.")
        return runtime.agents.actions

    def _may_answer(self) -> bool:
        """A standby answers the commands its network hands it alone (Slack)."""
        facing = self._facing
        return facing is not None and facing.may_answer()

    def _usage(self, usage: str, problem: str | None = None) -> CommandError:
        return usage_error(self._prefix(), usage, problem)

    def _parse(self, args: str, usage: str, *, then: str | None = None) -> tuple[int, str]:
        return number_and_text(args, usage, self._prefix(), then=then)

    @botcmd
    @shown_for_sender
    def claim(self, msg: Message, args: str) -> str:
        """Take a waiting conversation and see it so far: claim <number>"""
        actions = self._actions()
        number, _ = self._parse(args, "claim <number>")
        return actions.claim(msg, number)

    @botcmd
    @shown_for_sender
    def reply(self, msg: Message, args: str) -> str | None:
        """Answer the customer (the only way text reaches them): reply <number> <text>"""
        actions = self._actions()
        usage = "reply <number> <text>"
        number, text = self._parse(args, usage, then="What should the customer read?")
        return actions.reply(msg, number, text)

    @botcmd
    @shown_for_sender
    def note(self, msg: Message, args: str) -> str:
        """Add an internal note, never sent to the customer: note <number> <text>"""
        actions = self._actions()
        number, text = self._parse(args, "note <number> <text>", then="What is the note?")
        return actions.note(msg, number, text)

    @botcmd
    @shown_for_sender
    def resolve(self, msg: Message, args: str) -> str:
        """Close a conversation and tell the customer: resolve <number>"""
        actions = self._actions()
        number, _ = self._parse(args, "resolve <number>")
        return actions.resolve(msg, number)

    @botcmd
    @shown_for_sender
    def release(self, msg: Message, args: str) -> str:
        """Put your conversation back in the queue for someone else: release <number>"""
        actions = self._actions()
        number, _ = self._parse(args, "release <number>")
        return actions.release(msg, number)

    @botcmd
    @shown_for_sender
    def transfer(self, msg: Message, args: str) -> str:
        """Give a conversation to an agent ('me' takes it over): transfer <number> <agent>"""
        actions = self._actions()
        usage = "transfer <number> <agent>"
        number, target = self._parse(args, usage, then="To which agent?")
        if len(target.split()) != 1:
            raise self._usage(usage, "Name one agent.")
        return actions.transfer(msg, number, target)

    @botcmd
    @shown_for_sender
    def move(self, msg: Message, args: str) -> str:
        """Send a conversation to another team's agent room: move <number> <room>"""
        actions = self._actions()
        usage = "move <number> <room>"
        number, target = self._parse(args, usage, then="To which agent room?")
        return actions.move(msg, number, target, usage)

    @botcmd
    @shown_for_sender
    def reopen(self, msg: Message, args: str) -> str:
        """Bring a resolved conversation back, assigned to you: reopen <number>"""
        actions = self._actions()
        number, _ = self._parse(args, "reopen <number>")
        return actions.reopen(msg, number)

    @botcmd
    @shown_for_sender
    def queue(self, msg: Message, args: str) -> str:
        """Open conversations, waiting ones first, with age and agent: queue [all|mine]"""
        actions = self._actions()
        wanted = args.strip()
        if wanted not in ("", "all", "mine"):
            raise self._usage("queue [all|mine]", f"Unexpected '{span(wanted)}'.")
        return actions.queue(msg, wanted)

    @botcmd
    @shown_for_sender
    def transcript(self, msg: Message, args: str) -> str:
        """Show a conversation, page by page: transcript <number> [page]"""
        actions = self._actions()
        usage = "transcript <number> [page]"
        parts = (args or "").split()
        page = 1
        if len(parts) == 2 and parts[1].isdecimal() and int(parts[1]) >= 1:
            page = int(parts[1])
        elif len(parts) != 1:
            raise self._usage(usage, "Give a conversation number and optionally a page.")
        number, _ = self._parse(parts[0], usage)
        return actions.transcript(number, page)

    @botcmd
    @shown_for_sender
    def customer(self, msg: Message, args: str) -> str:
        """A customer's conversations, past and present: customer <name, id, room or #N>"""
        actions = self._actions()
        wanted = (args or "").strip()
        if not wanted:
            raise self._usage("customer <name, id, room or #N>", "Which customer?")
        key: str | int = wanted
        if wanted.startswith("#") and wanted[1:].isdecimal():
            key = int(wanted[1:])
        return actions.customer(key)

    @botcmd
    @shown_for_sender
    def search(self, msg: Message, args: str) -> str:
        """Find conversations by what was written in them: search <text>"""
        actions = self._actions()
        wanted = " ".join((args or "").split())
        if not wanted:
            raise self._usage("search <text>", "What should be found?")
        return actions.search(wanted)

    @botcmd
    @shown_for_sender
    def support_status(self, msg: Message, args: str) -> str:
        """Where support stands: agent rooms, database, what waits: support status"""
        actions = self._actions()
        if args.strip():
            raise self._usage("support status", f"Unexpected '{span(args.strip())}'.")
        facing = self._facing
        return actions.status() + (f"\n{facing.status()}" if facing is not None else "")

    @botcmd
    @shown_for_sender
    def canned(self, msg: Message, args: str) -> str:
        """The canned replies (reply <number> :<name> sends one): canned"""
        return self._actions().canned()

    @botcmd
    @shown_for_sender
    def tag(self, msg: Message, args: str) -> str:
        """Tag a conversation: tag <number> <tag> [more tags]"""
        actions = self._actions()
        number, text = self._parse(args, "tag <number> <tag> [more tags]", then="Which tags?")
        return actions.tag(msg, number, text.split())

    @botcmd
    @shown_for_sender
    def untag(self, msg: Message, args: str) -> str:
        """Remove tags from a conversation: untag <number> <tag> [more tags]"""
        actions = self._actions()
        number, text = self._parse(args, "untag <number> <tag> [more tags]", then="Which tags?")
        return actions.untag(msg, number, text.split())

    @botcmd
    @shown_for_sender
    def stats(self, msg: Message, args: str) -> str:
        """Conversations by state, times to reply and to resolve: stats [all] [days]"""
        actions = self._actions()
        parts = (args or "").split()
        everywhere = parts[:1] == ["all"]
        text = " ".join(parts[1:] if everywhere else parts)
        if text and not (text.isdecimal() and 1 <= int(text) <= MAX_STATS_DAYS):
            raise self._usage(
                "stats [all] [days]",
                f"'{span(text)}' is not a number of days from 1 to {MAX_STATS_DAYS}.",
            )
        return actions.stats(msg, int(text) if text else None, everywhere=everywhere)
