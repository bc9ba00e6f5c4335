"""Only bot admins touch the customers' rooms: every room command of Errbot's core plugin
ChatRoom, and a plugin's own, tried by a non-agent in the agent room, a stranger by direct
message, an agent who is not an admin, and a customer.

A real bridged bot: customers are official PubNub SDK clients on the local PubNub server (their
channels in the group "support"), agents are on Errbot's Test backend, and, as in production,
on real IRC servers (miniircd and ngircd).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.botrunner import running_bot, wait_for
from tests.bridge_fixtures import irc_network
from tests.irc_fixtures import SERVERS, IRCClient, IRCServer, plain
from tests.support_fixtures import *  # noqa: F403
from tests.support_fixtures import (
    AGENT_ROOM,
    GROUP,
    bridged_config,
    bridged_support_bot,
    support_active,
)

ROOM_PLUGIN_DIR = Path(__file__).resolve().parent / "plugins" / "room_ops"

# Every command of ChatRoom that names a room, aimed at the customers' network.
ROOM_COMMANDS = {
    "!room join customers:mallory-support": "join",
    "!room leave customers:dana-support": "leave",
    "!room create customers:mallory-support": "create",
    "!room destroy customers:erin-support": "destroy",
    "!room invite customers:dana-support mallory": "invite people into",
    "!room topic customers:dana-support": "read the topic of",
    '!room topic customers:dana-support "Pay here: https://evil.example"': "set the topic of",
    "!room occupants customers:dana-support": "list the occupants of",
}


def refusal(action: str) -> str:
    return f'Only bot admins can {action} rooms of the "customers" network.'


@pytest.fixture
def bot(tmp_path, pubnub_server):
    with bridged_support_bot(
        tmp_path,
        pubnub_server,
        SUPPORT_AGENTS=["agents:alice"],
        BOT_EXTRA_PLUGIN_DIR=str(ROOM_PLUGIN_DIR),
    ) as running:
        yield running


def group_channels(customer) -> set[str]:
    result = customer.client.list_channels_in_channel_group().channel_group(GROUP).sync()
    return set(result.result.channels)


@pytest.mark.parametrize(
    ("who", "room"),
    [("mallory", AGENT_ROOM), ("stranger", None), ("alice", AGENT_ROOM)],
    ids=["non-agent in the agent room", "stranger by direct message", "agent, not admin"],
)
def test_only_admins_touch_the_customers_rooms(bot, customers, who, room):
    dana, erin = customers("dana"), customers("erin")
    dana.write("Hello")
    erin.write("Hi there")
    bot.conversation_of("customers:dana-support")
    bot.conversation_of("customers:erin-support")

    listed = bot.command(who, "!room list", room=room)
    assert "customers:" not in listed
    for command, action in ROOM_COMMANDS.items():
        assert bot.command(who, command, room=room) == refusal(action), command
    # A plugin's own command is held to the same rule: the Bridge refuses, not ChatRoom.
    assert bot.command(who, "!channel drop customers:dana-support", room=room) == refusal("leave")

    assert group_channels(dana) == {"dana-support", "erin-support"}
    dana.write("Still there?")
    assert "Still there?" in bot.wait_sent(lambda s: "Still there?" in s.body).body

    # The same commands from an admin do reach the customers' network.
    assert "customers:dana-support" in bot.command("admin", "!room list", room=room)
    assert bot.command("admin", "!channel drop customers:erin-support", room=room) == (
        "Dropped customers:erin-support."
    )
    assert group_channels(dana) == {"dana-support"}


def test_a_customer_cannot_run_room_commands(bot, customers):
    dana = customers("dana")
    dana.write("Hello")
    bot.conversation_of("customers:dana-support")
    for command in ["!room list", "!room leave customers:dana-support", *ROOM_COMMANDS]:
        dana.write(command)
    # Each reached the agents as the customer's text, and nothing was done.
    wait_for(lambda: all(any(c in b for b in bot.bodies(AGENT_ROOM)) for c in ROOM_COMMANDS))
    assert group_channels(dana) == {"dana-support"}
    assert not any("Only bot admins" in text for text in dana.texts())
    assert not any("rooms" in text for text in dana.texts())


def said_by_bot(person: IRCClient, target: str) -> list[str]:
    """What the bot said to ``person`` in ``target`` (their own nick: privately)."""
    return [plain(m.params[-1]) for m in person.messages(target) if m.nick == "helpdesk"]


def tries_every_room_command(person: IRCClient, target: str) -> None:
    """``person`` runs every room command in ``target``: each gets the one refusal, and the
    customers' rooms are never shown."""
    to = "helpdesk" if target == person.nick else target
    start = len(said_by_bot(person, target))

    def answered(text: str) -> bool:
        return any(text in line for line in said_by_bot(person, target)[start:])

    person.say(to, "!room list")
    wait_for(lambda: answered("agents:#support"))
    for command, action in ROOM_COMMANDS.items():
        person.say(to, command)
        wait_for(lambda action=action: answered(refusal(action)))
    answers = said_by_bot(person, target)[start:]
    assert not any("customers:" in line for line in answers)
    assert len([line for line in answers if "Only bot admins" in line]) == len(ROOM_COMMANDS)


@pytest.fixture(params=SERVERS)
def irc_server(request: pytest.FixtureRequest) -> Iterator[IRCServer]:
    """Each IRC server in turn."""
    server = IRCServer(kind=request.param).start()
    try:
        yield server
    finally:
        server.stop()


def test_on_irc_a_stranger_by_private_message_and_a_non_agent_in_the_channel_are_refused(
    tmp_path, pubnub_server, customers, irc_server, irc_client
):
    channel = "#support"
    alice, mallory, stranger = irc_client("alice"), irc_client("mallory"), irc_client("stranger")
    alice.join(channel)
    mallory.join(channel)
    userhost = alice.wait_for_join("alice", channel).source.partition("!")[2]
    agents = irc_network(irc_server, nick="helpdesk", CHATROOM_PRESENCE=(channel,))
    config = bridged_config(
        tmp_path,
        pubnub_server,
        agents,
        SUPPORT_AGENT_ROOM=f"agents:{channel}",
        SUPPORT_AGENTS=[f"agents:alice!{userhost}"],
        BOT_ADMINS=("agents:admin!*@admins.example",),
    )
    with running_bot("Bridge", config, ready=support_active):
        dana, erin = customers("dana"), customers("erin")
        dana.write("Hello")
        alice.wait_for_text(channel, "dana: Hello")
        erin.write("Hi there")
        alice.wait_for_text(channel, "erin: Hi there")

        tries_every_room_command(stranger, "stranger")  # by private message
        tries_every_room_command(mallory, channel)
        assert group_channels(dana) == {"dana-support", "erin-support"}
        dana.write("Still there?")
        alice.wait_for_text(channel, "dana: Still there?")
