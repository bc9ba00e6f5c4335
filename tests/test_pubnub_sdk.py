"""What ``errbot_pubnub.sdk`` relies on in the PubNub SDK, checked against the installed release.

Each test below exercises one reach into the SDK's private parts through the real SDK and the
local server, so an SDK release that changes what is relied on fails here, by name, rather than
somewhere downstream by chance. (The surviving message worker is checked in
``test_pubnub_pipeline.py``, the reconnection manager's disarming in ``test_pubnub_lifecycle.py``.)
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpcore
import pytest
from pubnub.enums import PNStatusCategory

from errbot_pubnub import sdk
from errbot_pubnub.emulator import PubNubEmulator
from errbot_pubnub.sdk import PubNubException, new_client, stop_client, watch_full_answers
from tests.botrunner import wait_for
from tests.pubnub_fixtures import PubNubEvents, pubnub_config, subscribed, threads_of


def test_the_installed_sdk_is_in_the_supported_range() -> None:
    sdk._check_version("10.8.0")


@pytest.mark.parametrize("found", ["9.1.0", "11.0.0", "12.3"])
def test_an_sdk_outside_the_range_is_refused_in_one_sentence(found: str) -> None:
    with pytest.raises(ImportError) as refused:
        sdk._check_version(found)
    sentence = str(refused.value)
    assert f"pubnub {found} is installed" in sentence
    assert ">=10.0,<11" in sentence
    assert sentence.count(". ") == 0 and sentence.endswith(".")


def test_a_request_after_the_stop_fails_at_once_and_opens_no_socket(
    pubnub_server: PubNubEmulator,
) -> None:
    client = new_client(pubnub_config(pubnub_server, "nora"))
    client.publish().channel("nora").message("before").sync()
    stop_client(client)
    with pytest.raises(PubNubException, match="stopped"):
        client.publish().channel("nora").message("after").sync()
    assert client.get_request_handler().backend.open_sockets() == 0
    assert [m.message for m in pubnub_server.history("nora")] == ["before"]


def test_a_long_poll_waiting_on_the_server_ends_with_the_stop(
    pubnub_server: PubNubEmulator,
) -> None:
    """The server holds a long-poll for minutes; the stop must not wait for its answer."""
    client = new_client(pubnub_config(pubnub_server, "omar"))
    subscribed(client, channels=["omar"])
    wait_for(lambda: pubnub_server.subscribers() != [])
    stop_client(client)
    wait_for(lambda: not threads_of([client]), timeout=5)
    assert client.get_request_handler().backend.open_sockets() == 0


def test_a_long_poll_connecting_while_the_client_stops_never_connects(
    pubnub_server: PubNubEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race behind a thread left now and then: the subscribe request has taken the HTTP
    client and is about to connect when the stop runs; it connects once the stop is over."""
    about_to_connect, stop_done = threading.Event(), threading.Event()
    connect = httpcore.SyncBackend.connect_tcp

    def held_connect(self: Any, *args: Any, **kwargs: Any) -> Any:
        about_to_connect.set()
        stop_done.wait(5)
        return connect(self, *args, **kwargs)

    client = new_client(pubnub_config(pubnub_server, "pia"))
    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", held_connect)
    now = time.time_ns() // 100
    client.subscribe().channels(["pia"]).with_timetoken(now).execute()  # a long-poll at once
    assert about_to_connect.wait(5)
    stop_client(client)
    stop_done.set()
    wait_for(lambda: not threads_of([client]), timeout=5)
    assert client.get_request_handler().backend.open_sockets() == 0
    assert pubnub_server.subscribers() == []


def test_a_stopped_client_starts_no_long_poll_after_an_answer(
    pubnub_server: PubNubEmulator,
) -> None:
    """The SDK starts each next long-poll from its answer handler (``_start_subscribe_loop``):
    a client stopped while an answer is on its way must not start another."""
    publisher = new_client(pubnub_config(pubnub_server, "sam"))
    client = new_client(pubnub_config(pubnub_server, "support"))
    try:
        events = subscribed(client, channels=["sam"])
        pubnub_server.wait_for_subscriber("support", channel="sam")
        client.subscription.stopped_for_good = True  # what the stop sets first
        publisher.publish().channel("sam").message("last").sync()
        assert events.next_message().message == "last"
        wait_for(lambda: client.subscription.long_polls_refused == 1)
        assert pubnub_server.subscribers() == []
    finally:
        stop_client(publisher)
        stop_client(client)
    wait_for(lambda: not threads_of([client, publisher]))


def test_a_full_subscribe_answer_is_seen_before_its_messages(
    pubnub_server: PubNubEmulator,
) -> None:
    publisher = new_client(pubnub_config(pubnub_server, "quinn"))
    client = new_client(pubnub_config(pubnub_server, "support"))
    try:
        start = int(publisher.time().sync().result)
        for n in range(sdk.FULL_ANSWER + 5):
            publisher.publish().channel("quinn").message(n).sync()
        seen: list[tuple[dict[str, str | None], int]] = []
        events = PubNubEvents()
        watch_full_answers(
            client, lambda channels: seen.append((channels, events.messages.qsize()))
        )
        client.add_listener(events)
        client.subscribe().channels(["quinn"]).with_timetoken(start).execute()
        first = events.next_message()
        assert first.message == 5  # the server kept the last 100 for a subscriber behind
        assert seen and seen[0] == ({"quinn": None}, 0)
    finally:
        stop_client(publisher)
        stop_client(client)
    wait_for(lambda: not threads_of([client, publisher]))


def test_the_presence_heartbeat_stops_with_the_client(pubnub_server: PubNubEmulator) -> None:
    """``PubNub.stop()`` leaves a beat running re-arm its timer; the stop disarms it."""
    config = pubnub_config(pubnub_server, "rosa")
    config.set_presence_timeout_with_custom_interval(20, 1)
    config.enable_presence_heartbeat = True
    client = new_client(config)
    events = subscribed(client, channels=["rosa"])
    assert events.statuses.empty() or events.statuses.get().category != (
        PNStatusCategory.PNAccessDeniedCategory
    )
    wait_for(lambda: any(isinstance(t, threading.Timer) for t in _threads_of(client)))
    stop_client(client)
    wait_for(lambda: not threads_of([client]), timeout=5)


def _threads_of(client: Any) -> list[threading.Thread]:
    from tests.pubnub_fixtures import sdk_client_of

    return [t for t in threading.enumerate() if sdk_client_of(t) is client]
