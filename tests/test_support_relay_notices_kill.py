"""``kill -9`` of the whole product while a relay notice waits for the agent room: after the
restart the notice is posted, once.

The bot is a real ``errbot`` process (the Bridge: customers on the PubNub backend against the
local PubNub server, agents on a real IRC server; the Support plugin on an SQLite file, see
``tests.test_delivery_e2e_kill``). The agent room has a key the bot does not have, so nothing
can be posted there; someone who is not the customer writes in a customer's chat, which the
relay is to report in the agent room. The bot is killed, the key removed, the bot started again:
Alice, an agent in the room, must read the report once, and again once after a graceful
restart.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from errbot_pubnub.emulator import PubNubEmulator
from tests.delivery_e2e_fixtures import ACK, AGENT_ROOM, BOT_NICK, plain
from tests.irc_fixtures import IRCClient, IRCServer
from tests.support_fixtures import Customer, customers  # noqa: F401
from tests.test_delivery_e2e_kill import ROOM_KEY, Alice, SupportProcess

WORDS = "not dana's words 7f3a"
REPORT = "who is not the customer"


@pytest.fixture
def bot(tmp_path: Path, pubnub_server: PubNubEmulator, irc_server: IRCServer) -> Iterator[Any]:
    process = SupportProcess(tmp_path, pubnub_server, irc_server)
    yield process
    process.cleanup()


def waiting_notices(database: Path) -> list[tuple[str, int]]:
    """The relay notices recorded, with whether each was posted, as another process reads."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        return connection.execute("SELECT body, posted FROM support_relay_notices").fetchall()


def test_a_notice_waiting_for_the_agent_room_survives_kill_9_and_is_posted_once(
    bot: SupportProcess,
    irc_client: Callable[[str], IRCClient],
    customers: Callable[[str], Customer],  # noqa: F811
) -> None:
    alice = Alice(irc_client("alice"))
    alice.client.join(AGENT_ROOM)
    alice.client.send(f"MODE {AGENT_ROOM} +k {ROOM_KEY}")
    alice.client.wait_for(lambda line: line.command == "MODE")
    dana, mallory = customers("dana"), customers("mallory")
    bot.start()
    bot.wait_for(bot.subscribed)
    dana.write("hello dana-first")
    bot.wait_for(lambda: ACK in dana.texts())
    payload = {"kind": "from_customer", "time": datetime.now(timezone.utc).isoformat()}
    mallory.client.publish().channel(dana.channel).message({**payload, "text": WORDS}).sync()
    bot.wait_for(lambda: bot.database.exists() and len(waiting_notices(bot.database)) == 1)
    [(body, posted)] = waiting_notices(bot.database)
    assert WORDS in body and not posted
    bot.kill()
    alice.client.send(f"MODE {AGENT_ROOM} -k")

    def reports() -> list[str]:
        return [
            plain(line.params[-1])
            for line in alice.client.messages(AGENT_ROOM)
            if line.nick == BOT_NICK and REPORT in plain(line.params[-1])
        ]

    bot.start()
    bot.wait_for(alice.bot_joined(1))
    bot.wait_for(lambda: reports() and "dana-first" in alice.tokens())
    bot.wait_for(lambda: waiting_notices(bot.database)[0][1])  # marked posted
    bot.terminate()
    bot.start()  # a graceful restart posts it no more
    bot.wait_for(alice.bot_joined(2))
    dana.write("again dana-second")
    bot.wait_for(lambda: "dana-second" in alice.tokens())
    bot.terminate()
    [report] = reports()
    assert "mallory" in report and WORDS in report and "#1" in report
    assert alice.tokens().count("dana-first") == 1
