"""Time, subscribe (handshake and long-poll), publish and signal."""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.parse
from typing import Any

from aiohttp import web

from errbot_pubnub.emulator import params
from errbot_pubnub.emulator.access import Requirement
from errbot_pubnub.emulator.context import EmulatorContext, context_of
from errbot_pubnub.emulator.errors import bad_request, publish_error
from errbot_pubnub.emulator.presence import DEFAULT_PRESENCE_TIMEOUT
from errbot_pubnub.emulator.state import PRESENCE_SUFFIX, PublishedMessage, Waiter

#: PubNub hands a subscriber at most this many messages per answer.
MAX_MESSAGES_PER_ANSWER = 100


class ServerGoingDown(Exception):
    """A waiting long-poll must lose its connection: the server is going down."""


async def time(request: web.Request) -> web.Response:
    return web.json_response([context_of(request).clock.next()])


async def subscribe(request: web.Request) -> web.Response:
    ctx = context_of(request)
    keyset = ctx.keyset(request.match_info["sub_key"])
    channels = params.names(request.match_info["channels"])
    groups = params.names(request.query.get("channel-group"))
    if not channels and not groups:
        raise bad_request("Missing channel or channel group", service="Balancer")
    if request.query.get("filter-expr"):
        raise bad_request("Filter expressions are not supported by this server")
    await ctx.authorize(request, Requirement(read_channels=channels, read_groups=groups))
    since = params.timetoken(request, "tt", 0) or 0
    user = params.user_id(request)
    loop = asyncio.get_running_loop()
    keyset.presence.touch(
        user,
        [c for c in channels if not c.endswith(PRESENCE_SUFFIX)],
        [g for g in groups if not g.endswith(PRESENCE_SUFFIX)],
        now=loop.time(),
        timeout=params.number(request, "heartbeat", DEFAULT_PRESENCE_TIMEOUT),
    )
    if since == 0:
        return _subscribe_answer(ctx, keyset.subscribe_key, ctx.clock.next(), [])
    ctx.clock.advance_past(since)

    waiter = Waiter(frozenset(channels), frozenset(groups), user)
    deadline = loop.time() + ctx.settings.subscribe_timeout
    keyset.add_waiter(waiter)
    try:
        while True:
            found = keyset.pending(
                channels,
                groups,
                since,
                window=ctx.settings.catchup_size,
                not_before=ctx.catchup_floor(),
            )
            if found:
                batch = found[:MAX_MESSAGES_PER_ANSWER]
                cursor = batch[-1][0].timetoken
                return _subscribe_answer(ctx, keyset.subscribe_key, cursor, batch)
            if ctx.down:
                raise ServerGoingDown
            remaining = deadline - loop.time()
            if remaining <= 0:
                return _subscribe_answer(ctx, keyset.subscribe_key, since, [])
            waiter.event.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(waiter.event.wait(), remaining)
    finally:
        keyset.remove_waiter(waiter)


def _subscribe_answer(
    ctx: EmulatorContext,
    subscribe_key: str,
    cursor: int,
    batch: list[tuple[PublishedMessage, str | None]],
) -> web.Response:
    region = ctx.settings.region
    return web.json_response(
        {
            "t": {"t": str(cursor), "r": region},
            "m": [_envelope(message, match, subscribe_key, region) for message, match in batch],
        }
    )


def _envelope(
    message: PublishedMessage, match: str | None, subscribe_key: str, region: int
) -> dict[str, Any]:
    envelope: dict[str, Any] = {
        "a": "1",
        "f": 0,
        "p": {"t": str(message.timetoken), "r": region},
        "k": subscribe_key,
        "c": message.channel,
        "d": message.message,
    }
    if message.publisher:
        envelope["i"] = message.publisher
    if match is not None:
        envelope["b"] = match
    if message.meta is not None:
        envelope["u"] = message.meta
    if message.signal:
        envelope["e"] = 1
    if message.action:
        envelope["e"] = 3
    if message.custom_message_type:
        envelope["cmt"] = message.custom_message_type
    return envelope


async def publish(request: web.Request) -> web.Response:
    return await _send(request, signal=False)


async def signal(request: web.Request) -> web.Response:
    return await _send(request, signal=True)


async def _send(request: web.Request, *, signal: bool) -> web.Response:
    ctx = context_of(request)
    info = request.match_info
    keyset = ctx.keyset(info["sub_key"], publish_key=info["pub_key"])
    channel = info["channel"]
    if not channel or "," in channel or channel.endswith(PRESENCE_SUFFIX):
        raise bad_request(f"Invalid channel name {channel!r}")
    if request.method == "POST":
        raw_message = await request.text()
    else:
        # Taken from the raw path: a decoded path would have split the message at any "/".
        raw_path = request.raw_path.partition("?")[0]
        raw_message = urllib.parse.unquote(raw_path.split("/", 7)[7])
    await ctx.authorize(request, Requirement(write_channels=[channel]))

    raw_meta = request.query.get("meta")
    if signal:
        if len(raw_message.encode()) > ctx.settings.max_signal_size:
            raise publish_error(413, "Signal Too Large", ctx.clock.last)
    else:
        size = len(urllib.parse.quote(channel + raw_message + (raw_meta or ""), safe="~"))
        if size > ctx.settings.max_message_size:
            raise publish_error(413, "Message Too Large", ctx.clock.last)
    try:
        message = json.loads(raw_message)
    except ValueError:
        raise publish_error(400, "Invalid JSON", ctx.clock.last) from None
    meta = params.json_value(raw_meta, "meta") if raw_meta else None
    if meta is not None and not isinstance(meta, dict):
        raise publish_error(400, "Invalid meta: it must be a JSON object", ctx.clock.last)

    published = PublishedMessage(
        channel=channel,
        message=message,
        timetoken=ctx.clock.next(),
        publisher=params.user_id(request) or None,
        meta=meta,
        stored=ctx.settings.message_persistence
        and not signal
        and request.query.get("store") != "0",
        signal=signal,
        custom_message_type=request.query.get("custom_message_type") or None,
    )
    keyset.record(published)
    return web.json_response([1, "Sent", str(published.timetoken)])


def add_routes(router: web.UrlDispatcher) -> dict[web.AbstractRoute, str]:
    """Register the handlers; returns each route's operation name (see ``faults.OPERATIONS``)."""
    publish_path = "/publish/{pub_key}/{sub_key}/{signature}/{channel}/{callback}"
    signal_path = "/signal/{pub_key}/{sub_key}/{signature}/{channel}/{callback}"
    return {
        router.add_get("/time/{callback}", time): "time",
        router.add_get("/v2/subscribe/{sub_key}/{channels}/{callback}", subscribe): "subscribe",
        router.add_get(publish_path + "/{message:.+}", publish): "publish",
        router.add_post(publish_path, publish): "publish",
        router.add_get(signal_path + "/{message:.+}", signal): "signal",
    }
