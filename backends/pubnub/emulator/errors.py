"""Errors in the JSON shapes PubNub answers with, so the SDK reports them as it would."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


class PubNubError(Exception):
    """Raised by a handler to answer with a PubNub-shaped error."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body

    def response(self) -> web.Response:
        return web.Response(
            status=self.status,
            text=json.dumps(self.body),
            content_type="application/json",
        )


def service_error(
    status: int, message: str, service: str, payload: dict[str, Any] | None = None
) -> PubNubError:
    body: dict[str, Any] = {"status": status, "error": True, "service": service, "message": message}
    if payload is not None:
        body["payload"] = payload
    return PubNubError(status, body)


def bad_request(message: str, service: str = "Balancer") -> PubNubError:
    return service_error(400, message, service)


def forbidden(message: str = "Forbidden", payload: dict[str, Any] | None = None) -> PubNubError:
    return service_error(403, message, "Access Manager", payload)


def publish_error(status: int, message: str, timetoken: int) -> PubNubError:
    """Publish and signal answer errors in their own array shape: ``[0, message, tt]``."""
    return PubNubError(status, [0, message, str(timetoken)])


#: What PubNub answers a history request on a keyset without the Message Persistence add-on.
PERSISTENCE_DISABLED_MESSAGE = (
    "Use of the history API requires the Storage & Playback which is not enabled for this "
    "subscribe key. Login to your PubNub Dashboard Account and enable Storage & Playback. "
    "Contact support@pubnub.com if you require further assistance."
)


def persistence_disabled() -> PubNubError:
    """History and message counts on a keyset without Message Persistence: a 403."""
    return PubNubError(
        403,
        {
            "status": 403,
            "error": True,
            "error_message": PERSISTENCE_DISABLED_MESSAGE,
            "channels": {},
        },
    )


def injected_error(status: int, message: str | None = None) -> PubNubError:
    reason = message or _REASONS.get(status, "Error")
    return service_error(status, reason, "Balancer")


_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
