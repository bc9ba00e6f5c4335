"""Undecodable payloads: kept durably, listed for admins, replayed once the converter is fixed.

Real bots on the local PubNub server; the first one reads only ``{"say": ...}`` (a converter
that does not know the app's shape), the restarted one the default shapes (the fix). The admin
types commands in their own PubNub channel, as on a standalone PubNub bot.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from errbot_pubnub.emulator import PubNubEmulator
from tests.botrunner import running_bot, wait_for
from tests.delivery_fixtures import ADMIN_CHANNEL, Customers, Recording, admin_command, bot_config


@pytest.fixture
def customers(pubnub_server: PubNubEmulator) -> Iterator[Customers]:
    made = Customers(pubnub_server)
    yield made
    made.stop()


def test_undecodable_messages_survive_a_restart_and_are_replayed_after_a_fix(
    tmp_path: Path, pubnub_server: PubNubEmulator, customers: Customers
) -> None:
    record = Recording(tmp_path / "record.jsonl")
    customers.join("pia")
    customers.join("admin", channel=ADMIN_CHANNEL)

    def admin(command: str, starts: str = "") -> str:
        return admin_command(pubnub_server, customers, command, starts)

    strict = bot_config(
        tmp_path,
        pubnub_server,
        record.path,
        PUBNUB_MESSAGE_CONVERTER="tests.pubnub_converters.ShoutingConverter",
    )
    with running_bot("PubNub", strict) as running:
        customers.say_raw("pia", {"say": "readable"})
        customers.say_raw("pia", {"text": "my order is late"})
        customers.say_raw("pia", {"text": "order 4411"})
        customers.say_raw("pia", {"say": "still read"})
        record.wait_for_texts(["readable", "still read"])
        wait_for(lambda: len(running.bot.dead_letters) == 2)

    fixed = bot_config(tmp_path, pubnub_server, record.path)  # the default converter reads them
    with running_bot("PubNub", fixed) as running:
        listing = admin("!pubnub undelivered", "2 kept")
        assert listing.startswith("2 kept for replay; 0 undelivered PubNub message(s) since start")
        assert "#1 " in listing and "#2 " in listing
        assert '{"text": "my order is late"}' in listing
        assert "expected {'say': ...}" in listing
        assert admin("!pubnub replay 7", "There is no undelivered message #7")
        assert admin("!pubnub replay", "Say which undelivered messages")

        answer = admin("!pubnub replay all", "Replayed")
        assert answer.startswith("Replayed 2 undelivered message(s): 2 handled.")
        assert "#1 (channel pia-support" in answer and "delivered, removed from the list" in answer
        assert len(running.bot.dead_letters) == 0
        assert admin("!pubnub replay all", "No undelivered")
        customers.say("pia", "after the fix")
        record.wait_for_texts(["after the fix"])

    assert record.texts("pia-support") == [
        "readable",
        "still read",
        "my order is late",
        "order 4411",
        "after the fix",
    ]


def test_a_replay_that_still_fails_stays_listed_with_the_new_reason(
    tmp_path: Path, pubnub_server: PubNubEmulator, customers: Customers
) -> None:
    record = Recording(tmp_path / "record.jsonl")
    customers.join("quinn")
    customers.join("admin", channel=ADMIN_CHANNEL)
    config = bot_config(
        tmp_path,
        pubnub_server,
        record.path,
        PUBNUB_MESSAGE_CONVERTER="tests.pubnub_converters.CrashingConverter",
    )
    with running_bot("PubNub", config) as running:
        customers.say_raw("quinn", {"say": "boom"})
        wait_for(lambda: len(running.bot.dead_letters) == 1)
        (letter,) = running.bot.dead_letters
        answer = admin_command(
            pubnub_server, customers, f"!pubnub replay #{letter.id}", "REPLAYED", key="say"
        )
        assert "STILL UNDELIVERABLE: ZERODIVISIONERROR: CONVERTER BUG" in answer  # it shouts
        assert [d.id for d in running.bot.dead_letters] == [letter.id]
    assert record.texts("quinn-support") == []
