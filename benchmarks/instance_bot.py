"""One instance of the bot in a process of its own, for the instances benchmark.

``python -m benchmarks.instance_bot SETTINGS_JSON`` starts the bot of :mod:`benchmarks.bot`
(customers on the local PubNub server, agents on Errbot's ``Test`` backend) with the Support
store and the PubNub delivery state on one PostgreSQL database and the channel groups shared
among the instances (``PUBNUB_SHARE_GROUPS``). It prints JSON lines on stdout: ``{"ready":
pid}`` once the Support plugin is active, then what reached the agent room, stamped where the
``Test`` backend hands it over, in batches (``{"room": [[at, where, text], ...]}``). SIGTERM
stops the bot as ``errbot`` stops it; SIGKILL is what the benchmark measures a takeover after.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from benchmarks.bot import RunningBot, config

BATCH_SECONDS = 0.05
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


def forward(bot: RunningBot, stopping: threading.Event) -> None:
    """Hand what reached the agent room to the harness, a batch at a time."""
    while True:
        stopped = stopping.wait(BATCH_SECONDS)
        batch = bot.agent_room.take()
        if batch:
            say(room=batch)
        if stopped:
            return


def main() -> None:
    given = json.loads(sys.argv[1])
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda number, frame: stopping.set())
    bot = RunningBot(settings_of(given))
    say(ready=given["number"])
    sender = threading.Thread(target=forward, args=(bot, stopping), name="room-forward")
    sender.start()
    while not stopping.wait(0.5):
        pass
    bot.stop()
    sender.join()


if __name__ == "__main__":
    main()
