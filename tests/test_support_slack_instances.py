"""Two Support bots on Slack sharing one real PostgreSQL database: each command an agent writes
gets exactly one answer, whichever bot Slack hands it to.

Slack's Socket Mode hands each event to ONE of an app's connections, so a command may reach the
bot standing by, and it must answer it (nobody else got it). Both bots are the real
errbot-backend-slackv3 with the Support plugin, started and fed as Socket Mode does it (the
``hello`` that starts the plugins, then each event as a Socket Mode request through the
backend's own handlers). Slack itself cannot be reached from here: each bot's Web API client
and Socket Mode client are recorders that answer like Slack does for the calls involved
(users.info, conversations.info, chat.postMessage, and the acknowledgement of each Socket Mode
request; ``auth.test``'s answer is set as the backend keeps it), the Web API being one Slack
shared by both bots. Everything else is the backend's and the plugin's own code.

The two bots name the database by two URLs (one with an ``application_name``), as two bots on
two machines would be two processes: in one process, one URL is one instance.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from errbot.bootstrap import setup_bot
from slack_sdk.socket_mode.request import SocketModeRequest

from tests.botrunner import make_config, wait_for

pytest.importorskip("psycopg", reason="the postgresql extra (psycopg) is not installed")

AGENTS = "C0SUPPORT"
CUSTOMER = "C0DANA"
BOT_USER = "U0HELPDESK"
USERS = {"U0ALICE": "alice", "U0DANA": "dana", BOT_USER: "helpdesk"}
BOUND = 3.0


class SlackWebAPI:
    """The Web API calls the backend makes, answered as Slack does; one Slack for both bots,
    remembering who posted what (each bot's client says which bot it is)."""

    def __init__(self) -> None:
        self.posted: list[tuple[str, dict[str, Any]]] = []
        self._stamps = (f"1700000000.{n:06d}" for n in itertools.count(1))
        self._lock = threading.Lock()

    def client(self, bot: str) -> SlackClientOf:
        return SlackClientOf(self, bot)

    def said(self, channel: str, text: str) -> list[str]:
        """The bots (by name) that posted something containing ``text`` in ``channel``."""
        with self._lock:
            return [
                bot
                for bot, data in self.posted
                if data.get("channel") == channel and text in str(data.get("text", ""))
            ]

    def post(self, bot: str, data: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.posted.append((bot, data))
            return {"ok": True, "ts": next(self._stamps), "channel": data.get("channel")}


class SlackClientOf:
    """One bot's ``WebClient``: the methods slackv3 calls, by their SDK names."""

    def __init__(self, slack: SlackWebAPI, bot: str) -> None:
        self._slack = slack
        self._bot = bot

    def users_info(self, user: str) -> dict[str, Any]:
        name = USERS[user]
        return {
            "ok": True,
            "user": {
                "id": user,
                "name": name,
                "real_name": name.title(),
                "profile": {"display_name": name, "real_name": name.title(), "email": ""},
            },
        }

    def conversations_info(self, channel: str) -> dict[str, Any]:
        name = {AGENTS: "support", CUSTOMER: "dana-chat"}.get(channel, channel.lower())
        return {
            "ok": True,
            "channel": {
                "id": channel,
                "name": name,
                "is_member": True,
                "topic": {"value": ""},
                "purpose": {"value": ""},
            },
        }

    def chat_postMessage(self, **data: Any) -> dict[str, Any]:
        return self._slack.post(self._bot, data)


class SocketModeConnection:
    """One bot's Socket Mode client: what the backend acknowledges and listens with."""

    def __init__(self) -> None:
        self.acknowledged: list[str] = []
        self.message_listeners: list[Any] = []

    def send_socket_mode_response(self, response: Any) -> None:
        self.acknowledged.append(response.envelope_id)


class SlackBot:
    """One bot, connected as Socket Mode connects it."""

    def __init__(self, name: str, folder: Path, slack: SlackWebAPI, url: str) -> None:
        config = make_config(
            folder,
            BOT_IDENTITY={"token": "xoxb-not-used", "app_token": "xapp-not-used"},
            BOT_ADMINS=("@boss",),
            SUPPORT_AGENT_ROOM=AGENTS,
            SUPPORT_DB_URL=url,
            SUPPORT_RETRY_INTERVAL=0.2,
            SUPPORT_ACKNOWLEDGEMENT=None,
            INSTANCES_TAKEOVER_SECONDS=BOUND,
            SUPPRESS_CMD_NOT_FOUND=True,
        )
        self.name = name
        self.backend = setup_bot("SlackV3", logging.getLogger("errbot"), config)
        web = slack.client(name)
        backend_module = __import__(type(self.backend).__module__, fromlist=["SlackPerson"])
        self.backend.slack_web = web
        self.backend.auth = {"ok": True, "user_id": BOT_USER, "user": "helpdesk"}
        self.backend.bot_identifier = backend_module.SlackPerson(web, BOT_USER)
        self.socket = SocketModeConnection()
        self.socket.message_listeners.append(self.backend._sm_handle_hello)
        self._envelopes = itertools.count(1)

    def connect(self) -> None:
        """Slack's ``hello``: the backend starts the plugins."""
        self.backend._sm_handle_hello(self.socket, {"type": "hello"}, "{}")

    @property
    def support(self) -> Any:
        return self.backend.plugin_manager.get_plugin_obj_by_name("Support")

    def hand(self, user: str, channel: str, text: str, ts: str) -> None:
        """Slack hands this bot (and no other) a message event, through Socket Mode."""
        event = {"type": "message", "channel": channel, "user": user, "text": text, "ts": ts}
        request = SocketModeRequest(
            type="events_api",
            envelope_id=f"{self.name}-{next(self._envelopes)}",
            payload={"type": "event_callback", "event": event},
        )
        self.backend._sm_generic_event_handler(self.socket, request)

    def stop(self) -> None:
        self.backend.disconnect_callback()
        self.backend.shutdown()


@contextmanager
def two_bots(folder: Path, url: str) -> Iterator[tuple[SlackWebAPI, SlackBot, SlackBot]]:
    """Slack, the active bot (connected first) and a bot standing by, on one database."""
    slack = SlackWebAPI()
    active = SlackBot("active", folder / "active", slack, url)
    standby = SlackBot("standby", folder / "standby", slack, f"{url}?application_name=standby")
    started: list[SlackBot] = []
    try:
        active.connect()
        started.append(active)
        wait_for(lambda: active.support.runtime.agents.running, timeout=10)
        standby.connect()
        started.append(standby)
        wait_for(lambda: standby.support.runtime is not None, timeout=10)
        assert not standby.support.runtime.agents.running
        yield slack, active, standby
    finally:
        for bot in reversed(started):
            bot.stop()


def test_a_command_slack_hands_the_standby_gets_exactly_one_answer(tmp_path, postgres_database):
    with two_bots(tmp_path, postgres_database) as (slack, active, standby):
        # Dana writes; Slack hands her message to the standby, which takes it in; the active
        # bot announces the conversation in the agent channel.
        standby.hand("U0DANA", CUSTOMER, "my parcel has not arrived", "1700000100.000001")
        wait_for(lambda: slack.said(AGENTS, "New conversation with"))
        assert slack.said(AGENTS, "my parcel has not arrived") == ["active"]

        # Alice claims it; Slack hands the command to the standby only: it answers, once.
        standby.hand("U0ALICE", AGENTS, "!claim 1", "1700000200.000001")
        wait_for(lambda: slack.said(AGENTS, "is yours"))
        # Her next command Slack hands to the active bot: answered once, by it.
        active.hand("U0ALICE", AGENTS, "!queue", "1700000300.000001")
        wait_for(lambda: len(slack.posted) == 3)
        assert active.support.runtime.agents.relays.wait_until_idle()
        posts = [(bot, data["text"]) for bot, data in slack.posted]
        assert [bot for bot, _ in posts] == ["active", "standby", "active"]
        announcement, claimed, queue = (text for _, text in posts)
        assert announcement.startswith("*#1* New conversation with *Dana*")
        assert claimed.startswith("*#1* is yours, Alice.")
        assert queue.startswith("1 open conversation(s), 0 waiting:\n*#1* Alice, ")
        assert active.support.runtime.desk.get(1).agent_name == "Alice"
        assert standby.socket.acknowledged == ["standby-1", "standby-2"]
        assert active.socket.acknowledged == ["active-1"]
