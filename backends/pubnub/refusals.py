"""What PubNub's refusals mean, in words an admin can act on.

PubNub answers errors with a JSON body: Access Manager's 403 lists the resources the request
lacked (``{"payload": {"channels": [...], "channel-groups": [...]}}``), a keyset without
Message Persistence says so in ``error_message``, a full channel group says it would exceed
its maximum. The SDK hands these over as text inside its exception or status.
"""

from __future__ import annotations

import json
from typing import Any

from errbot_pubnub.sdk import PubNubException

_PERSISTENCE_MARKERS = ("storage & playback", "message persistence", "history api requires")
_CAPACITY_MARKERS = ("exceed", "maximum", "limit")


def _exception(error: Any) -> Any:
    """The ``PubNubException`` inside an SDK status, or ``error`` itself."""
    data = getattr(error, "error_data", None)
    inner = getattr(data, "exception", None)
    return inner if isinstance(inner, PubNubException) else error


def error_text(error: Any) -> str:
    """The server's answer carried by a ``PubNubException`` or an SDK status."""
    error = _exception(error)
    if isinstance(error, PubNubException):
        return str(getattr(error, "_errormsg", "") or error)
    data = getattr(error, "error_data", None)
    if data is not None:
        return str(getattr(data, "information", "") or data)
    return str(error)


def status_code(error: Any) -> int | None:
    inner = _exception(error)
    if isinstance(inner, PubNubException) and inner.get_status_code():
        return int(inner.get_status_code())
    code = getattr(error, "status_code", None)
    return int(code) if code else None


def body(error: Any) -> dict[str, Any]:
    """The JSON object of the answer, or an empty dict."""
    text = error_text(error)
    start = text.find("{")
    if start < 0:
        return {}
    try:
        parsed = json.loads(text[start:])
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def is_persistence_disabled(error: Any) -> bool:
    """A 403 because the keyset has no Message Persistence, not because of Access Manager."""
    if status_code(error) != 403:
        return False
    text = error_text(error).lower()
    return any(marker in text for marker in _PERSISTENCE_MARKERS)


def is_group_full(error: Any) -> bool:
    """A refusal to add channels because the channel group is at its capacity."""
    if status_code(error) not in (400, 403):
        return False
    text = error_text(error).lower()
    return "group" in text and any(marker in text for marker in _CAPACITY_MARKERS)


def missing_resources(error: Any) -> str:
    """What an Access Manager 403 says is missing, e.g. "channel groups: support"."""
    payload = body(error).get("payload")
    if not isinstance(payload, dict):
        return ""
    parts = []
    for key, label in (("channel-groups", "channel groups"), ("channels", "channels")):
        names = payload.get(key)
        if isinstance(names, list) and names:
            parts.append(f"{label}: {', '.join(str(n) for n in names)}")
    uuids = payload.get("uuids")
    if isinstance(uuids, list) and uuids:
        parts.append(f"user ids: {', '.join(str(u) for u in uuids)}")
    return "; ".join(parts)


def reason(error: Any) -> str:
    """PubNub's own explanation, short: its message and what is missing, or the raw text."""
    parsed = body(error)
    message = parsed.get("message") or parsed.get("error_message") or error_text(error)
    missing = missing_resources(error)
    return f"{message} (missing access to {missing})" if missing else str(message)


def wrong_key(error: Any) -> str | None:
    """The ``BOT_IDENTITY`` key PubNub does not know, from its 400 answer, if that is the refusal:
    ``"subscribe_key"`` ("Invalid Subscribe Key") or ``"publish_key"`` ("Invalid Key" to a
    publish)."""
    if status_code(error) != 400:
        return None
    text = reason(error).strip().lower()
    if "invalid subscribe key" in text:
        return "subscribe_key"
    if text in ("invalid key", "invalid publish key"):
        return "publish_key"
    return None


def wrong_key_sentence(setting: str, error: Any) -> str:
    """One sentence naming the key PubNub refused, for admins and for a stopping bot."""
    return (
        f"PubNub does not know BOT_IDENTITY['{setting}'] (400: {reason(error)}): copy the "
        f"{setting.replace('_', ' ')} of your keyset from PubNub's Admin Portal."
    )
