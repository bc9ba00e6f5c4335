"""The inbound pipeline and the outbound size handling, without a network.

The SDK's subscribe worker is exercised for real (a ``PubNub`` client is created but never
subscribed); Errbot's ``callback_message`` is replaced by a recording function because these
tests are about the pipeline's guarantees, not about Errbot (the bot tests cover that path).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from errbot.backends.base import Message
from pubnub.models.consumer.pubsub import PNMessageResult
from pubnub.models.server.subscribe import SubscribeMessage
from pubnub.pnconfiguration import PNConfiguration

from errbot_pubnub import (
    Attachment,
    DefaultMessageConverter,
    MessageKind,
    PubNubMessage,
    datetime_to_timetoken,
)
from errbot_pubnub.admin_notices import AdminNotices
from errbot_pubnub.dead_letters import DeadLetterBox
from errbot_pubnub.delivery import RecentDeliveries
from errbot_pubnub.inbound import InboundPipeline
from errbot_pubnub.lanes import ChannelLanes
from errbot_pubnub.outbound import (
    MAX_MESSAGE_BYTES,
    MessageTooLarge,
    Publisher,
    PublishError,
    encoded_size,
)
from errbot_pubnub.person import PubNubOccupant
from errbot_pubnub.room import PubNubRoom
from errbot_pubnub.sdk import Inbound, SubscriptionListener, install_surviving_worker, new_client
from tests.botrunner import wait_for
from tests.pubnub_converters import CrashingConverter, ShoutingConverter

BASE_TT = 17_000_000_000_000_000


def inbound(channel: str, n: int, payload: Any, publisher: str = "alice") -> Inbound:
    result = PNMessageResult(payload, "support", channel, BASE_TT + n, publisher=publisher)
    return Inbound.of(result)


# --- lanes ------------------------------------------------------------------------------------


def test_lanes_keep_order_per_channel_and_a_slow_channel_does_not_stall_others() -> None:
    release = threading.Event()
    handled: list[tuple[str, int]] = []

    def handle(item: tuple[str, int]) -> None:
        if item == ("slow", 0):
            release.wait(30)
        handled.append(item)

    lanes: ChannelLanes[tuple[str, int]] = ChannelLanes(handle, workers=2)
    lanes.start()
    for n in range(3):
        lanes.put("slow", ("slow", n))
    for n in range(20):
        lanes.put(f"c{n % 4}", (f"c{n % 4}", n))
    wait_for(lambda: len(handled) == 20)  # all other channels while "slow" is stuck
    assert ("slow", 0) not in handled
    assert lanes.busy_channels() == ["slow"]
    release.set()
    assert lanes.wait_idle(20)
    assert [n for c, n in handled if c == "slow"] == [0, 1, 2]
    for channel in ("c0", "c1", "c2", "c3"):
        numbers = [n for c, n in handled if c == channel]
        assert numbers == sorted(numbers)
        assert len(numbers) == 5
    assert lanes.stop(5) == 0


def test_lanes_stop_reports_what_was_left_unhandled() -> None:
    release = threading.Event()
    lanes: ChannelLanes[int] = ChannelLanes(lambda _: release.wait(30), workers=1)
    lanes.start()
    for n in range(4):
        lanes.put("a", n)
    wait_for(lambda: lanes.busy_channels() == ["a"])
    stopper = threading.Thread(target=lambda: setattr(stopper, "left", lanes.stop(20)))
    stopper.start()
    release.set()
    stopper.join(20)
    assert stopper.left == 3  # type: ignore[attr-defined]


# --- the pipeline -----------------------------------------------------------------------------


class Recorder:
    """Stands in for Errbot: records the messages and what was acknowledged at that moment."""

    def __init__(self, converter: Any = None, deliver_error: Exception | None = None) -> None:
        self.messages: list[Message] = []
        self.handled_before: list[int | None] = []
        self.warnings: list[str] = []
        self.tracker = RecentDeliveries()
        self.dead_letters = DeadLetterBox(limit=3)
        self.deliver_error = deliver_error
        self.pipeline = InboundPipeline(
            own_user_id="support",
            converter=converter or DefaultMessageConverter(),
            tracker=self.tracker,
            dead_letters=self.dead_letters,
            notices=AdminNotices(self.warnings.append, interval=3600),
            deliver=self.deliver,
            membership=None,  # type: ignore[arg-type]
            workers=2,
        )
        self.pipeline.start()

    def deliver(self, message: Message) -> None:
        self.handled_before.append(self.tracker.last_handled(str(message.to)))
        if self.deliver_error is not None and message.body == "fail":
            raise self.deliver_error
        self.messages.append(message)

    def feed(self, *items: Inbound) -> None:
        for item in items:
            self.pipeline.accept(item)
        assert self.pipeline.wait_idle(20)


def test_a_customer_message_reaches_errbot_with_the_agreed_extras() -> None:
    recorder = Recorder()
    payload = {"kind": "from_customer", "text": "Hello", "time": "2024-05-17T11:00:00+02:00"}
    recorder.feed(inbound("alice-support", 1, payload))
    (message,) = recorder.messages
    assert message.body == "Hello"
    assert message.frm == PubNubOccupant(PubNubRoom("alice-support"), "alice")
    assert message.to == PubNubRoom("alice-support")
    assert message.is_group
    extras = message.extras
    assert extras["message_id"] == str(BASE_TT + 1)
    assert datetime_to_timetoken(extras["sent_at"]) == (BASE_TT + 1) // 10 * 10
    assert extras["sent_at"].utcoffset().total_seconds() == 0
    assert extras["kind"] == "from_customer"
    assert extras["attachments"] == []
    pubnub = extras["pubnub"]
    assert (pubnub["channel"], pubnub["timetoken"], pubnub["publisher"]) == (
        "alice-support",
        BASE_TT + 1,
        "alice",
    )
    assert (pubnub["subscription"], pubnub["payload"]) == ("support", payload)
    assert pubnub["client_time"].isoformat() == "2024-05-17T09:00:00+00:00"


def test_acknowledged_only_after_delivery_returns() -> None:
    recorder = Recorder()
    recorder.feed(*(inbound("a", n, f"m{n}") for n in range(3)))
    assert recorder.handled_before == [None, BASE_TT, BASE_TT + 1]
    assert recorder.tracker.last_handled("a") == BASE_TT + 2


def test_own_replies_are_never_delivered_and_repeats_are_dropped() -> None:
    recorder = Recorder()
    recorder.feed(
        inbound("a", 1, "hi"),
        inbound("a", 2, {"kind": "from_agent", "text": "Hello!"}, publisher="support"),
        inbound("a", 1, "hi"),
        inbound("a", 3, "thanks"),
    )
    assert [m.body for m in recorder.messages] == ["hi", "thanks"]
    assert recorder.tracker.last_handled("a") == BASE_TT + 3


def test_unreadable_payloads_are_kept_warned_about_once_and_delivery_goes_on() -> None:
    recorder = Recorder(converter=CrashingConverter())
    recorder.feed(
        inbound("a", 1, {"say": "first"}),
        inbound("a", 2, "not a dict"),
        inbound("a", 3, {"say": "boom"}),
        inbound("a", 4, {"say": "(typing)"}),
        inbound("a", 5, [1, 2, 3]),
        inbound("a", 6, {"say": "last"}),
    )
    assert [m.body for m in recorder.messages] == ["first", "last"]
    letters = list(recorder.dead_letters)
    assert [(d.timetoken - BASE_TT, d.payload) for d in letters] == [
        (2, "not a dict"),
        (3, {"say": "boom"}),
        (5, [1, 2, 3]),
    ]
    assert "UndecodablePayload: expected {'say': ...}" in letters[0].reason
    assert "ZeroDivisionError: converter bug" in letters[1].reason
    wait_for(lambda: recorder.warnings)
    (warning,) = recorder.warnings  # rate-limited: one warning for the burst
    assert "alice" in warning
    assert "channel a" in warning
    assert "pubnub undelivered" in warning
    assert recorder.tracker.last_handled("a") == BASE_TT + 6


def test_a_failing_delivery_is_kept_not_lost() -> None:
    recorder = Recorder(deliver_error=RuntimeError("plugin exploded"))
    recorder.feed(inbound("a", 1, "fail"), inbound("a", 2, "fine"))
    assert [m.body for m in recorder.messages] == ["fine"]
    (letter,) = recorder.dead_letters
    assert letter.reason == "delivery failed: RuntimeError: plugin exploded"
    assert letter.payload == "fail"


def test_a_converter_returning_something_else_is_reported() -> None:
    class Confused(ShoutingConverter):
        def convert_from_pubnub(self, message: PNMessageResult) -> Any:
            return "a string"

    recorder = Recorder(converter=Confused())
    recorder.feed(inbound("a", 1, {"say": "x"}))
    (letter,) = recorder.dead_letters
    assert "returned a str, not a PubNubMessage" in letter.reason


def test_the_dead_letter_box_is_bounded_but_counts_everything() -> None:
    recorder = Recorder()
    recorder.feed(*(inbound("a", n, None) for n in range(5)))
    assert recorder.dead_letters.total == 5
    assert [d.timetoken - BASE_TT for d in recorder.dead_letters] == [2, 3, 4]


def test_nothing_is_accepted_after_stop() -> None:
    recorder = Recorder()
    assert recorder.pipeline.stop(5) == 0
    recorder.pipeline.accept(inbound("a", 1, "late"))
    assert recorder.pipeline.pending() == 0
    assert recorder.tracker.accept("a", BASE_TT + 1)  # not marked as seen: can come again


# --- the SDK boundary -------------------------------------------------------------------------


def _envelope(channel: str, tt: int, payload: Any, kind: int | None = None) -> SubscribeMessage:
    raw = {"c": channel, "d": payload, "f": 0, "k": "sub", "i": "alice", "p": {"t": tt, "r": 1}}
    if kind is not None:
        raw["e"] = kind
    return SubscribeMessage.from_json(raw)


def test_the_sdk_worker_survives_a_malformed_file_event() -> None:
    config = PNConfiguration()
    config.subscribe_key, config.publish_key, config.user_id = "sub", "pub", "support"
    config.daemon = True
    config.disable_config_locking = False
    pubnub = new_client(config)
    received: list[Inbound] = []
    install_surviving_worker(pubnub, received.append)
    pubnub.add_listener(SubscriptionListener(received.append, lambda status: None))
    queue = pubnub._subscription_manager._message_queue
    try:
        queue.put(_envelope("a", BASE_TT + 1, {"message": "x", "file": {}}, kind=4))
        queue.put(_envelope("a", BASE_TT + 2, "still delivered"))
        queue.put(_envelope("a", BASE_TT + 3, {"type": "typing"}, kind=1))  # a signal
        queue.put(_envelope("a", BASE_TT + 4, "and this"))
        wait_for(lambda: len(received) == 3)
    finally:
        pubnub.stop()
    broken, first, second = received
    assert (broken.result, broken.timetoken, broken.publisher) == (None, BASE_TT + 1, "alice")
    assert "KeyError" in (broken.failure or "")
    assert broken.payload == {"message": "x", "file": {}}
    assert first.result is not None
    assert (first.result.message, second.result.message) == ("still delivered", "and this")


def test_the_listener_never_raises_into_the_sdk() -> None:
    def explode(_: Any) -> None:
        raise RuntimeError("bug")

    listener = SubscriptionListener(explode, explode)
    result = PNMessageResult("x", None, "a", BASE_TT)
    listener.message(None, result)  # type: ignore[arg-type]
    listener.file(None, result)  # type: ignore[arg-type]
    listener.status(None, None)  # type: ignore[arg-type]


# --- outbound size limit ----------------------------------------------------------------------


def test_a_short_message_is_one_payload() -> None:
    publisher = Publisher(None, DefaultMessageConverter())  # type: ignore[arg-type]
    message = PubNubMessage(kind=MessageKind.FROM_AGENT, text="Hi")
    (payload,) = publisher.fit("a", message, None)
    assert payload["text"] == "Hi"


@pytest.mark.parametrize("unit", ["word ", "é", "😀", "x"])
def test_a_long_message_is_split_into_parts_that_fit(unit: str) -> None:
    publisher = Publisher(None, DefaultMessageConverter())  # type: ignore[arg-type]
    text = unit * (70_000 // len(unit))
    attachment = Attachment("a.pdf", "https://files.example/a.pdf", "application/pdf")
    message = PubNubMessage(kind=MessageKind.RESOLVED, text=text, attachments=[attachment])
    meta = {"author": "Alice"}
    parts = publisher.fit("alice-support", message, meta)
    assert len(parts) > 1
    assert all(encoded_size("alice-support", p, meta) <= MAX_MESSAGE_BYTES for p in parts)
    assert "".join(p["text"] for p in parts) == text
    assert [p["kind"] for p in parts] == ["from_agent"] * (len(parts) - 1) + ["resolved"]
    assert [("attachments" in p) for p in parts] == [False] * (len(parts) - 1) + [True]


def test_a_message_that_cannot_fit_is_refused_clearly() -> None:
    publisher = Publisher(None, DefaultMessageConverter())  # type: ignore[arg-type]
    url = "https://files.example/" + "x" * 200
    attachments = [Attachment(f"f{n}", f"{url}/{n}") for n in range(300)]
    message = PubNubMessage(kind=MessageKind.FROM_AGENT, text="files", attachments=attachments)
    with pytest.raises(MessageTooLarge, match="over PubNub's 32 KiB limit even without its text"):
        publisher.fit("a", message, None)


def test_a_converter_producing_no_json_is_refused_clearly() -> None:
    class Broken(ShoutingConverter):
        def convert_to_pubnub(self, message: PubNubMessage) -> Any:
            return {"when": object()}

    publisher = Publisher(None, Broken())  # type: ignore[arg-type]
    with pytest.raises(PublishError, match="Broken could not produce a JSON payload: TypeError"):
        publisher.fit("a", PubNubMessage(kind=MessageKind.FROM_AGENT, text="x"), None)
