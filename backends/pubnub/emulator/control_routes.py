"""HTTP control routes under ``/_emulator/``, a prefix the SDK never uses.

They expose the fault controls and the inspection of ``PubNubEmulator`` to other processes
(benchmarks, the demo, tests that kill bot processes). Bodies and answers are JSON.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:  # the server builds the app that holds these routes
    from errbot_pubnub.emulator.server import PubNubEmulator

PREFIX = "/_emulator"

CONTROLLER_KEY = web.AppKey("pubnub_emulator_controller", object)

Handler = Callable[[web.Request], Awaitable[web.Response]]


def _controller(request: web.Request) -> PubNubEmulator:
    return request.app[CONTROLLER_KEY]  # type: ignore[return-value]


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = json.loads(await request.text() or "{}")
    except ValueError:
        raise _refuse("the body must be JSON") from None
    if not isinstance(body, dict):
        raise _refuse("the body must be a JSON object")
    return body


def _refuse(reason: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": reason}), content_type="application/json")


def _guarded(handler: Handler) -> Handler:
    """Turn bad arguments into a 400 that says what was wrong."""

    async def guarded(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except (ValueError, TypeError, RuntimeError) as error:
            raise _refuse(str(error)) from None

    return guarded


async def status(request: web.Request) -> web.Response:
    controller = _controller(request)
    return web.json_response(
        {
            "origin": controller.origin,
            "down": controller.is_down,
            "faults": controller.faults.snapshot(),
            "requests": controller.request_count(),
        }
    )


async def fail(request: web.Request) -> web.Response:
    body = await _body(request)
    _controller(request).faults.fail_next(
        int(body.get("count", 1)),
        int(body.get("status", 500)),
        operation=body.get("operation"),
        path_prefix=body.get("path_prefix"),
        message=body.get("message"),
    )
    return web.json_response({"ok": True})


async def drop(request: web.Request) -> web.Response:
    body = await _body(request)
    _controller(request).faults.drop_next(
        int(body.get("count", 1)),
        operation=body.get("operation"),
        path_prefix=body.get("path_prefix"),
        after_handling=bool(body.get("after_handling", False)),
    )
    return web.json_response({"ok": True})


async def latency(request: web.Request) -> web.Response:
    body = await _body(request)
    _controller(request).faults.set_latency(
        float(body.get("seconds", 0)), operation=body.get("operation")
    )
    return web.json_response({"ok": True})


async def hold(request: web.Request) -> web.Response:
    body = await _body(request)
    _controller(request).faults.hold(operation=body.get("operation"))
    return web.json_response({"ok": True})


async def release(request: web.Request) -> web.Response:
    body = await _body(request)
    _controller(request).faults.release(operation=body.get("operation"))
    return web.json_response({"ok": True})


async def clear(request: web.Request) -> web.Response:
    _controller(request).faults.clear()
    return web.json_response({"ok": True})


async def down(request: web.Request) -> web.Response:
    body = await _body(request)
    seconds = body.get("seconds")
    refuse = bool(body.get("refuse_connections", False))
    if refuse and seconds is None:
        raise _refuse(
            "refuse_connections needs seconds: with the port closed, "
            "no request could bring the server back"
        )
    await _controller(request).go_down_async(refuse, None if seconds is None else float(seconds))
    return web.json_response({"ok": True})


async def up(request: web.Request) -> web.Response:
    await _controller(request).come_back_async()
    return web.json_response({"ok": True})


def _key(request: web.Request) -> str | None:
    return request.query.get("subscribe_key")


async def published(request: web.Request) -> web.Response:
    messages = _controller(request).published(
        request.match_info["channel"], subscribe_key=_key(request)
    )
    return web.json_response([m.as_dict() for m in messages])


async def history(request: web.Request) -> web.Response:
    messages = _controller(request).history(
        request.match_info["channel"], subscribe_key=_key(request)
    )
    return web.json_response([m.as_dict() for m in messages])


async def groups(request: web.Request) -> web.Response:
    return web.json_response(_controller(request).groups(subscribe_key=_key(request)))


async def group_channels(request: web.Request) -> web.Response:
    return web.json_response(
        _controller(request).channels_in_group(
            request.match_info["group"], subscribe_key=_key(request)
        )
    )


async def here_now(request: web.Request) -> web.Response:
    return web.json_response(
        _controller(request).here_now(request.match_info["channel"], subscribe_key=_key(request))
    )


async def subscribers(request: web.Request) -> web.Response:
    return web.json_response(_controller(request).subscribers(subscribe_key=_key(request)))


async def publish(request: web.Request) -> web.Response:
    body = await _body(request)
    if "channel" not in body or "message" not in body:
        raise _refuse("publish needs channel and message")
    timetoken = _controller(request).publish(
        str(body["channel"]),
        body["message"],
        publisher=body.get("publisher"),
        meta=body.get("meta"),
        store=bool(body.get("store", True)),
        signal=bool(body.get("signal", False)),
        subscribe_key=body.get("subscribe_key"),
    )
    return web.json_response({"timetoken": str(timetoken)})


def add_routes(app: web.Application, controller: PubNubEmulator) -> None:
    app[CONTROLLER_KEY] = controller
    router = app.router
    for method, path, handler in (
        ("GET", "/status", status),
        ("POST", "/faults/fail", fail),
        ("POST", "/faults/drop", drop),
        ("POST", "/faults/latency", latency),
        ("POST", "/faults/hold", hold),
        ("POST", "/faults/release", release),
        ("POST", "/faults/clear", clear),
        ("POST", "/down", down),
        ("POST", "/up", up),
        ("GET", "/published/{channel}", published),
        ("GET", "/history/{channel}", history),
        ("GET", "/groups", groups),
        ("GET", "/groups/{group}", group_channels),
        ("GET", "/here-now/{channel}", here_now),
        ("GET", "/subscribers", subscribers),
        ("POST", "/publish", publish),
    ):
        router.add_route(method, PREFIX + path, _guarded(handler))
