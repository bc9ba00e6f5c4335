"""Converters the PubNub tests load by dotted path (``tests.pubnub_converters.X``)."""

from __future__ import annotations

from typing import Any

from pubnub.models.consumer.pubsub import PNMessageResult

from errbot_pubnub import MessageConverter, MessageKind, PubNubMessage, UndecodablePayload


class ShoutingConverter(MessageConverter):
    """An app speaking ``{"say": ...}`` that wants replies in capitals under ``"reply"``."""

    def convert_from_pubnub(self, message: PNMessageResult) -> PubNubMessage | None:
        payload = message.message
        if not isinstance(payload, dict) or "say" not in payload:
            raise UndecodablePayload("expected {'say': ...}")
        if payload["say"] == "(typing)":
            return None
        return PubNubMessage(
            kind=MessageKind.FROM_CUSTOMER,
            text=str(payload["say"]),
            time_utc=self.server_time(message),
            raw=payload,
        )

    def convert_to_pubnub(self, message: PubNubMessage) -> Any:
        return {"reply": message.text.upper(), "state": message.kind.value}


class CrashingConverter(ShoutingConverter):
    """A converter with a bug on one input, to show a converter crash never stops delivery."""

    def convert_from_pubnub(self, message: PNMessageResult) -> PubNubMessage | None:
        if isinstance(message.message, dict) and message.message.get("say") == "boom":
            raise ZeroDivisionError("converter bug")
        return super().convert_from_pubnub(message)


class NotAConverter:
    """Has the right method names but not the base class."""

    def convert_from_pubnub(self, message: Any) -> None:
        return None


class NeedsArguments(ShoutingConverter):
    def __init__(self, required: str) -> None:
        self.required = required
