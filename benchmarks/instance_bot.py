"""One instance of the bot in a process of its own, for the instances benchmark.

``python -m benchmarks.instance_bot SETTINGS_JSON`` starts the bot of :mod:`benchmarks.bot`
(customers on the local PubNub server, agents on Errbot's ``Test`` backend) with the Support
store and the PubNub delivery state on one PostgreSQL database and the channel groups shared
among the instances (``PUBNUB_SHARE_GROUPS``). It prints JSON lines on stdout: ``{"ready":
number}`` once the Support plugin is active, then each post to the agent room as the ``Test``
backend hands it over (``{"room": [[at, where, text]]}``), written to the pipe before the post
returns: the pipe is the agents' network, and what was written to it survives a ``kill -9``
as a line sent to a chat server would. SIGTERM stops the bot as ``errbot`` stops it; SIGKILL
is what the benchmark measures a takeover after.
"""

from __future__ import annotations

import json
import queue
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.bot import AGENT_ROOM, CONVERSATION, RunningBot, config

_print_lock = threading.Lock()


def say(**fields: Any) -> None:
    line = json.dumps(fields)
    with _print_lock:
        print(line, flush=True)


def settings_of(given: dict[str, Any]) -> Any:
    """The bot's settings: the benchmark's production-like ones, on the shared database."""
    url = given["database"]
    settings = config(
        Path(given["data_dir"]),
        given["origin"],
        given["groups"][0],
        {
            "PUBNUB_CHANNEL_GROUP": list(given["groups"]),
            "PUBNUB_DELIVERY_DB_URL": url,
            "PUBNUB_SHARE_GROUPS": True,
        },
    )
    settings.SUPPORT_DB_URL = url
    settings.INSTANCES_TAKEOVER_SECONDS = given["takeover_seconds"]
    return settings


class PipedRoom(queue.Queue):
    """The ``Test`` backend's outgoing queue, replaced: each post is stamped and sent to the
    harness at once, placed in its conversation (``#N``) as :class:`benchmarks.bot.AgentRoom`
    places it."""

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        text = str(item)
        number = CONVERSATION.match(text)
        say(room=[(time.time(), number[0] if number else AGENT_ROOM, text)])


def main() -> None:
    given = json.loads(sys.argv[1])
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda number, frame: stopping.set())
    bot = RunningBot(settings_of(given))
    bot.agents.outgoing_message_queue = PipedRoom()
    started = bot.agent_room.take()  # posted while starting, before the swap
    if started:
        say(room=started)
    say(ready=given["number"])
    while not stopping.wait(0.5):
        pass
    bot.stop()


if __name__ == "__main__":
    main()
