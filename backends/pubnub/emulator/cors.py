"""Cross-origin access: browsers may call the server from any page, as they may call PubNub.

PubNub answers every request, errors included, with ``Access-Control-Allow-Origin: *`` and
answers the ``OPTIONS`` preflight a browser sends before a ``PATCH``, a ``DELETE`` or a request
with a JSON body. Without both, no web page could use this server.
"""

from __future__ import annotations

from aiohttp import web

ALLOWED_METHODS = "GET, POST, PATCH, DELETE, OPTIONS"
#: How long a browser may reuse a preflight answer (seconds).
PREFLIGHT_MAX_AGE = "86400"


def is_preflight(request: web.Request) -> bool:
    return request.method == "OPTIONS"


def preflight_answer(request: web.Request) -> web.Response:
    """What PubNub answers an ``OPTIONS`` request: every method, the headers asked for."""
    headers = {
        "Access-Control-Allow-Methods": ALLOWED_METHODS,
        "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
    }
    asked = request.headers.get("Access-Control-Request-Headers")
    if asked:
        headers["Access-Control-Allow-Headers"] = asked
    return web.Response(status=200, headers=headers)


async def allow_any_origin(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare`` hook: every answer, error pages included, names any origin."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers.setdefault("Access-Control-Expose-Headers", "*")


def install(app: web.Application) -> None:
    app.on_response_prepare.append(allow_any_origin)
