"""Reading PubNub request parameters, refusing malformed ones with a 400 as PubNub does."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from errbot_pubnub.emulator.errors import bad_request

TRUE_VALUES = ("1", "true", "True")


def names(text: str | None) -> list[str]:
    """A comma-separated list of channels or groups (``,`` alone means none)."""
    if not text:
        return []
    return list(dict.fromkeys(name for name in text.split(",") if name))


def timetoken(request: web.Request, name: str, default: int | None = None) -> int | None:
    value = request.query.get(name)
    if value is None or value == "":
        return default
    try:
        parsed = int(value)
    except ValueError:
        raise bad_request(f"Invalid {name}: {value!r} is not a timetoken") from None
    if parsed < 0:
        raise bad_request(f"Invalid {name}: {value!r} is not a timetoken")
    return parsed


def integer(request: web.Request, name: str, default: int) -> int:
    value = request.query.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise bad_request(f"Invalid {name}: {value!r} is not a number") from None


def number(request: web.Request, name: str, default: float) -> float:
    value = request.query.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise bad_request(f"Invalid {name}: {value!r} is not a number") from None


def flag(request: web.Request, name: str, default: bool = False) -> bool:
    value = request.query.get(name)
    if value is None:
        return default
    return value in TRUE_VALUES


def json_value(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise bad_request(f"Invalid JSON in {what}") from None


def user_id(request: web.Request) -> str:
    return request.query.get("uuid", "")
