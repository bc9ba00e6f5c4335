"""Message Persistence: fetch messages (history v3) and message counts.

``start`` is exclusive (older than), ``end`` inclusive; the newest ``max`` messages of the
range come back oldest first, at most 100 for one channel and 25 each for several. A keyset
without Message Persistence answers both with PubNub's 403 naming the missing add-on.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from errbot_pubnub.emulator import params
from errbot_pubnub.emulator.access import Requirement
from errbot_pubnub.emulator.actions_routes import actions_by_type
from errbot_pubnub.emulator.context import context_of
from errbot_pubnub.emulator.errors import bad_request, persistence_disabled
from errbot_pubnub.emulator.state import PublishedMessage

SINGLE_CHANNEL_MAX = 100
MULTI_CHANNEL_MAX = 25
MAX_CHANNELS = 500
SERVICE = "Storage"


def select(
    messages: list[PublishedMessage], start: int | None, end: int | None, limit: int
) -> list[PublishedMessage]:
    """The newest ``limit`` messages older than ``start`` and not older than ``end``."""
    in_range = [
        m
        for m in messages
        if (start is None or m.timetoken < start) and (end is None or m.timetoken >= end)
    ]
    return in_range[-limit:] if limit > 0 else []


def _item(
    message: PublishedMessage, request: web.Request, actions: list[dict[str, Any]] | None
) -> dict[str, Any]:
    item: dict[str, Any] = {"message": message.message, "timetoken": str(message.timetoken)}
    if params.flag(request, "include_uuid") and message.publisher:
        item["uuid"] = message.publisher
    if params.flag(request, "include_meta") and message.meta is not None:
        item["meta"] = message.meta
    if params.flag(request, "include_message_type"):
        item["message_type"] = None
    if params.flag(request, "include_custom_message_type") and message.custom_message_type:
        item["custom_message_type"] = message.custom_message_type
    if actions is not None:
        item["actions"] = actions_by_type(actions)
    return item


async def fetch_messages(request: web.Request) -> web.Response:
    ctx = context_of(request)
    keyset = ctx.keyset(request.match_info["sub_key"])
    channels = params.names(request.match_info["channels"])
    with_actions = request.path.startswith("/v3/history-with-actions/")
    if not channels:
        raise bad_request("Missing channel", service=SERVICE)
    if len(channels) > MAX_CHANNELS or (with_actions and len(channels) > 1):
        raise bad_request("Too many channels", service=SERVICE)
    if not ctx.settings.message_persistence:
        raise persistence_disabled()
    await ctx.authorize(request, Requirement(read_channels=channels))
    ceiling = SINGLE_CHANNEL_MAX if len(channels) == 1 else MULTI_CHANNEL_MAX
    if with_actions:
        ceiling = MULTI_CHANNEL_MAX
    limit = params.integer(request, "max", ceiling)
    limit = ceiling if limit < 1 or limit > ceiling else limit
    start = params.timetoken(request, "start")
    end = params.timetoken(request, "end")
    found: dict[str, list[dict[str, Any]]] = {}
    for channel in channels:
        chosen = select(keyset.history(channel), start, end, limit)
        if chosen:
            on_channel = keyset.actions.get(channel, {})
            found[channel] = [
                _item(m, request, on_channel.get(m.timetoken, []) if with_actions else None)
                for m in chosen
            ]
    return web.json_response(
        {"status": 200, "error": False, "error_message": "", "channels": found}
    )


async def message_counts(request: web.Request) -> web.Response:
    ctx = context_of(request)
    keyset = ctx.keyset(request.match_info["sub_key"])
    channels = params.names(request.match_info["channels"])
    if not channels:
        raise bad_request("Missing channel", service=SERVICE)
    if not ctx.settings.message_persistence:
        raise persistence_disabled()
    await ctx.authorize(request, Requirement(read_channels=channels))
    single = request.query.get("timetoken")
    several = request.query.get("channelsTimetoken")
    if single is not None:
        since = [params.timetoken(request, "timetoken")] * len(channels)
    elif several is not None:
        try:
            since = [int(value) for value in several.split(",")]
        except ValueError:
            raise bad_request("Invalid channelsTimetoken", service=SERVICE) from None
        if len(since) == 1:
            since *= len(channels)
        if len(since) != len(channels):
            raise bad_request(
                "channelsTimetoken must give one timetoken per channel", service=SERVICE
            )
    else:
        raise bad_request("Missing timetoken or channelsTimetoken", service=SERVICE)
    counts = {
        channel: sum(1 for m in keyset.history(channel) if m.timetoken > (tt or 0))
        for channel, tt in zip(channels, since, strict=True)
    }
    return web.json_response(
        {"status": 200, "error": False, "error_message": "", "channels": counts, "more": {}}
    )


def add_routes(router: web.UrlDispatcher) -> dict[web.AbstractRoute, str]:
    history = "/v3/history/sub-key/{sub_key}"
    return {
        router.add_get(history + "/channel/{channels}", fetch_messages): "fetch_messages",
        router.add_get(
            "/v3/history-with-actions/sub-key/{sub_key}/channel/{channels}", fetch_messages
        ): "fetch_messages",
        router.add_get(history + "/message-counts/{channels}", message_counts): "message_counts",
    }
