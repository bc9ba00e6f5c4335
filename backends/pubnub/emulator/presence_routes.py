"""Leave, heartbeat and a basic here-now (occupants, no presence state)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from errbot_pubnub.emulator import params
from errbot_pubnub.emulator.access import Requirement
from errbot_pubnub.emulator.context import context_of
from errbot_pubnub.emulator.errors import bad_request
from errbot_pubnub.emulator.presence import DEFAULT_PRESENCE_TIMEOUT
from errbot_pubnub.emulator.state import PRESENCE_SUFFIX, Keyset

SERVICE = "Presence"
PRESENCE_PATH = "/v2/presence/sub-key/{sub_key}"


def _targets(request: web.Request) -> tuple[list[str], list[str]]:
    channels = params.names(request.match_info.get("channels"))
    groups = params.names(request.query.get("channel-group"))
    return channels, groups


async def leave(request: web.Request) -> web.Response:
    ctx = context_of(request)
    keyset = ctx.keyset(request.match_info["sub_key"])
    channels, groups = _targets(request)
    await ctx.authorize(request, Requirement(read_channels=channels, read_groups=groups))
    keyset.presence.leave(params.user_id(request), channels, groups)
    return web.json_response(
        {"status": 200, "message": "OK", "action": "leave", "service": SERVICE}
    )


async def heartbeat(request: web.Request) -> web.Response:
    ctx = context_of(request)
    keyset = ctx.keyset(request.match_info["sub_key"])
    channels, groups = _targets(request)
    if not channels and not groups:
        raise bad_request("Missing channel or channel group", service=SERVICE)
    await ctx.authorize(request, Requirement(read_channels=channels, read_groups=groups))
    keyset.presence.touch(
        params.user_id(request),
        [c for c in channels if not c.endswith(PRESENCE_SUFFIX)],
        [g for g in groups if not g.endswith(PRESENCE_SUFFIX)],
        now=asyncio.get_running_loop().time(),
        timeout=params.number(request, "heartbeat", DEFAULT_PRESENCE_TIMEOUT),
    )
    return web.json_response({"status": 200, "message": "OK", "service": SERVICE})


def occupants(keyset: Keyset, channel: str) -> list[str]:
    return keyset.presence.occupants(
        channel, keyset.groups_of(channel), now=asyncio.get_running_loop().time()
    )


async def here_now(request: web.Request) -> web.Response:
    ctx = context_of(request)
    keyset = ctx.keyset(request.match_info["sub_key"])
    channels, groups = _targets(request)
    if "channels" in request.match_info:
        await ctx.authorize(request, Requirement(read_channels=channels, read_groups=groups))
    else:
        await ctx.authorize(request, None, signed_only=True)
    with_uuids = request.query.get("disable_uuids") != "1"

    def channel_entry(users: list[str]) -> dict[str, Any]:
        entry: dict[str, Any] = {"occupancy": len(users)}
        if with_uuids:
            entry["uuids"] = users
        return entry

    if len(channels) == 1 and not groups:
        users = occupants(keyset, channels[0])
        return web.json_response(
            {"status": 200, "message": "OK", "service": SERVICE, **channel_entry(users)}
        )
    if "channels" in request.match_info:
        names = list(channels)
        for group in groups:
            names += keyset.channels_in(group)
    else:
        names = keyset.presence.channels_with_direct_presence()
        for group in keyset.presence.groups_with_presence():
            names += keyset.channels_in(group)
    report = {name: occupants(keyset, name) for name in dict.fromkeys(names)}
    report = {name: users for name, users in report.items() if users}
    return web.json_response(
        {
            "status": 200,
            "message": "OK",
            "service": SERVICE,
            "payload": {
                "channels": {name: channel_entry(users) for name, users in report.items()},
                "total_channels": len(report),
                "total_occupancy": sum(len(users) for users in report.values()),
            },
        }
    )


def add_routes(router: web.UrlDispatcher) -> dict[web.AbstractRoute, str]:
    return {
        router.add_get(PRESENCE_PATH + "/channel/{channels}/leave", leave): "leave",
        router.add_get(PRESENCE_PATH + "/channel/{channels}/heartbeat", heartbeat): "heartbeat",
        router.add_get(PRESENCE_PATH + "/channel/{channels}", here_now): "here_now",
        router.add_get(PRESENCE_PATH, here_now): "here_now",
    }
