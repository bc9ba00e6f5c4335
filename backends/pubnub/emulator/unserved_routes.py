"""What this server does not serve, answered as for a keyset without the feature.

A client that tries files, mobile push, presence state, "where now" or history deletion gets a
PubNub-shaped error naming what is missing (400, service named), never an HTML page or a
silent success, so that an app tried against this server fails where it would fail on a keyset
without that add-on.
"""

from __future__ import annotations

from aiohttp import web

from errbot_pubnub.emulator.errors import service_error

#: Path patterns of the features not served, with the name told to the client.
UNSERVED = (
    ("/v1/files/{sub_key}/{tail:.*}", "File Sharing"),
    ("/v1/push/sub-key/{sub_key}/{tail:.*}", "Mobile Push Notifications"),
    ("/v2/push/sub-key/{sub_key}/{tail:.*}", "Mobile Push Notifications"),
    ("/v2/presence/sub-key/{sub_key}/channel/{channels}/uuid/{tail:.*}", "Presence state"),
    ("/v2/presence/sub-key/{sub_key}/uuid/{uuid}", "Presence where-now"),
)


def _refusal(feature: str) -> web.RequestHandler:
    async def refuse(request: web.Request) -> web.Response:
        raise service_error(
            400, f"{feature} is not enabled for this subscribe key on this server", feature
        )

    return refuse


async def delete_history(request: web.Request) -> web.Response:
    raise service_error(
        400, "Deleting messages is not enabled for this subscribe key on this server", "Storage"
    )


def add_routes(router: web.UrlDispatcher) -> dict[web.AbstractRoute, str]:
    routes = {
        router.add_route("*", path, _refusal(feature)): "not_served" for path, feature in UNSERVED
    }
    history = "/v3/history/sub-key/{sub_key}/channel/{channels}"
    routes[router.add_delete(history, delete_history)] = "not_served"
    return routes
