"""A keyset without Message Persistence: how the local server answers, as PubNub does."""

from __future__ import annotations

from typing import Any

import pytest
from pubnub.exceptions import PubNubException

from errbot_pubnub.emulator.errors import PERSISTENCE_DISABLED_MESSAGE


def test_history_calls_are_refused_and_nothing_is_stored(
    pubnub_server_factory: Any, pubnub_client: Any
) -> None:
    server = pubnub_server_factory(message_persistence=False)
    client = pubnub_client("ann", server=server)
    client.publish().channel("ann-support").message({"text": "hi"}).sync()
    assert [m.message for m in server.published("ann-support")] == [{"text": "hi"}]
    assert server.history("ann-support") == []
    for request in (
        client.fetch_messages().channels(["ann-support"]),
        client.message_counts(channels=["ann-support"], channels_timetoken=[1]),
    ):
        with pytest.raises(PubNubException) as refused:
            request.sync()
        assert refused.value.get_status_code() == 403
        assert PERSISTENCE_DISABLED_MESSAGE in str(refused.value)
