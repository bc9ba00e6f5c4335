"""Message actions (reactions, receipts, edits...): add, remove, get, and events to subscribers.

An action hangs on a stored message (``messageTimetoken``) and gets a timetoken of its own.
Subscribers of the channel get each addition and removal as an event (``e: 3``), and
``history-with-actions`` returns each message with its actions. Actions need Message
Persistence, as on PubNub.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from errbot_pubnub.emulator import params
from errbot_pubnub.emulator.access import Requirement
from errbot_pubnub.emulator.context import context_of
from errbot_pubnub.emulator.errors import PubNubError, persistence_disabled
from errbot_pubnub.emulator.state import Keyset, PublishedMessage

ACTIONS_PATH = "/v1/message-actions/{sub_key}/channel/{channel}"
MAX_ACTIONS = 100
MAX_TYPE_LENGTH = 15
SERVICE = "actions"


def _error(status: int, message: str) -> PubNubError:
    return PubNubError(status, {"status": status, "error": {"message": message, "source": SERVICE}})


def actions_by_type(actions: list[dict[str, Any]]) -> dict[str, dict[str, list[dict[str, str]]]]:
    """A message's actions as history returns them: type -> value -> who and when."""
    grouped: dict[str, dict[str, list[dict[str, str]]]] = {}
    for action in actions:
        grouped.setdefault(action["type"], {}).setdefault(action["value"], []).append(
            {"uuid": action["uuid"], "actionTimetoken": action["actionTimetoken"]}
        )
    return grouped


def _announce(keyset: Keyset, channel: str, event: str, action: dict[str, Any], tt: int) -> None:
    keyset.record(
        PublishedMessage(
            channel=channel,
            message={"source": "actions", "version": "1.0", "event": event, "data": action},
            timetoken=tt,
            publisher=action["uuid"],
            stored=False,
            action=True,
        )
    )


async def add_action(request: web.Request) -> web.Response:
    ctx = context_of(request)
    keyset = ctx.keyset(request.match_info["sub_key"])
    channel = request.match_info["channel"]
    if not ctx.settings.message_persistence:
        raise persistence_disabled()
    await ctx.authorize(request, Requirement(write_channels=[channel]))
    message_tt = _path_timetoken(request)
    try:
        body = json.loads(await request.text() or "{}")
    except ValueError:
        raise _error(400, "Request body is not valid JSON") from None
    kind, value = (body.get("type"), body.get("value")) if isinstance(body, dict) else (None, None)
    if not isinstance(kind, str) or not kind or len(kind) > MAX_TYPE_LENGTH:
        raise _error(400, f"Action type must be a text of 1 to {MAX_TYPE_LENGTH} characters")
    if not isinstance(value, str) or not value:
        raise _error(400, "Action value must be a non-empty text")
    user = params.user_id(request)
    on_message = keyset.actions.setdefault(channel, {}).setdefault(message_tt, [])
    if any((a["type"], a["value"], a["uuid"]) == (kind, value, user) for a in on_message):
        raise _error(409, "Action Already Added")
    action_tt = ctx.clock.next()
    action = {
        "type": kind,
        "value": value,
        "uuid": user,
        "actionTimetoken": str(action_tt),
        "messageTimetoken": str(message_tt),
    }
    on_message.append(action)
    _announce(keyset, channel, "added", action, action_tt)
    return web.json_response({"status": 200, "data": action})


async def remove_action(request: web.Request) -> web.Response:
    ctx = context_of(request)
    keyset = ctx.keyset(request.match_info["sub_key"])
    channel = request.match_info["channel"]
    await ctx.authorize(request, Requirement(delete_channels=[channel]))
    message_tt = _path_timetoken(request)
    action_tt = request.match_info["action_tt"]
    on_message = keyset.actions.get(channel, {}).get(message_tt, [])
    for action in on_message:
        if action["actionTimetoken"] == action_tt:
            on_message.remove(action)
            _announce(keyset, channel, "removed", action, ctx.clock.next())
            break
    return web.json_response({"status": 200, "data": {}})


async def get_actions(request: web.Request) -> web.Response:
    ctx = context_of(request)
    keyset = ctx.keyset(request.match_info["sub_key"])
    channel = request.match_info["channel"]
    if not ctx.settings.message_persistence:
        raise persistence_disabled()
    await ctx.authorize(request, Requirement(read_channels=[channel]))
    start = params.timetoken(request, "start")
    end = params.timetoken(request, "end")
    limit = params.integer(request, "limit", MAX_ACTIONS)
    limit = MAX_ACTIONS if not 1 <= limit <= MAX_ACTIONS else limit
    every = sorted(
        (a for actions in keyset.actions.get(channel, {}).values() for a in actions),
        key=lambda a: int(a["actionTimetoken"]),
    )
    in_range = [
        a
        for a in every
        if (start is None or int(a["actionTimetoken"]) < start)
        and (end is None or int(a["actionTimetoken"]) >= end)
    ]
    chosen = in_range[-limit:]
    answer: dict[str, Any] = {"status": 200, "data": chosen}
    if len(in_range) > len(chosen):
        oldest = chosen[0]["actionTimetoken"]
        answer["more"] = {
            "url": f"{request.path}?start={oldest}&limit={limit}",
            "start": oldest,
            "end": str(end) if end is not None else "",
            "limit": limit,
        }
    return web.json_response(answer)


def _path_timetoken(request: web.Request) -> int:
    text = request.match_info["message_tt"]
    if not text.isdigit():
        raise _error(400, f"Invalid message timetoken {text!r}")
    return int(text)


def add_routes(router: web.UrlDispatcher) -> dict[web.AbstractRoute, str]:
    message = ACTIONS_PATH + "/message/{message_tt}"
    return {
        router.add_post(message, add_action): "add_message_action",
        router.add_delete(message + "/action/{action_tt}", remove_action): "remove_message_action",
        router.add_get(ACTIONS_PATH, get_actions): "get_message_actions",
    }
