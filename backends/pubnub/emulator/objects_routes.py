"""App Context (Objects v2): users, channels and memberships, as the SDKs and the Chat SDK use them.

A user's or a channel's metadata is got, set (a partial update) and removed; both are listed
with ``filter``, ``sort``, ``limit``, pages and ``count``. Memberships are read and changed from
either side: a user's channels (``/uuids/{id}/channels``) or a channel's members
(``/channels/{id}/uuids``), with the ``include`` options (``custom``, ``status``, ``type``,
``channel``, ``channel.custom``, ``uuid``, ``uuid.custom``...). Removing a user or a channel
removes its memberships, as on PubNub.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from errbot_pubnub.emulator import app_context
from errbot_pubnub.emulator.access import Requirement
from errbot_pubnub.emulator.app_context import (
    CHANNEL_FIELDS,
    USER_FIELDS,
    AppContext,
    ListError,
    includes,
)
from errbot_pubnub.emulator.context import context_of
from errbot_pubnub.emulator.errors import PubNubError, bad_request

OBJECTS = "/v2/objects/{sub_key}"
UUID_PATH = OBJECTS + "/uuids/{uuid}"
CHANNEL_PATH = OBJECTS + "/channels/{channel}"
SERVICE = "objects"


def _not_found() -> PubNubError:
    return PubNubError(
        404,
        {
            "status": 404,
            "error": {"message": "Requested object was not found.", "source": "objects"},
        },
    )


def _invalid(message: str) -> PubNubError:
    return PubNubError(
        400,
        {"status": 400, "error": {"message": message, "source": "objects", "details": []}},
    )


async def _authorized(request: web.Request, requirement: Requirement | None) -> AppContext:
    """The keyset's App Context, once the request may do what it asks."""
    ctx = context_of(request)
    keyset = ctx.keyset(request.match_info["sub_key"])
    await ctx.authorize(request, requirement, signed_only=requirement is None)
    return keyset.context


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.text() or "{}")
    except ValueError:
        raise bad_request("Request body is not valid JSON", service=SERVICE) from None
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object", service=SERVICE)
    return body


def _one(stored: dict[str, Any], request: web.Request) -> web.Response:
    include = includes(request.query.get("include"))
    return web.json_response({"status": 200, "data": app_context.shown(stored, include)})


def _listed(
    items: list[tuple[dict[str, Any], dict[str, Any]]], request: web.Request
) -> web.Response:
    try:
        answer = app_context.page(items, request.query, request.query.getall("sort", []))
    except ListError as error:
        raise _invalid(str(error)) from None
    return web.json_response(answer)


# --- users and channels: the same four operations on each ---------------------------------


@dataclass(frozen=True)
class _Kind:
    """Users or channels: where they are kept, their fields and what each operation needs."""

    key: str  # the path's placeholder: "uuid" or "channel"
    permission: str  # the Requirement fields' suffix: "uuids" or "channels"
    fields: tuple[str, ...]
    blank: tuple[str, ...]  # the fields a new object starts with, unset
    stored: Callable[[AppContext], dict[str, dict[str, Any]]]
    remove: Callable[[AppContext, str], None]

    def requirement(self, action: str, name: str) -> Requirement:
        return Requirement(**{f"{action}_{self.permission}": [name]})


USERS = _Kind(
    "uuid",
    "uuids",
    USER_FIELDS,
    USER_FIELDS[:4],
    lambda context: context.users,
    AppContext.remove_user,
)
CHANNELS = _Kind(
    "channel",
    "channels",
    CHANNEL_FIELDS,
    ("name", "description"),
    lambda context: context.channels,
    AppContext.remove_channel,
)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _operations(kind: _Kind) -> tuple[Handler, Handler, Handler, Handler]:
    """Get, set (a partial update), remove and list for one kind of object."""

    async def get(request: web.Request) -> web.Response:
        name = request.match_info[kind.key]
        context = await _authorized(request, kind.requirement("get", name))
        stored = kind.stored(context).get(name)
        if stored is None:
            raise _not_found()
        return _one(stored, request)

    async def set_(request: web.Request) -> web.Response:
        name = request.match_info[kind.key]
        context = await _authorized(request, kind.requirement("update", name))
        body = await _body(request)
        objects = kind.stored(context)
        stored = objects.get(name) or {"id": name, **dict.fromkeys(kind.blank)}
        objects[name] = app_context.update(stored, name, kind.fields, _without_nulls(body))
        return _one(objects[name], request)

    async def remove(request: web.Request) -> web.Response:
        name = request.match_info[kind.key]
        context = await _authorized(request, kind.requirement("delete", name))
        kind.remove(context, name)
        return web.json_response({"status": 200, "data": None})

    async def list_(request: web.Request) -> web.Response:
        context = await _authorized(request, None)
        include = includes(request.query.get("include"))
        shown = [(item, app_context.shown(item, include)) for item in kind.stored(context).values()]
        return _listed(shown, request)

    return get, set_, remove, list_


def _without_nulls(body: dict[str, Any]) -> dict[str, Any]:
    """Fields sent as null are left as they were (the Python SDK sends every field)."""
    return {k: v for k, v in body.items() if v is not None or k == "custom"}


# --- memberships ------------------------------------------------------------------------------


def _changes(body: dict[str, Any], side: str) -> list[tuple[str, dict[str, Any] | None]]:
    """(other side's id, fields to set or None to delete) for each entry of a PATCH body."""
    changes: list[tuple[str, dict[str, Any] | None]] = []
    for action in ("set", "delete"):
        entries = body.get(action) or []
        if not isinstance(entries, list):
            raise _invalid(f"{action!r} must be a list")
        for entry in entries:
            other = entry.get(side) if isinstance(entry, dict) else None
            other_id = other.get("id") if isinstance(other, dict) else None
            if not isinstance(other_id, str) or not other_id:
                raise _invalid(f"Each {action!r} entry needs {side}.id")
            changes.append((other_id, entry if action == "set" else None))
    return changes


async def user_memberships(request: web.Request) -> web.Response:
    """A user's channels; changing them takes UPDATE on the user and JOIN on each channel
    set or removed, as on PubNub."""
    uuid = request.match_info["uuid"]
    if request.method != "PATCH":
        context = await _authorized(request, Requirement(get_uuids=[uuid]))
    else:
        try:
            changes = _changes(await _body(request), "channel")
        except PubNubError:  # a stranger hears 403 before any word on the body
            await _authorized(request, Requirement(update_uuids=[uuid]))
            raise
        joined = list(dict.fromkeys(channel for channel, _ in changes))
        context = await _authorized(request, Requirement(update_uuids=[uuid], join_channels=joined))
        for channel, fields in changes:
            context.change_memberships([(uuid, channel)], fields)
    include = includes(request.query.get("include"))
    return _listed(context.memberships_of(uuid, include), request)


async def channel_members(request: web.Request) -> web.Response:
    channel = request.match_info["channel"]
    changing = request.method == "PATCH"
    requirement = (
        Requirement(manage_channels=[channel]) if changing else Requirement(get_channels=[channel])
    )
    context = await _authorized(request, requirement)
    if changing:
        for uuid, fields in _changes(await _body(request), "uuid"):
            context.change_memberships([(uuid, channel)], fields)
    include = includes(request.query.get("include"))
    return _listed(context.members_of(channel, include), request)


def _membership_operation(side: str) -> Callable[[web.Request], str]:
    def operation(request: web.Request) -> str:
        return f"{'set' if request.method == 'PATCH' else 'get'}_{side}"

    return operation


def add_routes(router: web.UrlDispatcher) -> dict[web.AbstractRoute, Any]:
    memberships, members = _membership_operation("memberships"), _membership_operation("members")
    get_uuid, set_uuid, remove_uuid, list_uuids = _operations(USERS)
    get_channel, set_channel, remove_channel, list_channels = _operations(CHANNELS)
    return {
        router.add_get(UUID_PATH, get_uuid): "get_uuid_metadata",
        router.add_patch(UUID_PATH, set_uuid): "set_uuid_metadata",
        router.add_delete(UUID_PATH, remove_uuid): "remove_uuid_metadata",
        router.add_get(OBJECTS + "/uuids", list_uuids): "get_all_uuid_metadata",
        router.add_get(CHANNEL_PATH, get_channel): "get_channel_metadata",
        router.add_patch(CHANNEL_PATH, set_channel): "set_channel_metadata",
        router.add_delete(CHANNEL_PATH, remove_channel): "remove_channel_metadata",
        router.add_get(OBJECTS + "/channels", list_channels): "get_all_channel_metadata",
        router.add_get(UUID_PATH + "/channels", user_memberships): memberships,
        router.add_patch(UUID_PATH + "/channels", user_memberships): memberships,
        router.add_get(CHANNEL_PATH + "/uuids", channel_members): members,
        router.add_patch(CHANNEL_PATH + "/uuids", channel_members): members,
    }
