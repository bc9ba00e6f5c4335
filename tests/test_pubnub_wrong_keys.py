"""A wrong key is a setting to fix, not an outage to wait out: the bot stops at start with one
sentence naming it (the local PubNub server answers a key it does not know as PubNub does,
with a 400), on a PubNub bot and on a bridged one whose customers are on PubNub."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from errbot.bootstrap import setup_bot

from errbot_bridge import BridgeConfigurationError
from errbot_pubnub.settings import PubNubConfigurationError
from tests.botrunner import make_config, refusal_to_start
from tests.pubnub_fixtures import PUBLISH_KEY, SUBSCRIBE_KEY
from tests.support_fixtures import bridged_config, customers_network

WRONG_KEYS = pytest.mark.parametrize(
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


@WRONG_KEYS
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


@WRONG_KEYS
def test_a_wrong_key_of_the_customers_network_stops_the_bridge_with_one_sentence(
    tmp_path: Path, pubnub_server: Any, keys: dict[str, str], sentence: str, caplog: Any
) -> None:
    customers = customers_network(pubnub_server)
    customers["BOT_IDENTITY"] = {**customers["BOT_IDENTITY"], **keys}
    config = bridged_config(
        tmp_path,
        pubnub_server,
        {"BACKEND": "Test"},
        BRIDGE_BACKENDS={"agents": {"BACKEND": "Test"}, "customers": customers},
    )
    error = refusal_to_start(setup_bot("Bridge", logging.getLogger("errbot"), config))
    assert isinstance(error, BridgeConfigurationError)
    assert str(error) == f'BRIDGE_BACKENDS["customers"]: {sentence}'
    assert "down for" not in caplog.text
    assert "Traceback" not in caplog.text
