"""Only bot admins touch the customers' rooms: every room command of Errbot's core plugin
ChatRoom, and a plugin's own, tried by a non-agent in the agent room, a stranger by direct
message, an agent who is not an admin, and a customer.

A real bridged bot: customers are official PubNub SDK clients on the local PubNub server (their
channels in the group "support"), agents are on Errbot's Test backend.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.botrunner import wait_for
from tests.support_fixtures import *  # noqa: F403
from tests.support_fixtures import AGENT_ROOM, GROUP, bridged_support_bot

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
