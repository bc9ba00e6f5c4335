"""``!bridge status``: on a bot that is not bridged, and the words it uses for each network."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from errbot_bridge import NetworkStatus, find_backends
from errbot_bridge.companion import describe
from tests.botrunner import make_config, running_bot
from tests.bridge_fixtures import CORE_PLUGINS, TestConsole


def test_a_bot_that_is_not_bridged_says_so(tmp_path: Path) -> None:
    config = make_config(tmp_path, CORE_PLUGINS=CORE_PLUGINS)
    with running_bot("Test", config) as running:
        bot, console = running.bot, TestConsole(running.bot)
        console.say("!bridge status")
        answer = console.expect("not bridged")
        assert answer.startswith("This bot is not bridged: it runs the test backend alone")
        assert find_backends(bot, type(bot)) == [bot]
        assert find_backends(bot, "IRC") == []


def test_each_network_is_described_in_one_line() -> None:
    since = datetime(2026, 5, 4, 9, 30, tzinfo=timezone.utc)
    up = NetworkStatus("agents", "IRC", True, since, 0, 2, "ConnectionResetError: reset")
    down = NetworkStatus("customers", "PubNub", False, since, 3, 0, "PublishError: HTTP 403")
    assert describe(up) == (
        "- **agents** (IRC): connected since 2026-05-04 09:30:00 UTC, reconnected 2 times"
    )
    assert describe(down) == (
        "- **customers** (PubNub): NOT connected since 2026-05-04 09:30:00 UTC, "
        "3 reconnect attempt(s) so far, last error: PublishError: HTTP 403"
    )
