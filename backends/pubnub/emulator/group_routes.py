"""Channel groups: add, remove, list channels; delete a group."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from errbot_pubnub.emulator import params
from errbot_pubnub.emulator.access import Requirement
from errbot_pubnub.emulator.context import context_of
from errbot_pubnub.emulator.errors import bad_request
from errbot_pubnub.emulator.state import GroupCapacityExceeded

SERVICE = "channel-registry"
OperationOf = Callable[[web.Request], str]
GROUP_PATH = "/v1/channel-registration/sub-key/{sub_key}/channel-group"


def _ok(**extra: Any) -> web.Response:
    return web.json_response(
        {"status": 200, "message": "OK", "service": SERVICE, "error": False, **extra}
    )


def operation_of(request: web.Request) -> str:
    """One path serves three operations, told apart by the query."""
    if "add" in request.query:
        return "add_channels"
    if "remove" in request.query:
        return "remove_channels"
    return "list_channels"


async def change_or_list(request: web.Request) -> web.Response:
    ctx = context_of(request)
    keyset = ctx.keyset(request.match_info["sub_key"])
    group = request.match_info["group"]
    await ctx.authorize(request, Requirement(manage_groups=[group]))
    operation = operation_of(request)
    if operation == "list_channels":
        return web.json_response(
            {
                "status": 200,
                "payload": {"channels": keyset.channels_in(group), "group": group},
                "service": SERVICE,
                "error": False,
            }
        )
    channels = params.names(request.query.get(operation.split("_")[0]))
    if not channels:
        raise bad_request("Missing channels to " + operation.split("_")[0], service=SERVICE)
    if operation == "add_channels":
        try:
            keyset.add_channels(group, channels)
        except GroupCapacityExceeded as error:
            raise bad_request(str(error), service=SERVICE) from None
    else:
        keyset.remove_channels(group, channels)
    return _ok()


async def remove_group(request: web.Request) -> web.Response:
    ctx = context_of(request)
    keyset = ctx.keyset(request.match_info["sub_key"])
    group = request.match_info["group"]
    await ctx.authorize(request, Requirement(manage_groups=[group]))
    keyset.remove_group(group)
    return _ok()


async def list_groups(request: web.Request) -> web.Response:
    ctx = context_of(request)
    keyset = ctx.keyset(request.match_info["sub_key"])
    await ctx.authorize(request, None, signed_only=True)
    return web.json_response(
        {
            "status": 200,
            "payload": {"groups": keyset.group_names()},
            "service": SERVICE,
            "error": False,
        }
    )


def add_routes(router: web.UrlDispatcher) -> dict[web.AbstractRoute, str | OperationOf]:
    return {
        router.add_get(GROUP_PATH + "/{group}", change_or_list): operation_of,
        router.add_get(GROUP_PATH + "/{group}/remove", remove_group): "remove_group",
        router.add_get(GROUP_PATH, list_groups): "list_channels",
    }
