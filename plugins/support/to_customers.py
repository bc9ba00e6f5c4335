"""Replies and automatic texts on their way to a customer: recorded as pending first, then
sent, then marked delivered or undelivered; one that fails is reported on its conversation in
the agent room, so that no answer is lost without an agent knowing.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from errbot_support import formatting
from errbot_support.agent_posts import AboutConversation
from errbot_support.desk import Desk
from errbot_support.records import RATING_QUESTION, Conversation, Entry
from errbot_support.settings import CustomerTexts

log = logging.getLogger(__name__)

#: Why a delivery a restart interrupted is not confirmed.
RESTART_REASON = "the bot stopped before the delivery was confirmed"
STOPPING_REASON = "the bot is stopping"
#: Seconds a new conversation waits for its acknowledgement to be sent before agents see it.
ACKNOWLEDGEMENT_HEAD_START = 2.0
#: Notices the message converter knows as kinds of their own (others are plain agent texts).
CONVERTER_KINDS = ("resolved", "postponed")


class CustomerDelivery:
    def __init__(self, desk: Desk, bot: Any, posts: AboutConversation, prefix: str) -> None:
        """``bot``: the bot (the Bridge, or a single backend) that sends to customer chats;
        ``posts``: where a failed delivery is told, in the conversation's agent room."""
        self._desk = desk
        self._bot = bot
        self._posts = posts
        self._prefix = prefix
        self._stopping = threading.Event()

    def stop(self) -> None:
        """From now on nothing is sent: what is recorded as pending is reported at next start."""
        self._stopping.set()

    def deliver(
        self,
        conversation: Conversation,
        entry: Entry,
        *,
        author: str | None,
        kind: str | None,
        report: bool = True,
    ) -> str | None:
        """Send a recorded reply or notice to the customer and record whether it arrived.

        Returns None once delivered, else why not, which is also reported on the
        conversation in the agent room unless ``report`` is False.
        """
        desk = self._desk
        if self._stopping.is_set():  # the entry stays pending and is reported at next start
            return STOPPING_REASON
        extras = {key: value for key, value in (("author", author), ("kind", kind)) if value}
        try:
            self._send(conversation.customer_room, entry.body, extras)
        except Exception as exc:
            reason = str(exc) or type(exc).__name__
            log.warning("Delivery to %s failed: %s", conversation.customer_room, reason)
            desk.undelivered(entry, reason)
            if report:
                self.report_undelivered(conversation, entry, reason)
            return reason
        desk.delivered(entry)
        return None

    def notify(self, conversation: Conversation, text: str, notice: str) -> None:
        """Send an automatic text (``notice`` says which) to the customer."""
        if self._stopping.is_set():
            return
        entry = self._desk.begin_notice(conversation.number, text, notice)
        kind = notice if notice in CONVERTER_KINDS else None
        self.deliver(conversation, entry, author=None, kind=kind)

    def notify_resolved(self, conversation: Conversation, texts: CustomerTexts) -> None:
        """The resolved notice, and the rating question if the room asks for ratings."""
        if texts.resolved_notice:
            self.notify(conversation, texts.resolved_notice, "resolved")
        if texts.rating_question:
            self.notify(conversation, texts.rating_question, RATING_QUESTION)

    def notify_quietly(self, conversation: Conversation, text: str, notice: str) -> None:
        """:meth:`notify` where a failure must stop nothing (it is reported all the same)."""
        try:
            self.notify(conversation, text, notice)
        except Exception:
            log.exception("Sending the %s to #%d failed.", notice, conversation.number)

    def acknowledge(
        self, conversation: Conversation, text: str, notice: str
    ) -> threading.Event | None:
        """Acknowledge a new conversation before agents see it, so that no agent's reply can
        reach the customer first, without holding the agents up for a slow publish.

        The acknowledgement goes out on a thread of its own; this waits until it was sent, or
        ``ACKNOWLEDGEMENT_HEAD_START`` seconds at most (a publish being retried). (A relay
        pass over the store, every ``SUPPORT_RETRY_INTERVAL``, may show the message meanwhile:
        then only an agent who reads and answers within that wait is first.) One that fails
        is reported on its conversation once the agents have seen it: the caller sets the
        returned event when its relay is done.
        """
        if self._stopping.is_set():
            return None
        desk = self._desk
        sent, relayed = threading.Event(), threading.Event()

        def acknowledge() -> None:
            try:
                entry = desk.begin_notice(conversation.number, text, notice)
                reason = self.deliver(conversation, entry, author=None, kind=None, report=False)
            except Exception:
                log.exception("Acknowledging conversation #%d failed.", conversation.number)
                return
            finally:
                sent.set()
            if reason not in (None, STOPPING_REASON):  # stopping: reported at the next start
                relayed.wait()
                self.report_undelivered(conversation, entry, reason)

        threading.Thread(
            target=acknowledge, name=f"support-ack-{conversation.number}", daemon=True
        ).start()
        sent.wait(ACKNOWLEDGEMENT_HEAD_START)
        return relayed

    def report_undelivered(self, conversation: Conversation, entry: Entry, reason: str) -> None:
        text = formatting.undelivered(conversation, entry, reason, self._prefix)
        try:
            self._posts.about(conversation, text)
        except Exception:
            log.exception("Could not report an undelivered message to the agent room.")

    def _send(self, room: str, body: str, extras: dict) -> None:
        """Send ``body`` to the customer chat ``room``; raises if the network refuses it."""
        message = self._bot.build_message(body)
        message.frm = self._bot.bot_identifier
        message.extras.update(extras)
        message.to = self._bot.build_identifier(room)
        self._bot.send_message(message)
