"""PubNub channel groups as customer chat for Errbot.

The names below are the stable public interface. Importing this package stays light (standard
library only): the backend, which needs Errbot and the PubNub SDK, is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from errbot_pubnub.converters import (
    ChatSDKMessageConverter,
    DefaultMessageConverter,
    MessageConverter,
    UndecodablePayload,
)
from errbot_pubnub.message import (
    Attachment,
    MessageKind,
    PubNubMessage,
    datetime_to_timetoken,
    timetoken_to_datetime,
)

if TYPE_CHECKING:
    from errbot_pubnub.backend import PubNubBackend
    from errbot_pubnub.outbound import PublishError

__all__ = [
    "Attachment",
    "ChatSDKMessageConverter",
    "DefaultMessageConverter",
    "MessageConverter",
    "MessageKind",
    "PubNubBackend",
    "PubNubMessage",
    "PublishError",
    "UndecodablePayload",
    "datetime_to_timetoken",
    "timetoken_to_datetime",
]

_LAZY = {"PubNubBackend": "errbot_pubnub.backend", "PublishError": "errbot_pubnub.outbound"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'errbot_pubnub' has no attribute {name!r}")
