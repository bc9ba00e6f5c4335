"""A real bot on the PubNub backend, against the local PubNub server, customers on the SDK.

One bot serves the whole module (each test uses its own customer channels); tests that need
another configuration start their own.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from errbot.bootstrap import setup_bot

from errbot_pubnub.emulator import PubNubEmulator
from errbot_pubnub.outbound import PublishError
from errbot_pubnub.room import PubNubRoom
from errbot_pubnub.sdk import new_client
from tests.botrunner import RunningBot, make_config, running_bot, wait_for
from tests.pubnub_fixtures import (
    PUBLISH_KEY,
    SUBSCRIBE_KEY,
    PubNubEvents,
    pubnub_config,
    stop_clients,
    subscribed,
)

PLUGINS = str(Path(__file__).parent / "plugins" / "pubnub_probe")
GROUP = "support"
SUPPORT = "support"
ADMIN_CHANNEL = "ops"


class Customer:
    """A customer app: its own channel in the support group, the official SDK underneath."""

    def __init__(self, server: PubNubEmulator, user_id: str, channel: str | None = None) -> None:
        self.user_id = user_id
        self.channel = channel or f"{user_id}-support"
        self.client = new_client(pubnub_config(server, user_id))
        self.client.add_channel_to_channel_group().channels([self.channel]).channel_group(
            GROUP
        ).sync()
        self.events: PubNubEvents = subscribed(self.client, channels=[self.channel])

    def say(self, payload: Any, meta: dict[str, Any] | None = None) -> int:
        request = self.client.publish().channel(self.channel).message(payload)
        if meta:
            request = request.meta(meta)
        return int(request.sync().result.timetoken)

    def text(self, text: str) -> int:
        now = datetime.now(timezone.utc).isoformat()
        return self.say({"kind": "from_customer", "time": now, "text": text})

    def next_reply(self, timeout: float = 20) -> Any:
        """The next message published by the support user (the customer's own are skipped)."""
        while True:
            message = self.events.next_message(timeout=timeout)
            if message.publisher == SUPPORT:
                return message

    def no_more_replies(self) -> bool:
        try:
            extra = self.next_reply(timeout=0.5)
        except queue.Empty:
            return True
        raise AssertionError(f"unexpected reply {extra.message!r}")

    def stop(self) -> None:
        stop_clients([self.client])


def bot_config(tmp_path: Path, server: PubNubEmulator, **overrides: Any) -> Any:
    settings: dict[str, Any] = {
        "BOT_IDENTITY": {
            "publish_key": PUBLISH_KEY,
            "subscribe_key": SUBSCRIBE_KEY,
            "user_id": SUPPORT,
        },
        "PUBNUB_CHANNEL_GROUP": GROUP,
        "PUBNUB_ORIGIN": server.origin,
        "PUBNUB_SSL": False,
        "BOT_EXTRA_PLUGIN_DIR": PLUGINS,
        "BOT_ADMINS": (f"{ADMIN_CHANNEL}/admin",),
        # PubNub has no direct messages: admins use their own channel, so admin commands
        # must be allowed in "rooms" (Errbot keeps them to direct messages by default).
        "ACCESS_CONTROLS": {"PubNub:*": {"allowmuc": True}},
    }
    settings.update(overrides)
    return make_config(tmp_path, **settings)


@pytest.fixture(scope="module")
def server() -> Iterator[PubNubEmulator]:
    with PubNubEmulator(publish_key=PUBLISH_KEY, subscribe_key=SUBSCRIBE_KEY) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory, server: PubNubEmulator) -> Iterator[RunningBot]:
    config = bot_config(tmp_path_factory.mktemp("pubnub-bot"), server)
    with running_bot("PubNub", config) as running:
        yield running


@pytest.fixture
def customers(server: PubNubEmulator) -> Iterator[Any]:
    made: list[Customer] = []

    def make(user_id: str, channel: str | None = None) -> Customer:
        customer = Customer(server, user_id, channel)
        made.append(customer)
        return customer

    yield make
    for customer in made:
        customer.stop()


def heard(bot: RunningBot, channel: str) -> list[Any]:
    return [m for m in bot.plugin("PubNubProbe").heard if str(m.to) == channel]


def test_a_standalone_bot_answers_a_command_and_a_plugin(bot: RunningBot, customers: Any) -> None:
    alice = customers("alice")
    alice.text("!echo hello there")
    reply = alice.next_reply()
    assert reply.channel == "alice-support"
    assert reply.message["kind"] == "from_agent"
    assert reply.message["text"] == "hello there"
    assert datetime.fromisoformat(reply.message["time"]).tzinfo is not None
    alice.text("probe: is anyone there?")
    assert alice.next_reply().message["text"] == "probe heard is anyone there?"
    message = heard(bot, "alice-support")[-1]
    assert str(message.frm) == "alice-support/alice"
    assert message.extras["kind"] == "from_customer"
    assert message.extras["pubnub"]["subscription"] == GROUP


def test_own_replies_never_echo(bot: RunningBot, customers: Any, server: PubNubEmulator) -> None:
    bob = customers("bob")
    bob.text("probe: one")
    assert bob.next_reply().message["text"] == "probe heard one"
    bob.text("probe: two")
    assert bob.next_reply().message["text"] == "probe heard two"
    assert bob.no_more_replies()
    assert [m.body for m in heard(bot, "bob-support")] == ["probe: one", "probe: two"]
    published = server.published("bob-support")
    assert [m.publisher for m in published] == ["bob", SUPPORT, "bob", SUPPORT]


def test_a_burst_is_answered_once_each_in_order(bot: RunningBot, customers: Any) -> None:
    carol, dave = customers("carol"), customers("dave")
    for n in range(25):
        carol.text(f"probe: c{n}")
        dave.text(f"probe: d{n}")
    assert [carol.next_reply().message["text"] for _ in range(25)] == [
        f"probe heard c{n}" for n in range(25)
    ]
    assert [dave.next_reply().message["text"] for _ in range(25)] == [
        f"probe heard d{n}" for n in range(25)
    ]
    assert carol.no_more_replies()
    timetokens = [int(m.extras["message_id"]) for m in heard(bot, "carol-support")]
    assert timetokens == sorted(timetokens)
    assert len(set(timetokens)) == 25


MALFORMED = [
    None,
    42,
    3.5,
    True,
    [1, 2, 3],
    "",
    {},
    {"kind": "from_customer"},
    {"text": 42},
    {"text": "x", "attachments": "not a list"},
    {"text": "x", "files": [{"name": "no url"}]},
    {"unrelated": {"deeply": ["nested"]}},
]


def test_malformed_payloads_are_survived_kept_and_reported(
    bot: RunningBot, customers: Any, server: PubNubEmulator
) -> None:
    admin = customers("admin", channel=ADMIN_CHANNEL)
    eve = customers("eve")
    backend = bot.bot
    before = backend.dead_letters.total
    for payload in MALFORMED:
        if payload is None:  # the SDK refuses to publish null; another client may not
            server.publish(eve.channel, None, publisher=eve.user_id)
        else:
            eve.say(payload)
    eve.say({"kind": "complaint", "text": "probe: unknown kind still read"})
    eve.say({"kind": "from_customer", "time": "not a time", "text": "probe: bad time"})
    eve.text("probe: still here")
    replies = [eve.next_reply().message["text"] for _ in range(3)]
    assert replies == [
        "probe heard unknown kind still read",
        "probe heard bad time",
        "probe heard still here",
    ]
    wait_for(lambda: backend.dead_letters.total == before + len(MALFORMED))
    kept = backend.dead_letters.latest(len(MALFORMED))
    assert [letter.payload for letter in kept] == MALFORMED
    assert all(letter.channel == "eve-support" and letter.publisher == "eve" for letter in kept)
    warning = admin.next_reply().message["text"]
    assert "could not be delivered" in warning
    assert "eve-support" in warning
    admin.text("!pubnub undelivered --count 2")
    listing = admin.next_reply().message["text"]
    assert "undelivered PubNub message(s) since start; the last 2:" in listing
    assert "channel eve-support, from eve" in listing
    assert '{"unrelated": {"deeply": ["nested"]}}' in listing
    assert admin.no_more_replies()  # a burst of bad payloads is one warning, not twelve


def test_replies_carry_kind_and_author_meta(
    bot: RunningBot, customers: Any, server: PubNubEmulator
) -> None:
    frank = customers("frank")
    frank.text("!resolve me Glad we could help.")
    reply = frank.next_reply()
    assert reply.message["kind"] == "resolved"
    assert reply.message["text"] == "Glad we could help."
    assert reply.user_metadata == {"author": "Alice"}


def test_a_long_reply_is_split_and_arrives_whole_in_order(bot: RunningBot, customers: Any) -> None:
    grace = customers("grace")
    text = "".join(f"line {n:05d} of a very long answer\n" for n in range(2500))
    message = bot.bot.build_message(text)
    message.to = bot.bot.build_identifier("grace-support")
    bot.bot.send_message(message)
    parts = []
    while sum(len(p) for p in parts) < len(text):
        parts.append(grace.next_reply().message["text"])
    assert len(parts) > 1
    assert "".join(parts) == text


def test_a_failed_publish_raises_with_the_status(bot: RunningBot, server: PubNubEmulator) -> None:
    message = bot.bot.build_message("this will not go out")
    message.to = bot.bot.build_identifier("henry-support")
    # A refusal is final at once (failures that may pass are retried: test_delivery_outbound).
    server.faults.fail_next(status=403, operation="publish", message="Forbidden")
    with pytest.raises(PublishError) as failure:
        bot.bot.send_message(message)
    assert failure.value.status_code == 403
    assert "henry-support" in str(failure.value)
    assert server.published("henry-support") == []
    bot.bot.send_message(message)  # the next one goes through
    assert [m.message["text"] for m in server.published("henry-support")] == [message.body]


def test_an_admin_warning_that_cannot_be_published_does_not_raise(
    bot: RunningBot, server: PubNubEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    # Errbot warns admins on the serving thread at start-up (a plugin failing to activate):
    # an exception there would stop the bot.
    server.faults.fail_next(status=403, operation="publish", message="Forbidden")
    bot.bot.warn_admins("first warning")
    assert f"Could not warn the admin {ADMIN_CHANNEL}/admin: Publishing" in caplog.text
    bot.bot.warn_admins("second warning")
    texts = [m.message["text"] for m in server.published(ADMIN_CHANNEL)]
    assert "second warning" in texts
    assert "first warning" not in texts


def test_sending_to_something_that_is_not_a_channel_is_refused(bot: RunningBot) -> None:
    message = bot.bot.build_message("hi")
    message.to = bot.bot.bot_identifier
    with pytest.raises(ValueError, match="PubNub messages go to a channel"):
        bot.bot.send_message(message)
    message.to = bot.bot.build_identifier("x")
    message.extras["kind"] = "shout"
    with pytest.raises(ValueError, match="unknown message kind 'shout'"):
        bot.bot.send_message(message)


def test_rooms_are_the_channels_of_the_groups(bot: RunningBot, customers: Any) -> None:
    customers("ivan")
    rooms = bot.bot.rooms()
    assert PubNubRoom("ivan-support") in rooms
    room = bot.bot.query_room("judy-support")
    assert not room.joined
    room.join()
    assert room.joined
    assert PubNubRoom("judy-support") in bot.bot.rooms()
    room.leave()
    assert not room.joined


def test_admin_status_command(bot: RunningBot, customers: Any) -> None:
    admin = customers("admin", channel=ADMIN_CHANNEL)
    admin.text("!pubnub status")
    status = admin.next_reply().message["text"]
    assert status.startswith("PubNub: connected since ")
    assert "Support user: support; origin: 127.0.0.1:" in status
    assert "(no TLS); access: none (open keyset)" in status
    assert "Converter: errbot_pubnub.converters.DefaultMessageConverter" in status
    assert "Channel groups: support (" in status
    customer = customers("kim")
    customer.text("!pubnub status")
    assert "requires bot-admin privileges" in customer.next_reply().message["text"]


def test_a_custom_converter_is_loaded_by_dotted_path(
    tmp_path: Path, server: PubNubEmulator, customers: Any
) -> None:
    config = bot_config(
        tmp_path,
        server,
        PUBNUB_CHANNEL_GROUP="shouting",
        PUBNUB_MESSAGE_CONVERTER="tests.pubnub_converters.ShoutingConverter",
    )
    with running_bot("PubNub", config):
        customer = new_client(pubnub_config(server, "leo"))
        try:
            customer.add_channel_to_channel_group().channels(["leo"]).channel_group(
                "shouting"
            ).sync()
            events = subscribed(customer, channels=["leo"])
            customer.publish().channel("leo").message({"say": "(typing)"}).sync()
            customer.publish().channel("leo").message({"say": "!echo quiet please"}).sync()
            replies = []
            while not replies:
                message = events.next_message()
                if message.publisher == SUPPORT:
                    replies.append(message.message)
            assert replies == [{"reply": "QUIET PLEASE", "state": "from_agent"}]
        finally:
            stop_clients([customer])


@pytest.mark.parametrize(
    ("overrides", "sentence"),
    [
        (
            {"BOT_IDENTITY": {"subscribe_key": SUBSCRIBE_KEY}},
            "BOT_IDENTITY['publish_key'] is missing: set it (or the environment variable "
            "PUBNUB_PUBLISH_KEY that config_template.py reads).",
        ),
        (
            {"PUBNUB_MESSAGE_CONVERTER": "myapp.converters.Missing"},
            "PUBNUB_MESSAGE_CONVERTER 'myapp.converters.Missing' cannot be imported: "
            "ModuleNotFoundError: No module named 'myapp'.",
        ),
        (
            {"PUBNUB_MESSAGE_CONVERTER": "tests.pubnub_converters.NotAConverter"},
            "PUBNUB_MESSAGE_CONVERTER 'tests.pubnub_converters.NotAConverter' is not a "
            "subclass of errbot_pubnub.MessageConverter.",
        ),
    ],
)
def test_bad_configuration_stops_start_up_with_one_sentence(
    tmp_path: Path,
    server: PubNubEmulator,
    overrides: dict[str, Any],
    sentence: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(SystemExit) as stopped:
        setup_bot("PubNub", logging.getLogger("errbot"), bot_config(tmp_path, server, **overrides))
    assert str(stopped.value) == sentence
    assert sentence in caplog.text
    assert "Traceback" not in caplog.text
