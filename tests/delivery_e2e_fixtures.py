"""Helpers for the end-to-end delivery tests: the whole product under faults.

A bridged bot runs the PubNub backend (customers: official SDK clients on the local PubNub
server) and Errbot's IRC backend (agents: a real ``miniircd`` server) with the Support plugin on
an SQLite file. What reached the agent room is read where agents read it: the lines an IRC
client received in the channel, or the server's own channel log (which also covers the time no
client could be connected). Every customer message carries a unique token as its last word, so
each relayed line can be attributed to exactly one message.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pubnub.models.consumer.pubsub import PNMessageResult

from errbot_pubnub import DefaultMessageConverter, PubNubMessage, UndecodablePayload
from errbot_pubnub.emulator import PubNubEmulator
from tests.bridge_fixtures import irc_network
from tests.irc_fixtures import IRCClient, IRCServer, plain
from tests.support_fixtures import bridged_config, customers_network

AGENT_ROOM = "#support"
BOT_NICK = "helpdesk"
ADMIN_NICK = "boss"
ACK = "Thanks for your message! Someone from our team will answer you here shortly."
# Group subscriptions only (customers subscribe to their own channel): cuts the bot's long-poll.
GROUP_SUBSCRIBE = "/v2/subscribe/sub-c-test/,/"


def last_word(line: str) -> str:
    words = line.split()
    return words[-1] if words else ""


def seen_by(client: IRCClient, nick: str = BOT_NICK) -> list[str]:
    """What ``client`` read from the bot in the agent room, oldest first."""
    return [plain(line.params[-1]) for line in client.messages(AGENT_ROOM) if line.nick == nick]


def logged(server: IRCServer, nick: str = BOT_NICK) -> list[str]:
    """Everything the bot said in the agent room, from the IRC server's own log."""
    return [plain(text) for who, text in server.said_in(AGENT_ROOM) if who == nick]


def tokens(lines: Iterable[str], prefix: str) -> list[str]:
    """The tokens starting with ``prefix`` that end the lines, in order, repeats included."""
    return [word for word in map(last_word, lines) if word.startswith(prefix)]


def agents_network(irc_server: IRCServer) -> dict[str, Any]:
    return irc_network(
        irc_server,
        nick=BOT_NICK,
        CHATROOM_PRESENCE=(AGENT_ROOM,),
        BRIDGE_RECONNECT_DELAY=0.1,
        BRIDGE_RECONNECT_MAX_DELAY=0.5,
    )


def customers_on(server: PubNubEmulator, **settings: Any) -> dict[str, Any]:
    """The customers' PubNub network: quick resubscription, three publish attempts."""
    return {
        **customers_network(server),
        "PUBNUB_RECONNECT_MAX_DELAY": 0.5,
        "PUBNUB_PUBLISH_ATTEMPTS": 3,
        **settings,
    }


def e2e_config(
    data_dir: Path,
    server: PubNubEmulator,
    irc_server: IRCServer,
    *,
    customers: dict[str, Any] | None = None,
    **overrides: Any,
) -> Any:
    """A bridged Support bot: customers on ``server``, agents in #support on ``irc_server``."""
    agents = agents_network(irc_server)
    return bridged_config(
        data_dir,
        server,
        agents,
        BRIDGE_BACKENDS={"agents": agents, "customers": customers or customers_on(server)},
        SUPPORT_AGENT_ROOM=f"agents:{AGENT_ROOM}",
        SUPPORT_DB_URL=f"sqlite:///{data_dir / 'support.sqlite'}",
        BOT_ADMINS=(f"agents:{ADMIN_NICK}!*@*",),
        **overrides,
    )


class StrictConverter(DefaultMessageConverter):
    """An app's first converter: it knows only payloads with a ``kind`` (the fix is the
    default converter, which also reads a bare ``{"text": ...}``)."""

    def convert_from_pubnub(self, message: PNMessageResult) -> PubNubMessage | None:
        payload = message.message
        if not isinstance(payload, dict) or "kind" not in payload:
            raise UndecodablePayload("no 'kind' in the payload")
        return super().convert_from_pubnub(message)
