"""Agents and admins are who their network vouches for: on IRC the nick!user@host mask, on
Slack the member id. A nick taken over by someone else is not an agent (on real IRC servers:
miniircd and ngircd), and patterns that trust a bare nick are pointed out to the admins once,
at start."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from errbot_bridge.trust import weak_patterns
from tests.botrunner import running_bot, wait_for
from tests.bridge_fixtures import irc_network
from tests.irc_fixtures import SERVERS, IRCServer, plain
from tests.support_fixtures import *  # noqa: F403
from tests.support_fixtures import bridged_config, support_active

ACK = "Thanks for your message! Someone from our team will answer you here shortly."
NETWORKS = {"agents": "IRC", "customers": "PubNub", "slack": "SlackV3"}


@pytest.fixture(params=SERVERS)
def irc_server(request: pytest.FixtureRequest) -> Iterator[IRCServer]:
    """Each IRC server in turn (ngircd marks a user name no ident server vouched for: ~alice)."""
    server = IRCServer(kind=request.param).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("pattern", "weak"),
    [
        ("agents:alice", True),
        ("agents:alice!*@*", True),
        ("agents:alice!alice@*", True),
        ("agents:*", True),
        ("alice", True),  # no network: it applies to IRC too
        ("agents:alice!*@trusted.example", False),
        ("agents:*!*@staff.example.org", False),
        ("agents:alice!~alice@2001:db8::1", False),
        ("slack:U0123ABCD", False),
        ("slack:@alice", True),
        ("customers:dana-support/dana", False),  # PubNub user ids are not names people pick
    ],
)
def test_patterns_that_trust_a_name_anyone_can_take(pattern, weak):
    assert weak_patterns([pattern], NETWORKS) == ([pattern] if weak else [])


def test_a_nick_taken_over_from_another_user_at_host_is_not_an_agent(  # noqa: PLR0917
    tmp_path, pubnub_server, customers, irc_server, irc_client, caplog
):
    channel = "#support"
    boss = irc_client("boss")  # an admin named by a bare nick: the warning goes to them
    alice, bob = irc_client("alice"), irc_client("bob")
    alice.join(channel)
    bob.join(channel)
    userhost = alice.wait_for_join("alice", channel).source.partition("!")[2]
    bob_userhost = bob.wait_for_join("bob", channel).source.partition("!")[2]
    agents = irc_network(irc_server, nick="helpdesk", CHATROOM_PRESENCE=(channel,))
    config = bridged_config(
        tmp_path,
        pubnub_server,
        agents,
        SUPPORT_AGENT_ROOM=f"agents:{channel}",
        SUPPORT_AGENTS=[
            f"agents:alice!{userhost}",
            f"agents:bob!{bob_userhost}",
            "agents:carol",
            "agents:dave!*@*",
        ],
        BOT_ADMINS=("agents:boss",),
    )
    with running_bot("Bridge", config, ready=support_active):
        warning = boss.wait_for_text("boss", "trust a name anyone can take")
        shown = plain(warning.params[-1])  # as the admin reads it: a host of * is no emphasis
        assert "(SUPPORT_AGENTS: agents:carol, agents:dave!*@*; BOT_ADMINS: agents:boss)" in shown
        assert "e.g. alice!*@trusted.example" in shown

        dana = customers("dana")
        dana.write("Hello, where is my parcel?")
        alice.wait_for_text(channel, "Type !claim 1 to take it.")
        alice.say(channel, "!claim 1")
        alice.wait_for_text(channel, "is yours, alice")
        alice.close()

        mallory = irc_client("alice", user="mallory")  # alice's nick, from another user@host
        mallory.join(channel)
        mallory.say(
            channel, "!reply 1 Please confirm your card number here: https://evil.example/pay"
        )
        wait_for(lambda: "Refused support command 'reply'" in caplog.text)

        bob.say(channel, "!transcript 1")
        bob.wait_for_text(channel, "alice claimed the conversation")
        dana.write("Hello?")
        bob.wait_for_text(channel, "dana: Hello?")

    assert dana.texts() == [ACK]
    said_by_bot = [plain(m.params[-1]) for m in bob.messages(channel) if m.nick == "helpdesk"]
    assert not any("evil.example" in line for line in said_by_bot)
    warnings = [m for m in boss.messages("boss") if "anyone can take" in m.params[-1]]
    assert len(warnings) == 1
