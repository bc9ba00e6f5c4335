"""The message converters, on the SDK's own result objects (no network)."""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pubnub.models.consumer.pubsub import PNFileMessageResult, PNMessageResult

from errbot_pubnub import (
    Attachment,
    ChatSDKMessageConverter,
    DefaultMessageConverter,
    MessageKind,
    PubNubMessage,
    UndecodablePayload,
    datetime_to_timetoken,
    timetoken_to_datetime,
)
from errbot_pubnub.settings import load_converter

SENT = datetime(2024, 5, 17, 9, 30, 15, 123456, tzinfo=timezone.utc)
TIMETOKEN = datetime_to_timetoken(SENT)


def received(payload: Any, timetoken: int = TIMETOKEN) -> PNMessageResult:
    return PNMessageResult(
        message=payload,
        subscription="support",
        channel="alice-support",
        timetoken=timetoken,
        publisher="alice",
    )


def test_timetokens_convert_both_ways() -> None:
    assert timetoken_to_datetime(TIMETOKEN) == SENT
    assert timetoken_to_datetime(str(TIMETOKEN)) == SENT
    assert datetime_to_timetoken(SENT) == 17_159_382_151_234_560
    with pytest.raises(ValueError, match="timezone-aware"):
        datetime_to_timetoken(datetime(2024, 1, 1))


# --- DefaultMessageConverter: the seed's format -------------------------------------------


def test_default_reads_the_seed_format_with_its_own_time() -> None:
    payload = {"kind": "from_customer", "time": "2024-05-17T11:00:00+02:00", "text": "Hello"}
    message = DefaultMessageConverter().convert_from_pubnub(received(payload))
    assert message == PubNubMessage(
        kind=MessageKind.FROM_CUSTOMER,
        text="Hello",
        time_utc=datetime(2024, 5, 17, 9, 0, tzinfo=timezone.utc),
        raw=payload,
    )
    assert message.time_utc.tzinfo == timezone.utc


@pytest.mark.parametrize("kind", ["resolved", "postponed"])
def test_default_reads_state_changes_without_text(kind: str) -> None:
    message = DefaultMessageConverter().convert_from_pubnub(received({"kind": kind}))
    assert message is not None
    assert message.kind is MessageKind(kind)
    assert message.text == ""


@pytest.mark.parametrize(
    "time", [None, "yesterday", "2024-05-17T11:00:00", 1715936400, "2024-13-45T00:00:00Z"]
)
def test_default_falls_back_to_server_time_for_a_missing_or_bad_time(time: Any) -> None:
    payload = {"kind": "from_customer", "text": "hi"}
    if time is not None:
        payload["time"] = time
    message = DefaultMessageConverter().convert_from_pubnub(received(payload))
    assert message is not None
    assert message.time_utc == SENT


def test_default_reads_an_unknown_kind_as_a_customer_message_and_keeps_the_raw_payload() -> None:
    payload = {"kind": "complaint", "text": "This is broken"}
    message = DefaultMessageConverter().convert_from_pubnub(received(payload))
    assert message is not None
    assert (message.kind, message.text, message.raw) == (
        MessageKind.FROM_CUSTOMER,
        "This is broken",
        payload,
    )


@pytest.mark.parametrize(
    ("payload", "text"),
    [
        ("plain words", "plain words"),
        ({"text": "just text"}, "just text"),
        ({"message": "a message field"}, "a message field"),
        ({"message": {"text": "nested"}}, "nested"),
        ({"content": {"message": "in content"}}, "in content"),
        ({"content": "content string"}, "content string"),
        ({"type": "text", "text": "chat sdk"}, "chat sdk"),
    ],
)
def test_default_reads_the_lenient_shapes_real_apps_send(payload: Any, text: str) -> None:
    message = DefaultMessageConverter().convert_from_pubnub(received(payload))
    assert message is not None
    assert (message.kind, message.text, message.time_utc) == (MessageKind.FROM_CUSTOMER, text, SENT)


def test_default_reads_chat_sdk_files_and_seed_attachments() -> None:
    files = [
        {"name": "a.png", "id": "f1", "url": "https://files.example/a.png", "type": "image/png"}
    ]
    message = DefaultMessageConverter().convert_from_pubnub(
        received({"type": "text", "text": "see", "files": files})
    )
    assert message is not None
    assert message.attachments == [Attachment("a.png", "https://files.example/a.png", "image/png")]
    only_file = DefaultMessageConverter().convert_from_pubnub(
        received({"attachments": [{"url": "https://files.example/report.pdf"}]})
    )
    assert only_file is not None
    assert only_file.text == ""
    assert only_file.attachments == [
        Attachment("report.pdf", "https://files.example/report.pdf", "application/octet-stream")
    ]


@pytest.mark.parametrize(
    "payload",
    [{"type": "typing", "value": True}, {"type": "receipt", "messageTimetoken": "1"}],
)
def test_default_ignores_typing_and_receipts(payload: Any) -> None:
    assert DefaultMessageConverter().convert_from_pubnub(received(payload)) is None


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (None, "got NoneType"),
        (42, "got int"),
        ([1, 2], "got list"),
        ({}, "no text found"),
        ({"kind": "from_customer"}, "no text found"),
        ({"user": "x", "lang": "en"}, r"keys: lang, user"),
        ({"text": 42}, "'text' must be a string"),
        ({"text": "x", "attachments": "a.png"}, "attachments must be a list"),
        ({"text": "x", "files": [{"name": "no url"}]}, "needs a non-empty string 'url'"),
        ("", "neither text nor attachments"),
    ],
)
def test_default_refuses_what_it_cannot_read_with_the_reason(payload: Any, reason: str) -> None:
    with pytest.raises(UndecodablePayload, match=reason):
        DefaultMessageConverter().convert_from_pubnub(received(payload))


def test_default_writes_the_seed_format() -> None:
    message = PubNubMessage(kind=MessageKind.FROM_AGENT, text="How can I help?", time_utc=SENT)
    payload = DefaultMessageConverter().convert_to_pubnub(message)
    assert payload == {
        "kind": "from_agent",
        "time": "2024-05-17T09:30:15.123456+00:00",
        "text": "How can I help?",
    }
    assert json.loads(json.dumps(payload)) == payload
    round_trip = DefaultMessageConverter().convert_from_pubnub(received(payload))
    assert round_trip is not None
    assert (round_trip.kind, round_trip.text, round_trip.time_utc) == (
        MessageKind.FROM_AGENT,
        "How can I help?",
        SENT,
    )


def test_default_writes_attachments_only_when_there_are_some() -> None:
    attachment = Attachment("guide.pdf", "https://files.example/guide.pdf", "application/pdf")
    payload = DefaultMessageConverter().convert_to_pubnub(
        PubNubMessage(kind="resolved", text="Done", time_utc=SENT, attachments=[attachment])
    )
    assert payload["kind"] == "resolved"
    assert payload["attachments"] == [
        {"name": "guide.pdf", "url": "https://files.example/guide.pdf", "type": "application/pdf"}
    ]


def test_file_api_events_become_attachments() -> None:
    event = PNFileMessageResult(
        message="my invoice",
        subscription="support",
        channel="alice-support",
        timetoken=TIMETOKEN,
        publisher="alice",
        file_url="http://127.0.0.1/files/abc/invoice.pdf",
        file_id="abc",
        file_name="invoice.pdf",
    )
    for converter in (DefaultMessageConverter(), ChatSDKMessageConverter()):
        message = converter.convert_from_pubnub(event)
        assert message is not None
        assert message.text == "my invoice"
        assert message.attachments == [
            Attachment("invoice.pdf", "http://127.0.0.1/files/abc/invoice.pdf", "application/pdf")
        ]
    event.message = None
    message = DefaultMessageConverter().convert_from_pubnub(event)
    assert message is not None
    assert (message.text, len(message.attachments)) == ("", 1)


# --- ChatSDKMessageConverter -----------------------------------------------------------------


def test_chat_sdk_reads_text_and_files() -> None:
    payload = {
        "type": "text",
        "text": "my screen",
        "files": [
            {"name": "s.png", "id": "1", "url": "https://f.example/s.png", "type": "image/png"}
        ],
    }
    message = ChatSDKMessageConverter().convert_from_pubnub(received(payload))
    assert message is not None
    assert (message.kind, message.text, message.time_utc, message.raw) == (
        MessageKind.FROM_CUSTOMER,
        "my screen",
        SENT,
        payload,
    )
    assert message.attachments == [Attachment("s.png", "https://f.example/s.png", "image/png")]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("bare string", "expected a Chat SDK message object"),
        ({"type": "poll", "text": "?"}, "unsupported Chat SDK message type 'poll'"),
        ({"type": "text", "text": ["a"]}, "'text' must be a string"),
        ({"type": "text", "text": ""}, "neither text nor files"),
    ],
)
def test_chat_sdk_refuses_what_it_cannot_read(payload: Any, reason: str) -> None:
    with pytest.raises(UndecodablePayload, match=reason):
        ChatSDKMessageConverter().convert_from_pubnub(received(payload))


def test_chat_sdk_ignores_typing() -> None:
    typing = {"type": "typing", "value": True}
    assert ChatSDKMessageConverter().convert_from_pubnub(received(typing)) is None


def test_chat_sdk_writes_its_shape_and_marks_state_changes() -> None:
    converter = ChatSDKMessageConverter()
    reply = PubNubMessage(kind=MessageKind.FROM_AGENT, text="Hi", time_utc=SENT)
    assert converter.convert_to_pubnub(reply) == {"type": "text", "text": "Hi"}
    resolved = PubNubMessage(kind=MessageKind.RESOLVED, text="Closed", time_utc=SENT)
    assert converter.convert_to_pubnub(resolved) == {
        "type": "text",
        "text": "Closed",
        "kind": "resolved",
    }
    read_back = converter.convert_from_pubnub(received(converter.convert_to_pubnub(resolved)))
    assert read_back is not None
    assert read_back.kind is MessageKind.RESOLVED


def test_chat_sdk_notices_carry_a_custom_message_type_and_meta_replies_none() -> None:
    """A Chat SDK app drops unknown payload keys: the notice says what it is beside it."""
    converter = ChatSDKMessageConverter()
    resolved = PubNubMessage(kind=MessageKind.RESOLVED, text="Closed", time_utc=SENT)
    postponed = PubNubMessage(kind=MessageKind.POSTPONED, text="Later", time_utc=SENT)
    reply = PubNubMessage(kind=MessageKind.FROM_AGENT, text="Hi", time_utc=SENT)
    assert converter.custom_message_type(resolved) == "support-resolved"
    assert converter.publish_meta(resolved) == {"kind": "resolved"}
    assert converter.custom_message_type(postponed) == "support-postponed"
    assert converter.publish_meta(postponed) == {"kind": "postponed"}
    assert converter.custom_message_type(reply) is None and converter.publish_meta(reply) is None
    default = DefaultMessageConverter()  # its payload says the kind already
    assert default.custom_message_type(resolved) is None and default.publish_meta(resolved) is None


# --- The message model ------------------------------------------------------------------------


def test_message_model_checks_kind_and_time() -> None:
    with pytest.raises(ValueError, match="unknown message kind 'shout'"):
        PubNubMessage(kind="shout", text="x")
    with pytest.raises(ValueError, match="timezone-aware"):
        PubNubMessage(kind="from_agent", text="x", time_utc=datetime(2024, 1, 1))
    paris = timezone(timedelta(hours=2))
    message = PubNubMessage(
        kind="from_agent", text="x", time_utc=datetime(2024, 1, 1, 12, tzinfo=paris)
    )
    assert message.time_utc == datetime(2024, 1, 1, 10, tzinfo=timezone.utc)
    assert message.time_utc.utcoffset() == timedelta(0)


# --- The README's example ----------------------------------------------------------------------


README = Path(__file__).resolve().parent.parent / "README.md"


def _readme_python_blocks(section: str) -> list[str]:
    text = README.read_text()
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", body, flags=re.DOTALL)


def test_the_readme_converter_example_works_as_documented(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module, config_line, usage = _readme_python_blocks("Writing a custom message converter")
    package = tmp_path / "myapp"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "pubnub_converter.py").write_text(module)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        _check_readme_example(config_line, usage)
    finally:  # imported from a temporary folder: forget them
        for name in ("myapp.pubnub_converter", "myapp"):
            sys.modules.pop(name, None)


def _check_readme_example(config_line: str, usage: str) -> None:
    config: dict[str, Any] = {}
    exec(config_line, config)
    converter = load_converter(config["PUBNUB_MESSAGE_CONVERTER"])
    exec(usage, {})
    closed = converter.convert_from_pubnub(received({"type": "closed"}))
    assert closed is not None
    assert closed.kind is MessageKind.RESOLVED
    assert converter.convert_from_pubnub(received({"type": "typing"})) is None
    with pytest.raises(UndecodablePayload, match="no 'body' text"):
        converter.convert_from_pubnub(received({"type": "chat"}))
    reply = PubNubMessage(kind=MessageKind.FROM_AGENT, text="On its way", time_utc=SENT)
    assert converter.convert_to_pubnub(reply) == {
        "type": "chat",
        "body": "On its way",
        "sent": SENT.timestamp(),
        "images": [],
    }
