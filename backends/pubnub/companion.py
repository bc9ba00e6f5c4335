"""The ``PubNub`` admin plugin: the connection's health and undelivered messages, from chat."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from errbot import BotPlugin, arg_botcmd, botcmd
from errbot.backends.base import Message

from errbot_pubnub.backend import PubNubBackend
from errbot_pubnub.dead_letters import DeadLetter

NOT_ON_PUBNUB = "This bot is not connected to PubNub: its backend is {backend}, not PubNub."
_PAYLOAD_PREVIEW = 300


def find_pubnub_backend(bot: Any) -> PubNubBackend | None:
    """The PubNub backend serving ``bot``: the bot itself, or one its host backend runs."""
    if isinstance(bot, PubNubBackend):
        return bot
    inners = getattr(bot, "inner_backends", None)
    if callable(inners):
        inners = inners()
    if isinstance(inners, Mapping):
        inners = inners.values()
    if isinstance(inners, Iterable):
        return next((inner for inner in inners if isinstance(inner, PubNubBackend)), None)
    return None


def _preview(payload: Any) -> str:
    try:
        text = json.dumps(payload, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        text = repr(payload)
    return text if len(text) <= _PAYLOAD_PREVIEW else text[:_PAYLOAD_PREVIEW] + "…"


def describe_dead_letter(letter: DeadLetter) -> str:
    return (
        f"- {letter.sent_at:%Y-%m-%d %H:%M:%S} UTC, channel {letter.channel}, "
        f"from {letter.publisher or 'unknown'}, timetoken {letter.timetoken}: {letter.reason}\n"
        f"  payload: `{_preview(letter.payload)}`"
    )


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
            f"{backend.dead_letters.total} undelivered PubNub message(s) since start; "
            f"the last {len(letters)}:"
        )
        return "\n".join([header, *(describe_dead_letter(letter) for letter in letters)])


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
        groups = ", ".join(f"{group} ({len(chans)})" for group, chans in by_group.items())
        total = len({c for chans in by_group.values() for c in chans})
        lines.append(f"Channel groups: {groups}; {total} channel(s) in all")
    lines.append(
        f"Messages delivered: {backend.inbound.delivered}; waiting: {backend.inbound.pending()}; "
        f"undelivered: {backend.dead_letters.total}"
    )
    warnings = backend.notices.recent()
    if warnings:
        lines.append("Recent warnings:")
        lines.extend(f"- {warning}" for warning in warnings[-5:])
    else:
        lines.append("No warnings.")
    return "\n".join(lines)
