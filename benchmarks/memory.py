"""Resident memory of the bot with many stored and open conversations.

The bot runs in a process of its own (``python -m benchmarks.memory``), so its memory is its
own, not the harness's. Its Support database is filled beforehand, in bulk, with resolved
conversations and open ones whose customers have a channel in the group; once the bot is up,
each open customer writes once, so every open conversation has been touched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import insert

from benchmarks.measure import wait_for_count
from benchmarks.publishers import ROOT, CustomersProcess
from errbot_support.database import default_url
from errbot_support.records import Delivery, Kind, Relay, State
from errbot_support.store import Store
from errbot_support.tables import conversations, entries

PREFIX = "BENCH "
INSERT_BATCH = 5_000


def fill(data_dir: Path, open_rooms: list[str], total: int, per_conversation: int) -> None:
    """``total`` conversations: one open in each of ``open_rooms``, the others resolved."""
    data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(default_url(data_dir))
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    conversation_rows, entry_rows = [], []
    for number in range(1, total + 1):
        opened = start + timedelta(minutes=number)
        is_open = number <= len(open_rooms)
        room = open_rooms[number - 1] if is_open else f"customers:earlier-{number % 3000}"
        customer = f"{room.split(':', 1)[1]}/customer-{number}"
        conversation_rows.append(
            {
                "id": number,
                "customer_room": room,
                "customer_id": customer,
                "customer_name": f"customer-{number}",
                "state": (State.ASSIGNED if is_open else State.RESOLVED).value,
                "agent": "alice",
                "agent_name": "Alice",
                "opened_at": opened,
                "first_reply_at": opened + timedelta(minutes=1),
                "resolved_at": None if is_open else opened + timedelta(minutes=20),
            }
        )
        for n in range(per_conversation):
            from_customer = n % 2 == 0
            entry_rows.append(
                {
                    "conversation_id": number,
                    "kind": (Kind.CUSTOMER if from_customer else Kind.REPLY).value,
                    "author": customer if from_customer else "alice",
                    "author_name": f"customer-{number}" if from_customer else "Alice",
                    "body": f"Message {n} of conversation {number}: my order has not arrived.",
                    "created_at": opened + timedelta(seconds=30 * n),
                    "source_room": room if from_customer else None,
                    "source_id": str(number * 1000 + n) if from_customer else None,
                    "relay": Relay.RELAYED.value if from_customer else None,
                    "opens_conversation": n == 0,
                    "delivery": None if from_customer else Delivery.DELIVERED.value,
                }
            )
    with store.engine.begin() as connection:
        for rows, table in ((conversation_rows, conversations), (entry_rows, entries)):
            for at in range(0, len(rows), INSERT_BATCH):
                connection.execute(insert(table), rows[at : at + INSERT_BATCH])
    store.close()


def measure(
    data_dir: Path, origin: str, group: str, customers: CustomersProcess, channels: list[str]
) -> dict[str, Any]:
    """Start the bot in its own process; have each of ``channels`` write once; its memory."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "benchmarks.memory", str(data_dir), origin, group]
    command.append(str(len(channels)))
    log = (data_dir.parent / f"{data_dir.name}.out").open("w")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
    try:
        active = _event(process)
        if channels:
            customers.call("each", channels=channels, tag="mem")
        relayed = _event(process)
        process.wait(60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        log.close()
    return {
        "rss_mb_active": active["rss_mb"],
        "rss_mb_relayed": relayed["rss_mb"],
        "peak_rss_mb": relayed["peak_rss_mb"],
        "relayed": relayed["relayed"],
    }


def _event(process: subprocess.Popen) -> dict[str, Any]:
    for line in process.stdout:
        if line.startswith(PREFIX):
            return json.loads(line[len(PREFIX) :])
    raise RuntimeError(f"the bot process ended early (exit code {process.wait()})")


def _rss_mb() -> float:
    return round(psutil.Process().memory_info().rss / 2**20, 1)


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return _rss_mb()


def _emit(**event: Any) -> None:
    print(PREFIX + json.dumps(event), flush=True)


def main() -> None:
    from benchmarks.bot import RunningBot, config

    data_dir, origin, group, expected = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    bot = RunningBot(config(data_dir, origin, group))
    try:
        backend = bot.bot.hosted_backends()["customers"]
        # Up means subscribed and caught up once (every channel of the group was looked at).
        wait_for_count(lambda: int(backend.tracker.resume_timetoken() is not None), 1)
        _emit(event="active", rss_mb=_rss_mb())
        wait_for_count(lambda: bot.agent_room.count("mem"), int(expected))
        _emit(
            event="relayed",
            rss_mb=_rss_mb(),
            peak_rss_mb=_peak_rss_mb(),
            relayed=bot.agent_room.count("mem"),
        )
    finally:
        bot.stop()


if __name__ == "__main__":
    main()
