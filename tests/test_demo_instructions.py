"""What ``make demo`` tells a newcomer to run as a customer matches the configured converter:
a customer whose messages the bot could not read would look like a broken demo."""

from types import SimpleNamespace

import pytest

from errbot_pubnub import ChatSDKMessageConverter
from errbot_support_demo.commands import _instructions

PAGE = SimpleNamespace(url="http://127.0.0.1:8091/")


@pytest.mark.parametrize(
    ("converter", "customer"),
    [
        ("errbot_pubnub.DefaultMessageConverter", "run `make customer`"),
        ("errbot_pubnub.ChatSDKMessageConverter", "run `make chat-sdk-customer`"),
        (ChatSDKMessageConverter, "run `make chat-sdk-customer`"),
    ],
)
def test_the_demo_names_the_customer_that_speaks_the_converters_shape(
    converter: object, customer: str
) -> None:
    config = SimpleNamespace(PUBNUB_MESSAGE_CONVERTER=converter, SUPPORT_AGENT_ROOM="#support")
    text = _instructions(config, None, None, PAGE)
    assert f"In a second terminal, {customer} and type a message" in text
    assert "http://127.0.0.1:8091/" in text
