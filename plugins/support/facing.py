"""The Support plugin's agent side, run only while this bot is the active instance.

The runtime (``errbot_support.runtime``) has two parts started apart: intake, which runs on
every instance, and the agent side (relays, commands, reminders, auto-resolve), which this
starts when the instance becomes the active one and stops when it must stop acting
(``errbot_support.active_role``); where each instance is a user of its own (IRC) it then leaves
the agent rooms. It also says what a standby does with a command (``errbot_support.one_answer``)
and what ``!support status`` tells of the instances.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from errbot.backends.base import Message

from errbot_instances.postgres import Liveness, liveness_of
from errbot_support.active_role import STOPPING, ActiveRole
from errbot_support.instances_status import instances_report
from errbot_support.one_answer import Standby, leave_rooms, on_standby, refusal, stays_in_rooms
from errbot_support.settings import SettingsError

log = logging.getLogger(__name__)

MIN_POLL = 1.0  # seconds: the active instance looks at the store at least this often


def instance_liveness(config: Any) -> Liveness:
    """``INSTANCES_TAKEOVER_SECONDS``, checked: a setting to fix, in one sentence."""
    try:
        return liveness_of(config)
    except ValueError as problem:
        raise SettingsError(str(problem)) from None


class AgentFacing:
    """Starts and stops ``runtime.agents`` with this instance's active role."""

    def __init__(
        self,
        runtime: Any,
        bot: Any,
        *,
        liveness: Liveness,
        tell_admins: Callable[[str], None],
    ) -> None:
        self._runtime = runtime
        self._bot = bot
        self._tell_admins = tell_admins
        settings = runtime.settings
        self.role = ActiveRole(
            settings.db_url,
            start=runtime.agents.start,
            stop=self._stop,
            wake=runtime.agents.relays.recorded_elsewhere,
            tell_admins=lambda sentence: self._lost(sentence, tell_admins),
            pass_on=tell_admins,
            liveness=liveness,
            poll=max(settings.retry_interval, MIN_POLL),
        )

    def begin(self) -> None:
        self.role.begin()

    def end(self) -> None:
        self.role.end()

    def warn(self, warning: str) -> None:
        """A warning about what this instance takes in: standing by among several bots, the
        active one tells the admins (naming this one); else this one does."""
        if not self.role.hand_over(warning):
            self._tell_admins(warning)

    def _lost(self, sentence: str, tell_admins: Callable[[str], None]) -> None:
        """An instance was lost: the admins are told, and what it was sending to customers
        is reported undelivered."""
        tell_admins(f"Support: {sentence}")
        try:
            self._runtime.agents.instance_lost(self.role.liveness.stale)
        except Exception:  # reported at the next start instead
            log.exception("Could not look for the deliveries a lost instance cut short.")

    def _stop(self, why: str) -> None:
        agents = self._runtime.agents
        if agents.running:
            agents.stop()
        if self.role.several and why != STOPPING:
            leave_rooms(self._bot, [room.room for room in self._runtime.rooms.all])

    # ------------------------------------------------------------------ messages

    def on_standby(self, msg: Message) -> Standby | None:
        """None if this instance answers ``msg``'s command; else what it does instead."""
        if self.role.is_active():
            return None
        answer = on_standby(self._bot, msg)
        return None if answer is Standby.ACT else answer

    def refusal(self) -> str:
        return refusal(str(room) for room in self._runtime.rooms.all)

    def may_answer(self) -> bool:
        """Whether a command let through may run here: on the active instance, or on a
        standby of a network that hands each event to one instance (the filter decided)."""
        return self.role.is_active() or self.role.several

    def room_joined(self, room: Any) -> None:
        """A standby joined an agent room (``CHATROOM_PRESENCE``): where each instance is a
        user of its own, it leaves again, so that only the active instance reads commands."""
        role, rooms = self.role, self._runtime.rooms
        standing_by = role.several and not role.is_active()
        if standing_by and rooms.holding(room) is not None and not stays_in_rooms(self._bot, room):
            leave_rooms(self._bot, [room])

    def status(self) -> str:
        """The instances part of ``!support status``."""
        role = self.role
        return instances_report(
            self._runtime.settings.db_url,
            role.instance_id,
            role.liveness,
            active=role.is_active(),
        )
