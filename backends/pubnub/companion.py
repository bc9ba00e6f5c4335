"""The ``PubNub`` admin plugin: the connection's health and undelivered messages, from chat."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import Any

from errbot import BotPlugin, arg_botcmd, botcmd
from errbot.backends.base import Message

from errbot_bridge import find_backends
from errbot_pubnub.backend import PubNubBackend
from errbot_pubnub.dead_letters import DeadLetter
from errbot_pubnub.delivery import DurableDeliveries
from errbot_pubnub.inbound import Replay
from errbot_pubnub.message import timetoken_to_datetime

NOT_ON_PUBNUB = "This bot is not connected to PubNub: its backend is {backend}, not PubNub."
REPLAY_USAGE = (
    "Say which undelivered messages to replay: `pubnub replay 12` (numbers from "
    "`pubnub undelivered`, several allowed) or `pubnub replay all`."
)
REPLAY_TIMEOUT = 60.0
_PAYLOAD_PREVIEW = 300


def find_pubnub_backend(bot: Any) -> PubNubBackend | None:
    """The PubNub backend serving ``bot``: the bot itself, or the one a Bridge hosts."""
    if isinstance(bot, PubNubBackend):
        return bot
    found = find_backends(bot, "PubNub")
    return found[0] if found else None


def _preview(payload: Any) -> str:
    try:
        text = json.dumps(payload, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        text = repr(payload)
    return text if len(text) <= _PAYLOAD_PREVIEW else text[:_PAYLOAD_PREVIEW] + "…"


def describe_dead_letter(letter: DeadLetter) -> str:
    return (
        f"- #{letter.id} {letter.sent_at:%Y-%m-%d %H:%M:%S} UTC, channel {letter.channel}, "
        f"from {letter.publisher or 'unknown'}, timetoken {letter.timetoken}: {letter.reason}\n"
        f"  payload: `{_preview(letter.payload)}`"
    )


def describe_replay(replay: Replay) -> str:
    letter = replay.letter
    where = f"#{letter.id} (channel {letter.channel}, timetoken {letter.timetoken})"
    if not replay.done.is_set():
        return f"- {where}: still being handled"
    if replay.outcome == "delivered":
        return f"- {where}: delivered, removed from the list"
    if replay.outcome == "ignored":
        return f"- {where}: {replay.reason}, removed from the list"
    return f"- {where}: still undeliverable: {replay.reason}"


class PubNubAdmin(BotPlugin):
    """Admin commands for the PubNub backend's connection."""

    def _backend(self) -> PubNubBackend | None:
        return find_pubnub_backend(self._bot)

    def _not_on_pubnub(self) -> str:
        return NOT_ON_PUBNUB.format(backend=getattr(self._bot, "mode", "unknown"))

    @botcmd(admin_only=True)
    def pubnub_status(self, msg: Message, args: str) -> str:
        """Connection state, channel groups, channel count and recent warnings."""
        backend = self._backend()
        if backend is None:
            return self._not_on_pubnub()
        return status_report(backend)

    @arg_botcmd(
        "--count", type=int, default=10, help="how many to show (newest last)", admin_only=True
    )
    def pubnub_undelivered(self, msg: Message, count: int) -> str:
        """The messages that could not be delivered (unreadable payloads), newest last."""
        backend = self._backend()
        if backend is None:
            return self._not_on_pubnub()
        letters = backend.dead_letters.latest(count)
        if not letters:
            return "No undelivered PubNub message."
        header = (
            f"{len(backend.dead_letters)} kept for replay; {backend.dead_letters.total} "
            f"undelivered PubNub message(s) since start; the last {len(letters)}:"
        )
        return "\n".join([header, *(describe_dead_letter(letter) for letter in letters)])

    @botcmd(admin_only=True)
    def pubnub_replay(self, msg: Message, args: str) -> str:
        """Deliver undelivered messages again (after fixing the converter): `all` or numbers."""
        backend = self._backend()
        if backend is None:
            return self._not_on_pubnub()
        words = args.split()
        if not words:
            return REPLAY_USAGE
        if words == ["all"]:
            letters = list(backend.dead_letters)
        else:
            try:
                numbers = [int(word.lstrip("#")) for word in words]
            except ValueError:
                return REPLAY_USAGE
            letters = []
            for number in numbers:
                letter = backend.dead_letters.get(number)
                if letter is None:
                    return f"There is no undelivered message #{number}: see `pubnub undelivered`."
                letters.append(letter)
        if not letters:
            return "No undelivered PubNub message to replay."
        replays = [backend.inbound.replay(letter) for letter in letters]
        deadline = time.monotonic() + REPLAY_TIMEOUT
        for replay in replays:
            replay.done.wait(max(0.0, deadline - time.monotonic()))
        delivered = sum(r.outcome in ("delivered", "ignored") for r in replays)
        header = f"Replayed {len(replays)} undelivered message(s): {delivered} handled."
        return "\n".join([header, *(describe_replay(replay) for replay in replays)])


def status_report(backend: PubNubBackend) -> str:
    settings = backend.settings
    snapshot = backend.connection.snapshot
    state = f"{snapshot.state} since {snapshot.since:%Y-%m-%d %H:%M:%S} UTC"
    if snapshot.detail:
        state += f" ({snapshot.detail})"
    lines = [
        f"PubNub: {state}",
        f"Support user: {settings.user_id}; origin: {settings.origin or 'PubNub'}"
        f"{'' if settings.ssl else ' (no TLS)'}; access: {settings.access}",
        f"Converter: {type(settings.converter).__module__}.{type(settings.converter).__name__}",
    ]
    try:
        by_group = backend.channels_by_group()
    except Exception as exc:
        lines.append(f"Channel groups: {', '.join(settings.channel_groups)} (cannot list: {exc})")
    else:
        groups = ", ".join(
            backend.capacity.describe(group, len(chans)) for group, chans in by_group.items()
        )
        total = len({c for chans in by_group.values() for c in chans})
        lines.append(f"Channel groups: {groups}; {total} channel(s) in all")
    if settings.share_groups and backend.subscription is not None:
        held = ", ".join(backend.subscription.groups()) or "none"
        lines.append(f"Taken in by this instance (PUBNUB_SHARE_GROUPS): {held}")
    lines.append(
        f"Messages delivered: {backend.inbound.delivered}; waiting: {backend.inbound.pending()}; "
        f"undelivered: {backend.dead_letters.total} since start, {len(backend.dead_letters)} kept"
    )
    lines.extend(delivery_report(backend))
    warnings = backend.notices.recent()
    if warnings:
        lines.append("Recent warnings:")
        lines.extend(f"- {warning}" for warning in warnings[-5:])
    else:
        lines.append("No warnings.")
    return "\n".join(lines)


def delivery_report(backend: PubNubBackend) -> list[str]:
    """Where delivery stands: history, catch-up, cursors, retries."""
    lines = []
    subscription = backend.subscription
    if subscription is not None:
        line = f"History: {subscription.history}"
        report = subscription.last_catch_up
        if report is not None:
            line += f"; last catch-up: {report.summary()}"
        lines.append(f"{line}; resubscriptions: {subscription.reconnections}")
    tracker = backend.tracker
    if isinstance(tracker, DurableDeliveries):
        cursors = tracker.cursors()
        resume = tracker.resume_timetoken()
        since = f"{_when(resume)}" if resume else "not yet"
        lines.append(
            f"Delivery state: {tracker.database.url}; {len(cursors)} channel cursor(s); "
            f"resume point {since}; {tracker.commits} commit(s) since start"
        )
    publisher = backend.publisher
    if publisher is not None:
        lines.append(f"Publish retries since start: {publisher.retries}")
    return lines


def _when(timetoken: int) -> str:
    moment: datetime = timetoken_to_datetime(timetoken).astimezone(timezone.utc)
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"
