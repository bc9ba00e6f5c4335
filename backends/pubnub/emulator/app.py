"""The aiohttp application: PubNub's routes behind a network that faults can disturb."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, NoReturn

from aiohttp import web

from errbot_pubnub.emulator import (
    access_routes,
    actions_routes,
    control_routes,
    cors,
    group_routes,
    history_routes,
    objects_routes,
    presence_routes,
    pubsub_routes,
    unserved_routes,
)
from errbot_pubnub.emulator.context import CONTEXT_KEY, EmulatorContext, context_of
from errbot_pubnub.emulator.errors import PubNubError, injected_error
from errbot_pubnub.emulator.faults import DROP, FAIL

if TYPE_CHECKING:  # it builds this app
    from errbot_pubnub.emulator.server import PubNubEmulator

log = logging.getLogger("errbot_pubnub.emulator")

OperationOf = str | Callable[[web.Request], str]
OPERATIONS_KEY = web.AppKey("pubnub_operations", dict)

MAX_REQUEST_LINE = 256 * 1024
HOLD_CHECK_INTERVAL = 0.01  # how often a held request looks whether it was released

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_app(ctx: EmulatorContext, controller: PubNubEmulator) -> web.Application:
    app = web.Application(
        middlewares=[emulated_network],
        # Publish carries the message in the URL: let an oversized one reach the handler,
        # which refuses it as PubNub does, instead of failing on the request line.
        handler_args={"max_line_size": MAX_REQUEST_LINE, "max_field_size": MAX_REQUEST_LINE},
        client_max_size=MAX_REQUEST_LINE,
    )
    app[CONTEXT_KEY] = ctx
    operations: dict[web.AbstractRoute, OperationOf] = {}
    for module in (
        pubsub_routes,
        group_routes,
        history_routes,
        presence_routes,
        access_routes,
        objects_routes,
        actions_routes,
        unserved_routes,
    ):
        operations.update(module.add_routes(app.router))
    app[OPERATIONS_KEY] = operations
    control_routes.add_routes(app, controller)
    cors.install(app)
    return app


def operation_of(request: web.Request) -> str | None:
    """The PubNub operation a request performs, or None for control and unknown paths."""
    operation = request.app[OPERATIONS_KEY].get(request.match_info.route)
    if callable(operation):
        return operation(request)
    return operation


def drop_connection(request: web.Request) -> NoReturn:
    """Close the socket without answering, as a failing network or a dead server would."""
    if request.protocol is not None:
        request.protocol.force_close()
    raise asyncio.CancelledError


@web.middleware
async def emulated_network(request: web.Request, handler: Handler) -> web.StreamResponse:
    ctx = context_of(request)
    if cors.is_preflight(request):
        if ctx.down:
            drop_connection(request)
        return cors.preflight_answer(request)
    operation = operation_of(request)
    if operation is None:
        log.debug("%s %s", request.method, request.path_qs)
        return await _answer(request, handler)
    ctx.request_counts[operation] += 1
    log.debug("%s %s (%s)", request.method, request.path_qs, operation)
    if ctx.down:
        log.debug("down: dropping %s", operation)
        drop_connection(request)
    latency = ctx.faults.latency_for(operation)
    if latency:
        await asyncio.sleep(latency)
        if ctx.down:
            drop_connection(request)
    while ctx.faults.holds(operation):
        await asyncio.sleep(HOLD_CHECK_INTERVAL)
        if ctx.down:
            drop_connection(request)
    rule = ctx.faults.take(operation, request.path)
    if rule is not None and rule.kind == FAIL:
        log.debug("fault: %s answered %s", operation, rule.status)
        return injected_error(rule.status, rule.message).response()
    if rule is not None and rule.kind == DROP and not rule.after_handling:
        log.debug("fault: %s dropped", operation)
        drop_connection(request)
    try:
        response = await _answer(request, handler)
    except pubsub_routes.ServerGoingDown:
        drop_connection(request)
    if rule is not None and rule.kind == DROP:
        log.debug("fault: %s handled, answer dropped", operation)
        drop_connection(request)
    log.debug("%s %s -> %s", request.method, request.path, response.status)
    return response


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except PubNubError as error:
        return error.response()
