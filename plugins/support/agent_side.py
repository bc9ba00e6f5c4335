"""Everything the Support plugin does toward the agents: the relays to the agent rooms (which
join them), the answers to agents' commands, the reminders of waiting customers and the
resolution of silent ones. Started and stopped apart from customer intake
(``errbot_support.intake``), so that a bot can take customers' messages in while another
serves the agents.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Protocol

from errbot_support import formatting
from errbot_support.actions import AgentActions
from errbot_support.agent_posts import AgentPosts
from errbot_support.desk import Desk
from errbot_support.formatting import name
from errbot_support.records import Conversation, Entry
from errbot_support.relays import AgentRoomRelays
from errbot_support.reminders import ReminderMarks, Reminders
from errbot_support.routing import AgentRooms
from errbot_support.settings import Settings
from errbot_support.to_customers import RESTART_REASON, CustomerDelivery

log = logging.getLogger(__name__)

REMINDER_CHECKS = 4  # looks for waiting customers per SUPPORT_REMINDER_MINUTES
MAX_REMINDER_CHECK_INTERVAL = 60.0
SILENCE_CHECKS = 4  # looks for silent customers per SUPPORT_AUTO_RESOLVE_HOURS
MAX_SILENCE_CHECK_INTERVAL = 600.0


class Pollers(Protocol):
    """Errbot's pollers, as a plugin runs them."""

    def start_poller(self, interval: float, method: Callable[[], None]) -> None: ...

    def stop_poller(self, method: Callable[[], None]) -> None: ...


class AgentSide:
    def __init__(
        self,
        desk: Desk,
        rooms: AgentRooms,
        *,
        posts: AgentPosts,
        customers: CustomerDelivery,
        relays: AgentRoomRelays,
        actions: AgentActions,
        settings: Settings,
        pollers: Pollers,
        prefix: str,
        interrupted: list[Entry],
    ) -> None:
        self._desk = desk
        self._rooms = rooms
        self._posts = posts
        self._customers = customers
        self.relays = relays
        self.actions = actions
        self._settings = settings
        self._pollers = pollers
        self._prefix = prefix
        self._interrupted = interrupted  # deliveries a stop cut short, told at connection
        self._polling: list[Callable[[], None]] = []
        self._running = threading.Event()
        self._reminders = (
            Reminders(
                settings.reminder_after,
                settings.business_hours,
                ReminderMarks(desk.store.engine, desk.store.writer),
            )
            if settings.reminder_after is not None
            else None
        )

    # ------------------------------------------------------------------ control

    def start(self) -> None:
        """Relay to the agent rooms, answer agents, remind and resolve from now on."""
        settings = self._settings
        self.relays.start()
        if settings.reminder_after is not None:
            check = settings.reminder_after.total_seconds() / REMINDER_CHECKS
            self._poll(min(MAX_REMINDER_CHECK_INTERVAL, check), self.remind)
        if settings.auto_resolve_after is not None:
            check = settings.auto_resolve_after.total_seconds() / SILENCE_CHECKS
            self._poll(min(MAX_SILENCE_CHECK_INTERVAL, check), self.resolve_silent)
        self._running.set()

    def stop(self) -> None:
        """No more relaying, answers, reminders or resolutions (what runs is finished)."""
        self._running.clear()
        for method in self._polling:
            self._pollers.stop_poller(method)
        self._polling = []
        self.relays.stop()

    @property
    def running(self) -> bool:
        return self._running.is_set()

    def connected(self) -> None:
        """Catch up: report deliveries a stop cut short, relay what agents have not seen."""
        interrupted, self._interrupted = self._interrupted, []
        self._report(interrupted)
        if self.running:
            self.relays.wake()

    def instance_lost(self, alive_within: float) -> None:
        """Another instance was lost (several bots): what it was sending to customers is
        marked undelivered and reported, as at a start."""
        self._report(self._desk.abandon_pending_deliveries(RESTART_REASON, alive_within))

    def _report(self, cut_short: list[Entry]) -> None:
        for entry in cut_short:
            conversation = self._desk.get(entry.conversation)
            self._customers.report_undelivered(conversation, entry, RESTART_REASON)

    def room_joined(self, room: object) -> None:
        """Someone, maybe the bot after an outage, joined ``room``: if it is an agent room,
        its relay looks again."""
        self.relays.room_joined(room)

    # ------------------------------------------------------------------ pollers

    def remind(self) -> None:
        """Point out customers waiting too long for an answer (on its own poller)."""
        if self._reminders is not None:
            self._reminders.run(self._desk, self._post_reminder)

    def resolve_silent(self) -> None:
        """Resolve the conversations whose customer said nothing for SUPPORT_AUTO_RESOLVE_HOURS
        after an agent's reply (on its own poller), as if their agent had."""
        desk, after = self._desk, self._settings.auto_resolve_after
        if after is None:
            return
        for conversation, reply in desk.answered_then_silent(after):
            resolved = desk.resolve_silent(conversation, reply)
            if resolved is None:
                continue  # the customer wrote, or someone took it, meanwhile
            self._customers.notify_resolved(resolved, self._rooms.of(resolved).texts)
            silent = formatting.duration(desk.clock() - reply.created_at)
            text = (
                f"**#{resolved.number}** resolved automatically: {name(resolved.customer_name)} "
                f"said nothing for {silent} after {name(reply.author_name)}'s reply."
            )
            try:
                self._posts.about(resolved, text)
            except Exception as exc:  # resolved all the same; the transcript says so
                log.warning("Could not tell #%d's agent room: %s", resolved.number, exc)

    def _post_reminder(self, conversation: Conversation, waited: timedelta) -> None:
        self._posts.about(conversation, formatting.reminder(conversation, waited, self._prefix))

    def _poll(self, interval: float, method: Callable[[], None]) -> None:
        self._pollers.start_poller(interval, method)
        self._polling.append(method)
