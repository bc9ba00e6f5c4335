"""One Slack thread per conversation (``SUPPORT_THREADS``), against the real
errbot-backend-slackv3: its ``send_message`` must post a conversation's later messages in the
thread of its announcement, and a message an agent writes in that thread must lead back to the
conversation.

Slack's Web API cannot be reached from here: the backend's web client is a recorder that
answers like Slack does for the two calls involved (conversations.info, chat.postMessage).
Everything else is the backend's own code.
"""

from __future__ import annotations

import itertools
import logging
import sys
from pathlib import Path
from typing import Any

from errbot.backends.base import Message
from errbot.bootstrap import setup_bot

from errbot_support.threads import ConversationThreads
from tests.botrunner import make_config
from tests.support_fixtures import *  # noqa: F403 (the desk fixture and what it needs)
from tests.support_fixtures import customer_message

CHANNEL = "C0SUPPORT"


class SlackWebAPI:
    """What the backend asks Slack, and Slack's answers, for posting in one channel."""

    def __init__(self) -> None:
        self.posted: list[dict[str, Any]] = []
        self._stamps = (f"1700000000.{n:06d}" for n in itertools.count(1))

    def conversations_info(self, channel: str) -> dict[str, Any]:
        return {
            "ok": True,
            "channel": {
                "id": channel,
                "name": "support",
                "topic": {"value": ""},
                "purpose": {"value": ""},
            },
        }

    def chat_postMessage(self, **data: Any) -> dict[str, Any]:
        self.posted.append(data)
        return {"ok": True, "ts": next(self._stamps)}


def slack_backend(tmp_path: Path) -> tuple[Any, SlackWebAPI, type]:
    """The backend as errbot builds it (not connected), Slack's API, and the backend's room
    class (errbot loads the backend module under a name of its own)."""
    config = make_config(tmp_path, BOT_IDENTITY={"token": "xoxb-not-used"})
    backend = setup_bot("SlackV3", logging.getLogger("errbot"), config)
    assert type(backend).__name__ == "SlackBackend"
    backend.slack_web = api = SlackWebAPI()
    return backend, api, sys.modules[type(backend).__module__].SlackRoom


def test_a_conversations_messages_go_in_its_slack_thread_and_replies_lead_back(
    tmp_path, caplog, desk
):
    backend, api, slack_room = slack_backend(tmp_path)
    room = slack_room(webclient=api, channelid=CHANNEL, bot=backend)
    threads = ConversationThreads(desk)
    number = desk.receive(customer_message("dana-chat")).conversation.number

    announcement = Message(f"**#{number}** New conversation with **dana**", to=room)
    with caplog.at_level(logging.ERROR):
        backend.send_message(announcement)
        threads.started(number, announcement)
        later = Message("**#1** **dana**: are you there?", to=room, parent=threads.parent_of(1))
        backend.send_message(later)
    # slackv3 logs an error when a parent carries no timestamp it can read.
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    first, second = api.posted
    assert "thread_ts" not in first
    assert second["thread_ts"] == announcement.extras["ts"][0] == "1700000000.000001"

    # Slack's event for an agent's message in that thread, as slackv3 passes it on.
    answer = Message(
        "Hello Dana!",
        to=room,
        extras={"slack_event": {"ts": "1700000050.000001", "thread_ts": "1700000000.000001"}},
    )
    assert threads.conversation_of(answer) == number
    elsewhere = Message("Lunch?", to=room, extras={"slack_event": {"ts": "1700000060.000001"}})
    assert threads.conversation_of(elsewhere) is None

    # After a restart: the thread is found again from what the conversation kept.
    restarted = ConversationThreads(desk)
    assert restarted.conversation_of(answer) == number
    with caplog.at_level(logging.ERROR):
        backend.send_message(
            Message("**#1** **dana**: hello?", to=room, parent=restarted.parent_of(number))
        )
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert api.posted[-1]["thread_ts"] == "1700000000.000001"
    assert restarted.parent_of(number + 1) is None  # no such conversation, no thread
