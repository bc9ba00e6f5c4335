"""Access Manager v3: grant and revoke tokens (requests signed with the secret key)."""

from __future__ import annotations

import json
import urllib.parse

from aiohttp import web

from errbot_pubnub.emulator.access import TokenError
from errbot_pubnub.emulator.context import context_of
from errbot_pubnub.emulator.errors import bad_request

SERVICE = "Access Manager"
NOT_ENABLED = (
    "Access Manager is not enabled on this keyset: start the server with a secret key to use it"
)


def _success(**data: str) -> web.Response:
    return web.json_response(
        {"status": 200, "data": {"message": "Success", **data}, "service": SERVICE}
    )


async def grant_token(request: web.Request) -> web.Response:
    ctx = context_of(request)
    ctx.keyset(request.match_info["sub_key"])
    if ctx.tokens is None:
        raise bad_request(NOT_ENABLED, service=SERVICE)
    await ctx.authorize(request, None, signed_only=True)
    try:
        grant = json.loads(await request.text())
    except ValueError:
        raise bad_request("Invalid JSON in the grant request", service=SERVICE) from None
    if not isinstance(grant, dict):
        raise bad_request("The grant request must be a JSON object", service=SERVICE)
    try:
        token = ctx.tokens.issue(grant)
    except TokenError as error:
        raise bad_request(str(error), service=SERVICE) from None
    return _success(token=token)


async def revoke_token(request: web.Request) -> web.Response:
    ctx = context_of(request)
    ctx.keyset(request.match_info["sub_key"])
    if ctx.tokens is None:
        raise bad_request(NOT_ENABLED, service=SERVICE)
    await ctx.authorize(request, None, signed_only=True)
    raw_token = request.raw_path.partition("?")[0].rsplit("/", 1)[-1]
    try:
        ctx.tokens.revoke(urllib.parse.unquote(raw_token))
    except TokenError as error:
        raise bad_request(str(error), service=SERVICE) from None
    return _success()


def add_routes(router: web.UrlDispatcher) -> dict[web.AbstractRoute, str]:
    return {
        router.add_post("/v3/pam/{sub_key}/grant", grant_token): "grant_token",
        router.add_delete("/v3/pam/{sub_key}/grant/{token}", revoke_token): "revoke_token",
    }
