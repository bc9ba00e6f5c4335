"""The backend's own message model: what a converter produces from, and turns into, PubNub JSON.

It is deliberately independent of Errbot and of the PubNub SDK so that a converter can be written
and unit-tested with nothing but the standard library.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any


class MessageKind(str, enum.Enum):
    """What a message means for the conversation (the values client apps put in ``"kind"``)."""

    FROM_CUSTOMER = "from_customer"
    FROM_AGENT = "from_agent"
    RESOLVED = "resolved"
    POSTPONED = "postponed"

    @classmethod
    def parse(cls, value: str | MessageKind) -> MessageKind:
        """The kind named ``value``; a ``ValueError`` listing the known kinds otherwise."""
        if isinstance(value, MessageKind):
            return value
        try:
            return cls(value)
        except ValueError:
            known = ", ".join(repr(k.value) for k in cls)
            raise ValueError(f"unknown message kind {value!r} (known kinds: {known})") from None


@dataclass(frozen=True)
class Attachment:
    """A file the message refers to; the bytes stay wherever ``url`` points."""

    name: str
    url: str
    type: str = "application/octet-stream"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Attachment:
        """Build from a dict such as ``{"name", "url", "type"}``; ``ValueError`` when unusable."""
        if not isinstance(data, Mapping):
            raise ValueError(f"an attachment must be an object, not {type(data).__name__}")
        url = data.get("url")
        if not isinstance(url, str) or not url:
            raise ValueError("an attachment needs a non-empty string 'url'")
        name = data.get("name")
        if not isinstance(name, str) or not name:
            name = url.rstrip("/").rsplit("/", 1)[-1] or "attachment"
        kind = data.get("type") or data.get("mime_type") or cls.type
        return cls(name=name, url=url, type=str(kind))


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class PubNubMessage:
    """One chat message as the backend sees it, whatever JSON shape it travelled in.

    ``raw`` keeps the payload exactly as received (``None`` for outgoing messages) so that
    nothing the converter did not understand is lost for plugins or admins.
    """

    kind: MessageKind
    text: str
    time_utc: datetime = field(default_factory=utc_now)
    attachments: list[Attachment] = field(default_factory=list)
    raw: Any = None

    def __post_init__(self) -> None:
        self.kind = MessageKind.parse(self.kind)
        if self.time_utc.tzinfo is None:
            raise ValueError("time_utc must be timezone-aware")
        self.time_utc = self.time_utc.astimezone(timezone.utc)


_TICKS_PER_SECOND = 10_000_000  # a PubNub timetoken counts 100-nanosecond ticks since 1970


def timetoken_to_datetime(timetoken: int | str) -> datetime:
    """The server time a timetoken stands for, as an aware UTC datetime (microsecond precision)."""
    ticks = int(timetoken)
    seconds, rest = divmod(ticks, _TICKS_PER_SECOND)
    return datetime.fromtimestamp(seconds, timezone.utc).replace(microsecond=rest // 10)


def datetime_to_timetoken(moment: datetime) -> int:
    """The timetoken of an aware datetime (for history queries and tests)."""
    if moment.tzinfo is None:
        raise ValueError("moment must be timezone-aware")
    delta = moment - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * _TICKS_PER_SECOND + delta.microseconds * 10
