"""A wrong key is a setting to fix, not an outage to wait out: the bot stops at start with one
sentence naming it (the local PubNub server answers a key it does not know as PubNub does,
with a 400)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from errbot.bootstrap import setup_bot

from errbot_pubnub.settings import PubNubConfigurationError
from tests.botrunner import make_config, refusal_to_start
from tests.pubnub_fixtures import PUBLISH_KEY, SUBSCRIBE_KEY


@pytest.mark.parametrize(
    ("keys", "sentence"),
    [
        (
            {"publish_key": PUBLISH_KEY, "subscribe_key": "sub-c-typo"},
            "PubNub does not know BOT_IDENTITY['subscribe_key'] (400: Invalid Subscribe Key): "
            "copy the subscribe key of your keyset from PubNub's Admin Portal.",
        ),
        (
            {"publish_key": "pub-c-typo", "subscribe_key": SUBSCRIBE_KEY},
            "PubNub does not know BOT_IDENTITY['publish_key'] (400: Invalid Key): "
            "copy the publish key of your keyset from PubNub's Admin Portal.",
        ),
    ],
    ids=["subscribe key", "publish key"],
)
def test_a_wrong_key_stops_the_bot_with_one_sentence_naming_it(
    tmp_path: Path, pubnub_server: Any, keys: dict[str, str], sentence: str, caplog: Any
) -> None:
    config = make_config(tmp_path, BOT_IDENTITY=keys, PUBNUB_ORIGIN=pubnub_server.origin)
    bot = setup_bot("PubNub", logging.getLogger("errbot"), config)
    error = refusal_to_start(bot)
    assert isinstance(error, PubNubConfigurationError)
    assert str(error) == sentence
    assert bot.connection.state == "stopped"
    assert "down for" not in caplog.text  # not taken for an outage
