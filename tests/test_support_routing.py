"""Several agent rooms, one per team (``SUPPORT_ROUTES``): each customer's conversation goes to
the room its chat is routed to, stays there across restarts, moves with ``!move``, and a room
that is down holds up its own conversations only.

Real bots on Errbot's Test backend and a real SQLite file.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest
from errbot.backends.base import Room
from errbot.bootstrap import setup_bot

from errbot_support.errors import ConversationResolved
from errbot_support.records import Conversation, State
from errbot_support.routing import AgentRooms
from errbot_support.settings import TEXT_SETTINGS, CustomerTexts, RouteSettings
from tests.botrunner import running_bot, wait_for
from tests.bridge_fixtures import irc_network
from tests.support_fixtures import *  # noqa: F403 (the desk fixture and what it needs)
from tests.support_fixtures import (
    AGENT_ROOM,
    ALICE,
    START,
    SupportBot,
    bridged_config,
    bridged_support_bot,
    customer_message,
    refused_activation,
    support_active,
    support_bot,
)

VIP = "vip"
ROUTES = {"vip-*": VIP}
TEXTS = CustomerTexts(**{field: default for field, (_, default) in TEXT_SETTINGS.items()})


class NamedRoom(Room):
    """A room as the agents' network names it; all that routing looks at."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __str__(self) -> str:
        return self.name


def conversation_in(agent_room: str | None) -> Conversation:
    return Conversation(
        number=1,
        customer_room="dana-chat",
        customer_id="dana",
        customer_name="Dana",
        state=State.WAITING,
        agent=None,
        agent_name=None,
        opened_at=START,
        first_reply_at=None,
        resolved_at=None,
        agent_room=agent_room,
    )


def test_the_first_matching_route_serves_a_chat_and_the_main_room_the_rest():
    main, vip, french = (
        NamedRoom("agents:#support"),
        NamedRoom("agents:#vip"),
        NamedRoom("agents:#fr"),
    )
    rooms = AgentRooms(
        main,
        TEXTS,
        [
            (RouteSettings("vip-*", "agents:#vip", None), vip),
            (RouteSettings("*-fr", "agents:#fr", None), french),
            # Naming the main room is the main room.
            (RouteSettings("*-de", "agents:#support", None), main),
        ],
    )
    assert rooms.route("customers:vip-dana-fr").room is vip  # first match wins
    assert rooms.route("customers:erin-FR").room is french  # any case, without the network
    assert rooms.route("customers:frank-de") == rooms.main
    assert rooms.route("customers:gina") == rooms.main
    assert rooms.route("customers:gina").name is None  # stored as "the main room"
    assert [str(room) for room in rooms.all] == ["agents:#support", "agents:#vip", "agents:#fr"]
    assert rooms.find("#VIP").room is vip
    assert rooms.find("vip").room is vip
    assert rooms.find("agents:#fr").room is french
    assert rooms.find("support") == rooms.main
    assert rooms.find("#sales") is None
    assert rooms.of(conversation_in("agents:#vip")).room is vip
    assert rooms.of(conversation_in(None)) == rooms.main
    # A room taken out of the settings: its conversations fall back to the main room.
    assert rooms.of(conversation_in("agents:#gone")) == rooms.main
    # One the settings now spell otherwise is still found.
    assert rooms.of(conversation_in("#VIP")).room is vip
    assert rooms.holding(NamedRoom("agents:#vip")).room is vip
    assert rooms.holding(NamedRoom("customers:gina")) is None


def test_moving_puts_a_conversation_back_in_the_queue_of_its_new_room(desk):
    message = replace(customer_message("vip-dana"), agent_room="agents:#vip")
    opened = desk.receive(message).conversation
    assert opened.agent_room == "agents:#vip"
    desk.claim(opened.number, ALICE)
    moved = desk.move(opened.number, ALICE, None, "agents:#support")
    assert (moved.agent_room, moved.state, moved.agent) == (None, State.WAITING, None)
    assert desk.transcript(opened.number, 0, 10).entries[-1].body == (
        "Alice moved it to agents:#support"
    )
    desk.resolve(opened.number, ALICE)
    with pytest.raises(ConversationResolved):
        desk.move(opened.number, ALICE, "agents:#vip", "agents:#vip")


@pytest.fixture
def teams_bot(tmp_path):
    with support_bot(tmp_path, SUPPORT_ROUTES=ROUTES, SUPPORT_ACKNOWLEDGEMENT=None) as bot:
        yield bot


def test_each_conversation_goes_to_its_teams_room_and_each_room_lists_its_own(teams_bot):
    bot = teams_bot
    bot.customer("vip-dana", "hello from a VIP", name="dana")
    bot.customer("erin-chat", "hello from erin")
    [announced] = bot.bodies(VIP)
    assert announced.startswith("#1 New conversation with dana (vip-dana)")
    assert bot.bodies(AGENT_ROOM)[0].startswith("#2 New conversation with erin")
    bot.customer("vip-dana", "still me", name="dana")
    assert bot.bodies(VIP)[-1] == "#1 dana: still me"
    assert len(bot.to(AGENT_ROOM)) == 1

    in_vip = bot.command("alice", "!queue", room=VIP).splitlines()
    assert in_vip[0] == "1 open conversation(s) in vip, 1 waiting:"
    assert in_vip[1].startswith("#1 waiting, ")
    assert in_vip[-1] == "!queue all lists every agent room's."
    in_main = bot.command("bob", "!queue").splitlines()
    assert in_main[0] == "1 open conversation(s) in support, 1 waiting:"
    assert in_main[1].startswith("#2 waiting, ")
    everywhere = bot.command("bob", "!queue all").splitlines()
    assert everywhere[0] == "2 open conversation(s), 2 waiting:"
    assert everywhere[1].startswith("#1 waiting in vip, ")
    assert everywhere[2].startswith("#2 waiting in support, ")

    # Anyone in one of the agent rooms is an agent, wherever the conversation is.
    assert bot.command("alice", "!claim 1", room=VIP).startswith("#1 is yours, alice.")
    assert bot.command("alice", "!reply 2 Hi Erin", room=VIP) == "#2 is now yours, alice."
    stats = bot.command("bob", "!stats all").splitlines()
    assert stats[0] == "Now: 0 waiting, 2 assigned, 0 resolved in all."
    assert stats[-1] == (
        "Open by agent room: support 0 waiting, 1 assigned; vip 0 waiting, 1 assigned."
    )
    bot.command("alice", "!resolve 1", room=VIP)
    in_vip = bot.command("alice", "!stats 30", room=VIP).splitlines()
    assert in_vip[0] == "Now in vip: 0 waiting, 0 assigned, 1 resolved in all."
    assert in_vip[1] == "Last 30 day(s): 1 opened, 1 of them resolved."
    assert in_vip[-1] == "!stats all covers every agent room."
    assert any(line.startswith("alice: 0 open, 1 resolved") for line in in_vip)
    in_main = bot.command("bob", "!stats").splitlines()
    assert in_main[0] == "Now in support: 0 waiting, 1 assigned, 0 resolved in all."
    assert any(line.startswith("alice: 1 open, 0 resolved") for line in in_main)


def test_move_hands_a_conversation_to_another_team_with_its_story(teams_bot):
    bot = teams_bot
    bot.customer("erin-chat", "I want to upgrade to the VIP plan")
    bot.command("bob", "!claim 1")
    answer = bot.command("bob", "!move 1 #vip")
    assert answer == "#1 now waits in vip for one of its agents."
    shown = bot.bodies(VIP)[-1].splitlines()
    assert shown[0] == (
        "#1 moved here from support by bob: erin (erin-chat), waiting. "
        "Type !claim 1 to take it. So far:"
    )
    assert any("erin: I want to upgrade to the VIP plan" in line for line in shown)
    assert shown[-1].endswith("- bob moved it to vip")
    bot.customer("erin-chat", "thanks!")
    assert bot.bodies(VIP)[-1] == "#1 erin: thanks!"
    assert len(bot.to(AGENT_ROOM)) == 1  # only the announcement, before the move

    assert bot.command("alice", "!move 1 vip", room=VIP) == "#1 is already served in vip."
    refused = bot.command("alice", "!move 1 #sales", room=VIP)
    assert refused == (
        "'#sales' is not an agent room; the rooms: support, vip. Usage: !move <number> <room>"
    )
    assert bot.command("alice", "!move 1 *sales*", room=VIP).startswith(
        "'*sales*' is not an agent room;"  # as typed, not emphasis
    )
    assert bot.command("alice", "!move 1", room=VIP) == (
        "To which agent room? Usage: !move <number> <room>"
    )
    assert bot.command("alice", "!claim 1", room=VIP).startswith("#1 is yours, alice.")


def test_a_room_that_is_down_holds_up_its_own_conversations_only(teams_bot):
    bot = teams_bot
    bot.customer("vip-dana", "first", name="dana")
    bot.customer("erin-chat", "first")
    bot.refuse(VIP, "the VIP room is gone")
    bot.customer("vip-dana", "waiting 1", name="dana")
    bot.customer("erin-chat", "goes through")
    bot.customer("vip-dana", "waiting 2", name="dana")
    assert bot.bodies(AGENT_ROOM)[-1] == "#2 erin: goes through"
    warning = bot.wait_sent(lambda s: s.to == "admin")
    assert "agent room vip is unreachable (the VIP room is gone)" in warning.body
    bot.customer("erin-chat", "and again")  # the passes go past the waiting VIP messages
    assert bot.bodies(AGENT_ROOM)[-1] == "#2 erin: and again"
    status = bot.command("bob", "!support status").splitlines()
    assert status[0] == "Agent room(s): support (ok), vip (UNREACHABLE)"
    assert status[2] == "Customer messages waiting for their agent room: 2"

    bot.accept(VIP)  # the relay poller retries on its own
    wait_for(lambda: len(bot.to(VIP)) == 3)
    assert bot.bodies(VIP)[1:] == ["#1 dana: waiting 1", "#1 dana: waiting 2"]
    wait_for(lambda: bot.desk.unrelayed() == [])
    assert len(bot.to(AGENT_ROOM)) == 3
    status = bot.command("bob", "!support status").splitlines()
    assert status[0] == "Agent room(s): support (ok), vip (ok)"
    assert status[2] == "Customer messages waiting for their agent room: 0"


def test_a_conversation_keeps_its_room_across_restarts_and_falls_back_when_it_is_gone(tmp_path):
    with support_bot(tmp_path, SUPPORT_ROUTES=ROUTES, SUPPORT_ACKNOWLEDGEMENT=None) as bot:
        bot.customer("erin-chat", "hello")
        bot.command("bob", "!move 1 vip")
    with support_bot(tmp_path, SUPPORT_ROUTES=ROUTES, SUPPORT_ACKNOWLEDGEMENT=None) as bot:
        bot.customer("erin-chat", "after a restart")
        assert bot.bodies(VIP) == ["#1 erin: after a restart"]
    with support_bot(tmp_path, SUPPORT_ACKNOWLEDGEMENT=None) as bot:  # no more routes
        bot.customer("erin-chat", "and now?")
        assert bot.bodies(AGENT_ROOM) == ["#1 erin: and now?"]
        assert bot.to(VIP) == []


@pytest.mark.parametrize(
    ("routes", "sentence"),
    [
        (["vip-*"], "SUPPORT_ROUTES must be a dict of customer chat pattern -> agent room"),
        ({"vip": ""}, "SUPPORT_ROUTES['vip'] must name an agent room"),
        ({" ": VIP}, "SUPPORT_ROUTES: ' ' is not a pattern of customer chats"),
    ],
)
def test_bad_routes_stop_the_plugin_with_one_sentence_to_the_admins(tmp_path, routes, sentence):
    line = refused_activation(tmp_path, sentence, SUPPORT_ROUTES=routes)
    assert line.startswith("Error: Support failed to activate: ")


def test_bridged_customers_reach_their_teams_room_and_its_agents_answer_them(
    tmp_path, pubnub_server, customers
):
    routes = {"vip-*": "agents:vip"}
    with bridged_support_bot(tmp_path, pubnub_server, SUPPORT_ROUTES=routes) as bot:
        vip, erin = customers("vip"), customers("erin")  # channels vip-support, erin-support
        vip.write("I am a VIP")
        announced = bot.wait_sent(lambda s: s.to == VIP)
        assert announced.body.startswith(f"#1 New conversation with vip ({vip.room})")
        erin.write("I am not")
        bot.wait_sent(lambda s: s.to == AGENT_ROOM and "I am not" in s.body)
        assert [s.body for s in bot.to(VIP) if "I am not" in s.body] == []

        bot.command("alice", "!reply 1 Welcome back!", room=VIP)
        vip.wait_for("Welcome back!")
        assert bot.command("alice", "!move 2 vip", room=VIP).startswith("#2 now waits in")
        erin.write("anyone?")
        bot.wait_sent(lambda s: s.to == VIP and s.body == "#2 erin: anyone?")


def test_a_route_to_a_room_of_the_customers_network_is_refused(tmp_path, pubnub_server):
    config = bridged_config(
        tmp_path, pubnub_server, {"BACKEND": "Test"}, SUPPORT_ROUTES={"vip": "customers:vip"}
    )
    bridge = setup_bot("Bridge", logging.getLogger("errbot"), config)
    harness = SupportBot(bridge, agents=bridge.hosted_backends()["agents"])
    sentence = "SUPPORT_ROUTES['vip'] 'customers:vip' is on the customer network 'customers'"
    harness.running.start(
        ready=lambda: any(s.to == "admin" and sentence in s.body for s in harness.sent)
    )
    try:
        assert not harness.plugin.is_activated
    finally:
        harness.running.stop()


def test_teams_on_a_real_irc_server_each_in_its_channel(
    tmp_path, pubnub_server, customers, irc_server, irc_client
):
    support, vip = "#support", "#vip"
    bob, carol = irc_client("bob"), irc_client("carol")
    bob.join(support)
    carol.join(vip)
    # The bot is told to sit in #support only: it joins #vip when it first has to post there.
    agents = irc_network(irc_server, nick="helpdesk", CHATROOM_PRESENCE=(support,))
    config = bridged_config(
        tmp_path,
        pubnub_server,
        agents,
        SUPPORT_AGENT_ROOM=f"agents:{support}",
        SUPPORT_ROUTES={"vip-*": f"agents:{vip}"},
        SUPPORT_ACKNOWLEDGEMENT=None,
    )
    with running_bot("Bridge", config, ready=support_active):
        bob.wait_for_join("helpdesk", support)
        very_important, dana = customers("vip"), customers("dana")
        very_important.write("I am a VIP")
        carol.wait_for_join("helpdesk", vip)
        carol.wait_for_text(vip, "I am a VIP")
        carol.say(vip, "!reply 1 Welcome back!")
        very_important.wait_for("Welcome back!")

        dana.write("I would like the VIP plan")
        bob.wait_for_text(support, "I would like the VIP plan")
        bob.say(support, "!move 2 #vip")
        bob.wait_for_text(support, "now waits in agents:#vip")
        carol.wait_for_text(vip, "moved here from agents:#support by bob")
        dana.write("Thanks!")
        carol.wait_for_text(vip, "#2 dana: Thanks!")
    assert not any("I am a VIP" in line for line in bob.plain_lines(support))
    assert not any("Thanks!" in line for line in bob.plain_lines(support))


MERCI = "Merci ! Quelqu'un de notre équipe vous répond ici très vite."
RESOLU = "Nous avons marqué cette conversation comme résolue."
FRENCH = {
    "room": "support-fr",
    "SUPPORT_ACKNOWLEDGEMENT": MERCI,
    "SUPPORT_RESOLVED_NOTICE": RESOLU,
    "SUPPORT_CLAIMED_NOTICE": "{agent} s'occupe de votre demande.",
}


def test_a_team_sends_its_customers_texts_of_its_own(tmp_path):
    routes = {"*-fr": FRENCH, "*-be": "support-fr"}  # the second shares the room's texts
    with support_bot(tmp_path, SUPPORT_ROUTES=routes) as bot:
        bot.customer("marie-fr", "Bonjour", name="marie")
        bot.customer("luc-be", "Bonjour", name="luc")
        bot.customer("dana-chat", "Hello")
        wait_for(lambda: bot.bodies("marie-fr") == [MERCI] and bot.bodies("luc-be") == [MERCI])
        wait_for(lambda: len(bot.bodies("dana-chat")) == 1)
        assert bot.bodies("dana-chat")[0].startswith("Thanks for your message!")

        bot.command("alice", "!claim 1", room="support-fr")
        bot.command("alice", "!resolve 1", room="support-fr")
        assert bot.bodies("marie-fr")[1:] == ["alice s'occupe de votre demande.", RESOLU]
        bot.command("bob", "!claim 3")
        bot.command("bob", "!resolve 3")
        assert bot.bodies("dana-chat")[1].startswith("We have marked this conversation as resolved")


@pytest.mark.parametrize(
    ("routes", "sentence"),
    [
        (
            {"*-fr": {"room": "support-fr", "ACKNOWLEDGEMENT": "Merci"}},
            "SUPPORT_ROUTES['*-fr'] has 'ACKNOWLEDGEMENT'; it may hold 'room' and "
            "SUPPORT_ACKNOWLEDGEMENT,",
        ),
        (
            {"*-fr": {"room": "support-fr", "SUPPORT_CLAIMED_NOTICE": "{agent} et {client}"}},
            "SUPPORT_ROUTES['*-fr']: SUPPORT_CLAIMED_NOTICE may only use the placeholder {agent}",
        ),
        (
            {"*-fr": FRENCH, "*-be": {"room": "support-fr", "SUPPORT_ACKNOWLEDGEMENT": "Hoi"}},
            "SUPPORT_ROUTES['*-be'] gives support-fr other texts than an earlier route",
        ),
        (
            {"*-fr": {**FRENCH, "room": AGENT_ROOM}},
            "SUPPORT_ROUTES['*-fr'] gives support, the SUPPORT_AGENT_ROOM, texts of its own",
        ),
    ],
)
def test_bad_texts_of_a_team_stop_the_plugin_with_one_sentence(tmp_path, routes, sentence):
    refused_activation(tmp_path, sentence, SUPPORT_ROUTES=routes)
