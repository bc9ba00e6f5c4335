"""Starting and stopping: real ``errbot`` processes stopped by signals, refused subscriptions,
and the ``PubNub`` admin plugin on a bot that does not use PubNub."""

from __future__ import annotations

import logging
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from errbot.bootstrap import setup_bot
from pubnub.enums import PNReconnectionPolicy, PNStatusCategory
from pubnub.models.consumer.common import PNStatus
from pubnub.pubnub import PubNub

from errbot_pubnub.emulator import PubNubEmulator
from errbot_pubnub.sdk import new_client, stop_client
from errbot_pubnub.settings import PubNubConfigurationError
from tests.botrunner import make_config, refusal_to_start, running_bot, wait_for
from tests.pubnub_fixtures import (
    PUBLISH_KEY,
    SECRET_KEY,
    SUBSCRIBE_KEY,
    errbot_config_file,
    pubnub_config,
    sdk_client_of,
    stop_clients,
    subscribed,
    threads_of,
)

ERRBOT = str(Path(sys.executable).parent / "errbot")
# Errbot's command thread pool lives until the process exits (Errbot closes it at exit).
ERRBOT_POOL_THREAD = re.compile(
    r"Thread-\d+ \((worker|_handle_workers|_handle_tasks|_handle_results)\)"
)


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_a_real_bot_promptly(
    tmp_path: Path, pubnub_server: PubNubEmulator, pubnub_client: Any, stop_signal: int
) -> None:
    config = errbot_config_file(tmp_path, pubnub_server)
    bot = subprocess.Popen(
        [ERRBOT, "-c", str(config)],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    log_lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [log_lines.put(line) for line in bot.stderr or ()], daemon=True
    ).start()
    try:
        customer = pubnub_client("nina")
        customer.add_channel_to_channel_group().channels(["nina"]).channel_group("support").sync()
        events = subscribed(customer, channels=["nina"])
        pubnub_server.wait_for_subscriber("support", group="support", timeout=30)
        wait_for(lambda: _answers(customer, events), timeout=30)
        bot.send_signal(stop_signal)
        assert bot.wait(20) == 0
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.wait(10)
    output = "".join(log_lines.queue)
    stopping = output.split("Stopping the PubNub backend", 1)
    assert len(stopping) == 2, output
    assert "Traceback" not in stopping[1]  # the stop is clean (start-up is other tests' job)
    assert "Bye" in stopping[1]


def _answers(customer: PubNub, events: Any) -> bool:
    """Ask ``!echo ready`` until the bot's plugins are up and answer it."""
    customer.publish().channel("nina").message({"text": "!echo ready"}).sync()
    try:
        while True:
            message = events.next_message(timeout=1)
            if message.publisher == "support":
                return message.message["text"] == "ready"
    except queue.Empty:
        return False


def test_a_refused_subscription_stops_start_up_with_one_sentence(
    tmp_path: Path, pubnub_server_factory: Any
) -> None:
    server = pubnub_server_factory(secret_key=SECRET_KEY)
    token = server.issue_token(
        {"ttl": 60, "permissions": {"resources": {"groups": {"other": 1}}, "uuid": "support"}}
    )
    config = make_config(
        tmp_path,
        BOT_IDENTITY={
            "publish_key": PUBLISH_KEY,
            "subscribe_key": SUBSCRIBE_KEY,
            "token": token,
        },
        PUBNUB_ORIGIN=server.origin,
    )
    bot = setup_bot("PubNub", logging.getLogger("errbot"), config)
    error = refusal_to_start(bot)
    assert isinstance(error, PubNubConfigurationError)
    assert str(error).startswith(
        "PubNub refused to subscribe 'support' to channel group(s) support (403 Forbidden"
    )
    assert str(error).endswith(
        "check BOT_IDENTITY keys and that the token in BOT_IDENTITY['token'] grants read on "
        "these groups."
    )
    assert bot.connection.state == "stopped"


def test_no_sdk_thread_outlives_a_stopped_bot(
    tmp_path: Path, pubnub_server: PubNubEmulator
) -> None:
    before = set(threading.enumerate())
    config = make_config(
        tmp_path,
        BOT_IDENTITY={"publish_key": PUBLISH_KEY, "subscribe_key": SUBSCRIBE_KEY},
        PUBNUB_ORIGIN=pubnub_server.origin,
    )
    with running_bot("PubNub", config) as running:
        customer = new_client(pubnub_config(pubnub_server, "olga"))
        try:
            customer.publish().channel("olga").message("hi").sync()
        finally:
            stop_clients([customer])
        assert running.bot.connection.state == "connected"

    def leftovers() -> list[str]:
        return sorted(
            _described(t)
            for t in set(threading.enumerate()) - before
            if t.is_alive()
            and not ERRBOT_POOL_THREAD.fullmatch(t.name)
            and not _of_another_server(t, pubnub_server)
        )

    try:
        wait_for(lambda: not leftovers(), timeout=5)
    except AssertionError:
        raise AssertionError(f"threads left: {leftovers()}") from None


def test_resubscribing_many_times_leaves_no_thread_or_timer_of_the_old_clients(
    tmp_path: Path, pubnub_server: PubNubEmulator
) -> None:
    config = make_config(
        tmp_path,
        BOT_IDENTITY={"publish_key": PUBLISH_KEY, "subscribe_key": SUBSCRIBE_KEY},
        PUBNUB_ORIGIN=pubnub_server.origin,
        PUBNUB_RECONNECT_MAX_DELAY=0.5,
    )
    with running_bot("PubNub", config) as running:
        bot = running.bot
        for resubscriptions in range(1, 5):
            pubnub_server.go_down(refuse_connections=False)  # the long-poll loses its connection
            wait_for(lambda: bot.connection.state == "reconnecting")
            pubnub_server.come_back()
            wait_for(
                lambda n=resubscriptions: (
                    bot.subscription.reconnections >= n and bot.connection.state == "connected"
                )
            )

        def subscribing_clients() -> set[PubNub]:
            """The SDK clients other than the bot's general one that still have threads."""
            return {
                client
                for client in map(sdk_client_of, threading.enumerate())
                if client is not None
                and client.config.origin == pubnub_server.origin
                and client is not bot.pubnub
            }

        wait_for(lambda: len(subscribing_clients()) == 1)  # the current subscription's only
        assert not [t for t in _sdk_threads(pubnub_server) if isinstance(t, threading.Timer)]
        current = subscribing_clients()
    try:
        wait_for(lambda: not _sdk_threads(pubnub_server), timeout=5)
    except AssertionError:
        left = [_described(t) for t in _sdk_threads(pubnub_server)]
        raise AssertionError(f"SDK threads left after the stop: {left}") from None
    assert not threads_of(current)


def test_a_stopped_client_never_reconnects_even_when_its_retry_is_under_way(
    pubnub_server: PubNubEmulator,
) -> None:
    """The SDK's own ``stop()`` leaves the reconnection timer running, and a ``time`` request
    in flight re-arms it; ``stop_client`` disarms both (the backend's clients never reconnect
    by themselves, but the customer client's do)."""
    client = new_client(
        pubnub_config(
            pubnub_server,
            "rita",
            reconnect_policy=PNReconnectionPolicy.LINEAR,
            maximum_reconnection_retries=-1,
        )
    )
    events = subscribed(client, channels=["rita"])
    pubnub_server.go_down(refuse_connections=False)
    events.wait_status(PNStatusCategory.PNUnexpectedDisconnectCategory)
    wait_for(
        lambda: any(
            isinstance(t, threading.Timer) and sdk_client_of(t) is client
            for t in threading.enumerate()
        )
    )
    reconnection = client._subscription_manager._reconnection_manager
    stop_client(client)
    pubnub_server.come_back()
    # What a ``time`` answer arriving now does: a failure schedules the next attempt, a success
    # subscribes again. Neither may happen to a stopped client.
    failed, succeeded = PNStatus(), PNStatus()
    failed.error, succeeded.error = True, False
    reconnection._call_time_callback(None, failed)
    reconnection._call_time_callback(None, succeeded)
    wait_for(lambda: not threads_of([client]))
    assert pubnub_server.subscribers() == []


def _sdk_threads(server: PubNubEmulator) -> list[threading.Thread]:
    return [
        t
        for t in threading.enumerate()
        if t.is_alive()
        and (client := sdk_client_of(t)) is not None
        and client.config.origin == server.origin
    ]


def _of_another_server(thread: threading.Thread, server: PubNubEmulator) -> bool:
    """A thread working for an SDK client of another server (another test's, still ending)."""
    client = sdk_client_of(thread)
    return client is not None and client.config.origin != server.origin


def _described(thread: threading.Thread) -> str:
    work = getattr(thread, "function", None) or getattr(thread, "_target", None)
    return f"{thread.name} ({getattr(work, '__qualname__', work)})"


class TestCompanionWithoutPubNub:
    """The ``PubNub`` plugin is loaded on every bot (Errbot finds it with the backend)."""

    def test_status_says_the_bot_is_not_on_pubnub(self, testbot: Any) -> None:
        testbot.push_message("!pubnub status")
        assert testbot.pop_message() == (
            "This bot is not connected to PubNub: its backend is test, not PubNub."
        )
        testbot.push_message("!pubnub undelivered")
        assert "not connected to PubNub" in testbot.pop_message()
