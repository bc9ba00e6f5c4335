"""Agents on a paced network: IRC (ngircd) at Errbot's default pace of one line a second.

- **burst**: new customers all writing at once. Times from the first publish until every one
  is recorded and acknowledged (its acknowledgement delivered, read from the store as another
  process would), until the queue (what ``!queue`` lists) counts all of them, and until the
  agent room has announced all of them (or how many it had within the time allowed).
- **flood**: one customer publishing as fast as the SDK can for two seconds, while another
  writes every few seconds: how many posts a minute the flood costs the room, how many of its
  messages they carry, whether every one was recorded, and how long the other customer waits.
"""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path
from typing import Any

from benchmarks import sdk
from benchmarks.bot import RunningBot, config
from benchmarks.irc import Agent, IRCServerProcess
from benchmarks.publishers import CustomersProcess, payload
from errbot_support.settings import DEFAULT_FLOOD_PER_MINUTE

CHANNEL = "#support"
BOT_NICK = "helpdesk"
CALM_EVERY = 5.0  # seconds between two messages of the customer who is not flooding


def _bot(work: Path, name: str, origin: str, irc: IRCServerProcess, rate: float) -> RunningBot:
    settings = config(work / f"bot-{name}", origin, name)
    settings.BRIDGE_BACKENDS["agents"] = {
        "BACKEND": "IRC",
        "BOT_IDENTITY": {"nickname": BOT_NICK, "server": "127.0.0.1", "port": irc.port},
        "CHATROOM_PRESENCE": (CHANNEL,),
        "IRC_CHANNEL_RATE": rate,
        "IRC_PRIVATE_RATE": rate,
    }
    settings.SUPPORT_AGENT_ROOM = f"agents:{CHANNEL}"
    return RunningBot(settings)


def _acknowledged(database: Path) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        return connection.execute(
            "SELECT count(*) FROM support_entries "
            "WHERE notice = 'acknowledgement' AND delivery = 'delivered'"
        ).fetchone()[0]


def _recorded(database: Path, tag: str) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        return connection.execute(
            "SELECT count(*) FROM support_entries WHERE kind = 'customer' AND body LIKE ?",
            (f"{tag} %",),
        ).fetchone()[0]


def burst(
    work: Path,
    origin: str,
    admin: Any,
    customers: CustomersProcess,
    *,
    count: int,
    rate: float,
    announce_timeout: float,
) -> dict[str, Any]:
    irc = IRCServerProcess(work / "irc-burst")
    agent = Agent(irc.port, "alice", CHANNEL, BOT_NICK)
    channels = [f"burst-{n}" for n in range(count)]
    sdk.add_to_group(admin, "burst", channels)
    bot = _bot(work, "burst", origin, irc, rate)
    database = work / "bot-burst" / "support.sqlite"
    try:
        queue = bot.support.runtime.desk.queue
        conditions = {
            "recorded_and_acknowledged_s": lambda: _acknowledged(database) >= count,
            "queue_counts_all_s": lambda: len(queue()) >= count,
            "announced_all_s": lambda: len(_announced(agent)) >= count,
        }
        start = time.monotonic()
        published = customers.call("each", channels=channels, tag="burst")
        met = _first_times(conditions, start, announce_timeout)
        elapsed = time.monotonic() - start
        shown = len(_announced(agent))
        return {
            "server": irc.kind,
            "irc_channel_rate_s": rate,
            "customers": count,
            "published": published["published"],
            "publishing_s": round(published["ended"] - published["started"], 2),
            **met,
            "announced": shown,
            "announcements_per_minute": round(shown / (elapsed / 60), 1),
        }
    finally:
        bot.stop()
        agent.close()
        irc.close()


def _announced(agent: Agent) -> list[str]:
    return [text for _, text in agent.said() if "New conversation" in text]


def _first_times(conditions: dict[str, Any], start: float, timeout: float) -> dict[str, Any]:
    """For each condition, the seconds from ``start`` until it first held (None: not within
    ``timeout``)."""
    met: dict[str, Any] = dict.fromkeys(conditions)
    while time.monotonic() - start < timeout and None in met.values():
        for name, condition in conditions.items():
            if met[name] is None and condition():
                met[name] = round(time.monotonic() - start, 2)
        time.sleep(0.05)
    return met


def flood(
    work: Path,
    origin: str,
    admin: Any,
    customers: CustomersProcess,
    *,
    seconds: float,
    rate: float,
    window: float,
) -> dict[str, Any]:
    irc = IRCServerProcess(work / "irc-flood")
    agent = Agent(irc.port, "alice", CHANNEL, BOT_NICK)
    sdk.add_to_group(admin, "flood", ["flood-dana", "flood-erin"])
    bot = _bot(work, "flood", origin, irc, rate)
    database = work / "bot-flood" / "support.sqlite"
    erin = sdk.client(origin, "erin")
    try:
        dana = sdk.client(origin, "dana")  # the flood comes from who opened the conversation
        dana.publish().channel("flood-dana").message(payload("hello")).sync()
        sdk.stop(dana)
        erin.publish().channel("flood-erin").message(payload("hello")).sync()
        _first_times({"opened": lambda: len(_announced(agent)) >= 2}, time.monotonic(), 60)
        start = time.time()
        result = customers.call(
            "flood", channels=["flood-dana"], seconds=seconds, tag="flood", user_id="dana"
        )
        sent_calm: dict[str, float] = {}
        n = 0
        while time.time() - start < window:
            text = f"calm{n}"
            sent_calm[text] = time.time()
            erin.publish().channel("flood-erin").message(payload(text)).sync()
            n += 1
            time.sleep(CALM_EVERY)
        time.sleep(CALM_EVERY)  # the last one's turn
        said = [(at, text) for at, text in agent.said() if start <= at <= start + window]
        posts = [(at, text) for at, text in said if "flood " in text]
        carried = sum(len(re.findall(r"flood \d+\.\d+", text)) for _, text in posts)
        waits = []
        everything = agent.said()
        for text, sent in sent_calm.items():
            seen = next((at for at, line in everything if line.endswith(text)), None)
            if seen is not None:
                waits.append(seen - sent)
        return {
            "server": irc.kind,
            "irc_channel_rate_s": rate,
            "flood_published": result["published"],
            "flood_seconds": round(result["ended"] - result["started"], 2),
            "flood_recorded": _recorded(database, "flood"),
            "window_s": window,
            "posts_in_window": len(posts),
            "posts_per_minute": round(len(posts) / (window / 60), 1),
            "flood_messages_shown_in_window": carried,
            # Counted up to now, not in the window only: on a loaded machine it may come late.
            "flooding_notices": sum(
                "messages a minute" in text for at, text in everything if at >= start
            ),
            "flood_per_minute": DEFAULT_FLOOD_PER_MINUTE,
            "calm_messages": len(sent_calm),
            "calm_shown": len(waits),
            "calm_max_wait_s": round(max(waits), 2) if waits else None,
        }
    finally:
        sdk.stop(erin)
        bot.stop()
        agent.close()
        irc.close()
