"""App Context (Objects v2) for users: get, set and remove a user's metadata.

What a support bot reads (a customer's name, email and profile) and what apps write. Channel
metadata and memberships are not emulated.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from errbot_pubnub.emulator.access import Requirement
from errbot_pubnub.emulator.context import context_of
from errbot_pubnub.emulator.errors import PubNubError, bad_request

UUID_PATH = "/v2/objects/{sub_key}/uuids/{uuid}"
FIELDS = ("name", "email", "externalId", "profileUrl", "status", "type")


def _not_found() -> PubNubError:
    return PubNubError(
        404,
        {
            "status": 404,
            "error": {"message": "Requested object was not found.", "source": "objects"},
        },
    )


def _shown(stored: dict[str, Any], request: web.Request) -> dict[str, Any]:
    include = set((request.query.get("include") or "").split(","))
    shown = {k: v for k, v in stored.items() if k != "custom"}
    if "custom" in include:
        shown["custom"] = stored.get("custom")
    return shown


async def _authorized_user(
    request: web.Request, requirement: Callable[[str], Requirement]
) -> tuple[dict[str, dict[str, Any]], str]:
    """The keyset's users and the user the path names, once the request may touch it."""
    ctx = context_of(request)
    keyset = ctx.keyset(request.match_info["sub_key"])
    uuid = request.match_info["uuid"]
    await ctx.authorize(request, requirement(uuid))
    return keyset.users, uuid


async def get_uuid(request: web.Request) -> web.Response:
    users, uuid = await _authorized_user(request, lambda u: Requirement(get_uuids=[u]))
    stored = users.get(uuid)
    if stored is None:
        raise _not_found()
    return web.json_response({"status": 200, "data": _shown(stored, request)})


async def set_uuid(request: web.Request) -> web.Response:
    users, uuid = await _authorized_user(request, lambda u: Requirement(update_uuids=[u]))
    try:
        body = json.loads(await request.text() or "{}")
    except ValueError:
        raise bad_request("Request body is not valid JSON", service="objects") from None
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object", service="objects")
    stored = users.setdefault(uuid, {"id": uuid, **dict.fromkeys(FIELDS[:4])})
    for field in FIELDS:
        if body.get(field) is not None:
            stored[field] = body[field]
    if "custom" in body:
        stored["custom"] = body["custom"]
    stored["updated"] = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    stored["eTag"] = hashlib.sha1(json.dumps(stored, sort_keys=True).encode()).hexdigest()[:16]
    return web.json_response({"status": 200, "data": _shown(stored, request)})


async def remove_uuid(request: web.Request) -> web.Response:
    users, uuid = await _authorized_user(request, lambda u: Requirement(delete_uuids=[u]))
    users.pop(uuid, None)
    return web.json_response({"status": 200, "data": None})


def add_routes(router: web.UrlDispatcher) -> dict[web.AbstractRoute, str]:
    return {
        router.add_get(UUID_PATH, get_uuid): "get_uuid_metadata",
        router.add_patch(UUID_PATH, set_uuid): "set_uuid_metadata",
        router.add_delete(UUID_PATH, remove_uuid): "remove_uuid_metadata",
    }
