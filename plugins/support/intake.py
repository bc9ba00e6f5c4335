"""A customer's message taken in: recorded, deduplicated, a new conversation acknowledged, and
its agent room's relay woken.

Nothing here waits for the agents' network: the relay posts on a thread of its own, at that
network's pace (see ``errbot_support.relay``). The backend may acknowledge the message to its
network once :meth:`Intake.take` returns, so the message is recorded durably before that.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from errbot.backends.base import Identifier, Message
from sqlalchemy.exc import SQLAlchemyError

from errbot_support import formatting
from errbot_support.desk import Desk, rating_in, utc_now
from errbot_support.identities import display_name
from errbot_support.intruders import intrusion
from errbot_support.intruders import report as intruder_report
from errbot_support.literal import REPLACEMENT, span, unmarked
from errbot_support.records import (
    CUSTOMER_DETAILS,
    Conversation,
    CustomerMessage,
    Kind,
    Pending,
    Recorded,
)
from errbot_support.relays import AgentRoomRelays
from errbot_support.routing import AgentRooms
from errbot_support.settings import Settings
from errbot_support.to_customers import CustomerDelivery

log = logging.getLogger(__name__)

MAX_DETAIL_LENGTH = 512
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def customer_details(given: Any) -> dict[str, str]:
    """The known details among what a backend said of a customer (``extras["customer"]``)."""
    if not isinstance(given, dict):
        return {}
    return {
        key: given[key].strip()[:MAX_DETAIL_LENGTH]
        for key in CUSTOMER_DETAILS
        if isinstance(given.get(key), str) and given[key].strip()
    }


class Intake:
    def __init__(
        self,
        desk: Desk,
        relay: AgentRoomRelays,
        rooms: AgentRooms,
        settings: Settings,
        customers: CustomerDelivery,
        *,
        warn_admins: Callable[[str], None],
    ) -> None:
        self._desk = desk
        self._relay = relay
        self._rooms = rooms
        self._settings = settings
        self._customers = customers
        self._warn_admins = warn_admins
        self._running = threading.Event()

    def start(self) -> None:
        """Take customers' messages in from now on."""
        self._running.set()

    def stop(self) -> None:
        """Take no more customers' messages in (those being recorded are recorded)."""
        self._running.clear()

    @property
    def running(self) -> bool:
        return self._running.is_set()

    def take(self, msg: Message, room: Identifier) -> None:
        """``msg``, written in the customer chat ``room``: recorded and its relay woken, or,
        if someone else wrote it there, reported to the agents."""
        if not self.running:
            return
        kind = intrusion(msg.extras)
        if kind is not None:
            self._intruder(msg, room, kind)
            return
        incoming = self._customer_message(msg, room)
        recorded = self._record(incoming)
        if recorded is None:
            return
        conversation = recorded.conversation
        thanks = self._rooms.of(conversation).texts.rating_thanks
        if recorded.entry.kind is Kind.RATING and not recorded.duplicate and thanks:
            self._customers.notify_quietly(conversation, thanks, "rating-thanks")
        shown = self._acknowledge(conversation) if recorded.opened else None
        agent_room = self._rooms.of(conversation)
        if shown is not None:  # a failed acknowledgement is told after the announcement
            self._relay.when_shown(agent_room, recorded.entry.id, shown.set)
        if recorded.duplicate:
            log.info("Message %s in %s was already recorded.", incoming.source_id, room)
            self._relay.wake(agent_room)
        else:
            self._relay.recorded(agent_room, Pending(recorded.entry, conversation))

    def _record(self, incoming: CustomerMessage) -> Recorded | None:
        """Recorded, or reported as refused (the store has tried again where it made sense)."""
        try:
            return self._desk.receive(incoming)
        except SQLAlchemyError as exc:
            log.warning("Recording a message from %s failed: %s", incoming.room, exc)
            self._report_unrecorded(incoming, exc)
            return None

    def _intruder(self, msg: Message, room: Identifier, kind: str) -> None:
        """Not the customer's words: the agents are told, in the chat's conversation if any."""
        latest = self._desk.latest_in_room(str(room))
        where = f"**#{latest.number}**" if latest else span(str(room))
        customer = latest.customer_name if latest else (msg.extras or {}).get("customer_id")
        text = intruder_report(kind, where, display_name(msg.frm), customer, msg.body or "")
        log.warning("In %s: %s", room, unmarked(text))
        agent_room = self._rooms.of(latest) if latest else self._rooms.route(str(room))
        message_id = (msg.extras or {}).get("message_id")
        # A message delivered again (after a crash) is told of once.
        source = f"{room}/{message_id}" if message_id is not None else None
        # From the room's relay: taking customers' messages in never waits for the agents.
        self._relay.tell(agent_room, text, latest.number if latest else None, source=source)

    def _acknowledge(self, conversation: Conversation) -> threading.Event | None:
        """The acknowledgement, or outside business hours the after-hours notice."""
        texts = self._rooms.of(conversation).texts
        text, notice = texts.acknowledgement, "acknowledgement"
        hours = self._settings.business_hours
        if hours is not None and not hours.open_at(conversation.opened_at):
            text, notice = texts.after_hours_notice, "after-hours"
        return self._customers.acknowledge(conversation, text, notice) if text else None

    def _customer_message(self, msg: Message, room: Identifier) -> CustomerMessage:
        extras = msg.extras or {}
        sent_at = extras.get("sent_at")
        if not isinstance(sent_at, datetime) or sent_at.tzinfo is None:
            sent_at = utc_now()
        message_id = extras.get("message_id")
        attachments = extras.get("attachments") or ()
        return CustomerMessage(
            room=str(room),
            customer_id=str(msg.frm),
            customer_name=display_name(msg.frm),
            # No database stores half a UTF-16 pair: the replacement mark is stored instead.
            body=LONE_SURROGATE.sub(REPLACEMENT, msg.body or ""),
            sent_at=sent_at.astimezone(timezone.utc),
            source_id=str(message_id) if message_id is not None else None,
            attachments=tuple(a for a in attachments if isinstance(a, dict)),
            # Any room asking for ratings: the customer's last conversation may be in it.
            rating=rating_in(msg.body) if self._rooms.ask_ratings else None,
            agent_room=self._rooms.route(str(room)).name,
            customer_details=customer_details(extras.get("customer")),
        )

    def _report_unrecorded(self, incoming: CustomerMessage, exc: Exception) -> None:
        """The database refused the message: agents still see it, admins learn why."""
        who = formatting.name(incoming.customer_name)
        text = "\n".join(
            formatting.said(
                f"A message from **{who}** ({span(incoming.room)}) could not be recorded "
                f"({type(exc).__name__}); it belongs to no conversation until the database "
                f"is fixed: ",
                who,
                incoming.body,
            )
        )
        try:  # from the room's relay: this never waits for the agents' network
            # Not kept: the database that would keep it has just refused.
            self._relay.tell(self._rooms.route(incoming.room), text, kept=False)
        finally:
            self._warn_admins(f"Support: the conversation database refused a message: {exc}")
