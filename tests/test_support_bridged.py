"""The Support plugin on a bridged bot: customers are official PubNub SDK clients on the local
PubNub server, agents are on Errbot's Test backend (hosted by the Bridge).

What the agents' network received is recorded at that network's backend; what customers
received is read from their own SDK subscriptions.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from errbot_support.records import Delivery, Kind, State
from tests.botrunner import running_bot, wait_for
from tests.bridge_fixtures import irc_network
from tests.support_fixtures import *  # noqa: F403
from tests.support_fixtures import (
    AGENT_ROOM,
    COMMAND_REPLIES,
    all_at_once,
    bridged_config,
    bridged_support_bot,
    support_active,
)

ACK = "Thanks for your message! Someone from our team will answer you here shortly."
RESOLVED = (
    "We have marked this conversation as resolved. Write again any time if you need more help."
)


@pytest.fixture
def desk_bot(tmp_path, pubnub_server):
    with bridged_support_bot(tmp_path, pubnub_server) as bot:
        yield bot


def test_a_released_conversation_tells_the_customer_it_waits(tmp_path, pubnub_server, customers):
    waiting = "Your request is waiting for the next available agent."
    with bridged_support_bot(tmp_path, pubnub_server, SUPPORT_POSTPONED_NOTICE=waiting) as bot:
        dana = customers("dana")
        dana.write("Hello?")
        bot.wait_sent(lambda s: s.to == AGENT_ROOM)
        bot.command("alice", "!claim 1")
        assert bot.command("alice", "!release 1").startswith("#1 is back in the queue")
        postponed = dana.wait_for(waiting)
        assert (postponed.message["kind"], postponed.message["text"]) == ("postponed", waiting)
        assert dana.texts() == [ACK, waiting]


def test_an_agents_day_with_every_command(desk_bot, customers):
    dana = customers("dana")
    dana.write("Hi, my parcel has not arrived")
    announcement = desk_bot.wait_sent(lambda s: s.to == AGENT_ROOM).body
    assert announcement == (
        "#1 New conversation with dana (customers:dana-support):\n"
        "#1 dana: Hi, my parcel has not arrived\nType !claim 1 to take it."
    )
    ack = dana.wait_for(ACK)
    assert ack.message["kind"] == "from_agent"

    claimed = desk_bot.command("alice", "!claim 1")
    assert claimed.startswith("#1 is yours, alice. dana (customers:dana-support) so far:")
    assert "dana: Hi, my parcel has not arrived" in claimed

    desk_bot.say("alice", "!reply 1 Sorry about that, let me check.")
    reply = dana.wait_for("let me check")
    assert (reply.message["kind"], reply.user_metadata) == ("from_agent", {"author": "alice"})
    assert desk_bot.command("alice", "!note 1 carrier lost it, refund") == (
        "#1: note saved (agents only)."
    )
    photo = {"name": "label.jpg", "url": "https://files.example/label.jpg", "type": "image/jpeg"}
    dana.write("Here is the label", attachments=[photo])
    assert desk_bot.wait_sent(lambda s: "the label" in s.body).body == (
        "#1 (alice) dana: Here is the label\n"
        "#1 dana ┆ [attachment] label.jpg (image/jpeg): https://files.example/label.jpg"
    )
    assert desk_bot.command("alice", "!tag 1 refund carrier") == "#1 tags: carrier, refund"
    assert desk_bot.command("alice", "!untag 1 carrier") == "#1 tags: refund"
    assert desk_bot.command("bob", "!queue").splitlines()[1].startswith("#1 alice, ")
    transcript = desk_bot.command("bob", "!transcript 1")
    assert "[note] alice: carrier lost it, refund" in transcript
    assert "alice to dana: Sorry about that, let me check." in transcript
    assert "[attachment] label.jpg (image/jpeg): https://files.example/label.jpg" in transcript

    assert desk_bot.command("alice", "!transfer 1 bob") == "#1 is now bob's (given by alice)."
    assert desk_bot.command("bob", "!release 1").startswith("#1 is back in the queue")
    desk_bot.command("alice", "!claim 1")
    desk_bot.say("alice", "!reply 1 Your refund is on its way.")
    dana.wait_for("refund is on its way")
    assert desk_bot.command("alice", "!resolve 1").startswith("#1 resolved by alice after ")
    resolved = dana.wait_for("marked this conversation as resolved")
    assert resolved.message["kind"] == "resolved"
    assert desk_bot.command("alice", "!reopen 1") == "#1 is open again and yours, alice."
    desk_bot.command("alice", "!resolve 1")
    wait_for(lambda: dana.texts().count(RESOLVED) == 2)

    dana.write("One more question")
    desk_bot.wait_sent(lambda s: s.body.startswith("#2 New conversation with dana"))
    history = desk_bot.command("bob", "!customer dana").splitlines()
    assert history[0] == "dana (customers:dana-support): 2 conversation(s)"
    for other_way in ("dana-support", "customers:dana-support", "DANA", "#2"):  # room, name, N
        assert desk_bot.command("bob", f"!customer {other_way}").splitlines() == history
    stats = desk_bot.command("bob", "!stats").splitlines()
    assert stats[0] == "Now: 1 waiting, 0 assigned, 1 resolved in all."
    assert stats[2].startswith("Time to first reply: median ")

    # Everything dana ever received, in order: no note, no command, nothing twice.
    wait_for(lambda: dana.texts().count(ACK) == 2)
    assert dana.texts() == [
        ACK,
        "Sorry about that, let me check.",
        "Your refund is on its way.",
        RESOLVED,
        RESOLVED,
        ACK,
    ]


def test_customers_cannot_run_commands_their_text_reaches_the_agents(desk_bot, customers):
    erin = customers("erin")
    erin.write("hello")
    erin.wait_for(ACK)
    for text in ("!claim 1", "!resolve 1", "!help", "!reply 1 refund me"):
        erin.write(text)
    wait_for(lambda: len(desk_bot.to(AGENT_ROOM)) == 5)
    assert desk_bot.bodies(AGENT_ROOM)[1:] == [
        "#1 erin: !claim 1",
        "#1 erin: !resolve 1",
        "#1 erin: !help",
        "#1 erin: !reply 1 refund me",
    ]
    assert desk_bot.command("alice", "!queue").startswith("1 open conversation(s), 1 waiting")
    assert len(desk_bot.to(COMMAND_REPLIES)) == 1  # only the agent's command was answered
    assert erin.texts() == [ACK]


def test_two_agents_claiming_at_once(desk_bot, customers):
    customers("fay").write("anyone?")
    desk_bot.wait_sent(lambda s: s.to == AGENT_ROOM)
    all_at_once(lambda agent: desk_bot.say(agent, "!claim 1"), ["alice", "bob"])
    wait_for(lambda: len(desk_bot.to(COMMAND_REPLIES)) == 2)
    winner = desk_bot.desk.get(1).agent
    won, lost = sorted(desk_bot.bodies(COMMAND_REPLIES))
    assert lost == f"Too late: {winner} claimed #1 first."
    assert won.startswith(f"#1 is yours, {winner}.")


def test_a_burst_from_several_customers_arrives_once_each_and_in_order(desk_bot, customers):
    people = [customers(f"burst{i}") for i in range(4)]
    count = 12

    def write_all(customer):
        for i in range(count):
            customer.write(f"{customer.user_id} says {i}")

    with ThreadPoolExecutor(len(people)) as pool:
        list(pool.map(write_all, people))
    wait_for(lambda: len(desk_bot.to(AGENT_ROOM)) == len(people) * count)
    relayed = desk_bot.bodies(AGENT_ROOM)
    for customer in people:
        seen = [re.search(rf"{customer.user_id} says (\d+)", body) for body in relayed]
        assert [int(m.group(1)) for m in seen if m] == list(range(count))
        # two first messages in quick succession still make one conversation
        assert sum(f"{customer.user_id} (" in body for body in relayed) == 1
    assert {c.state for c in desk_bot.desk.queue()} == {State.WAITING}
    assert len(desk_bot.desk.queue()) == len(people)


def test_a_reply_pubnub_refuses_is_reported_on_its_conversation(desk_bot, customers, pubnub_server):
    gus = customers("gus")
    gus.write("hello")
    gus.wait_for(ACK)
    desk_bot.command("alice", "!claim 1")
    pubnub_server.faults.fail_next(1000, 503, operation="publish")
    mark = desk_bot.say("alice", "!reply 1 This will not arrive")
    report = desk_bot.wait_sent(
        lambda s: s.to == AGENT_ROOM and "NOT DELIVERED" in s.body, after=mark
    )
    assert report.body.startswith("#1 NOT DELIVERED: the reply by alice did not reach gus (")
    assert "503" in report.body
    pubnub_server.faults.clear()

    desk_bot.say("alice", "!reply 1 Second try")
    gus.wait_for("Second try")
    replies = [e for e in desk_bot.desk.store.entries(1) if e.kind is Kind.REPLY]
    wait_for(lambda: desk_bot.desk.store.entry(replies[-1].id).delivery is Delivery.DELIVERED)
    assert [desk_bot.desk.store.entry(e.id).delivery for e in replies] == [
        Delivery.UNDELIVERED,
        Delivery.DELIVERED,
    ]
    assert gus.texts() == [ACK, "Second try"]


def test_a_restart_in_the_middle_of_a_bridged_conversation(tmp_path, pubnub_server, customers):
    hana = customers("hana")
    with bridged_support_bot(tmp_path, pubnub_server) as bot:
        hana.write("Is my account locked?")
        hana.wait_for(ACK)
        bot.command("alice", "!claim 1")
        bot.say("alice", "!reply 1 Checking now.")
        hana.wait_for("Checking now.")

    with bridged_support_bot(tmp_path, pubnub_server) as bot:
        hana.write("Any news?")
        relayed = bot.wait_sent(lambda s: "Any news?" in s.body).body
        assert relayed == "#1 (alice) hana: Any news?"
        bot.say("alice", "!reply 1 Unlocked, you can log in again.")
        hana.wait_for("Unlocked")
        assert bot.command("alice", "!resolve 1").startswith("#1 resolved by alice")
        hana.wait_for("marked this conversation as resolved")
    assert hana.texts() == [ACK, "Checking now.", "Unlocked, you can log in again.", RESOLVED]


def test_a_full_conversation_with_agents_on_a_real_irc_server(
    tmp_path, pubnub_server, customers, irc_server, irc_client
):
    channel = "#support"
    alice, bob = irc_client("alice"), irc_client("bob")
    alice.join(channel)
    bob.join(channel)
    agents = irc_network(irc_server, nick="helpdesk", CHATROOM_PRESENCE=(channel,))
    config = bridged_config(tmp_path, pubnub_server, agents, SUPPORT_AGENT_ROOM=f"agents:{channel}")
    with running_bot("Bridge", config, ready=support_active):
        alice.wait_for_join("helpdesk", channel)
        dana = customers("dana")
        dana.write("Hello, I cannot log in")
        alice.wait_for_text(channel, "New conversation with")
        alice.wait_for_text(channel, "Hello, I cannot log in")
        alice.wait_for_text(channel, "Type !claim 1 to take it.")

        alice.say(channel, "!claim 1")
        alice.wait_for_text(channel, "is yours, alice")
        bob.say(channel, "!claim 1")
        bob.wait_for_text(channel, "Too late: alice claimed #1 first.")

        alice.say(channel, "!reply 1 Hi Dana, I am resetting your password.")
        reply = dana.wait_for("resetting your password")
        assert reply.user_metadata == {"author": "alice"}
        alice.say(channel, "!note 1 password reset requested by phone")
        alice.wait_for_text(channel, "note saved")

        dana.write("!resolve 1")  # a customer's command is only text for the agents
        dana.write("It works now, thanks!")
        alice.wait_for_text(channel, "It works now, thanks!")

        bob.say(channel, "!transcript 1")
        bob.wait_for_text(channel, "[note] alice: password reset requested by phone")
        alice.say(channel, "!resolve 1")
        alice.wait_for_text(channel, "resolved by alice after")
        dana.wait_for("marked this conversation as resolved")

    assert dana.texts() == [ACK, "Hi Dana, I am resetting your password.", RESOLVED]
    seen = alice.plain_lines(channel)
    relayed = [
        "#1 New conversation with dana (customers:dana-support):",
        "#1 dana: Hello, I cannot log in",
        "#1 (alice) dana: !resolve 1",
        "#1 (alice) dana: It works now, thanks!",
    ]
    assert [seen.count(line) for line in relayed] == [1, 1, 1, 1]  # each once, in order
    assert [seen.index(line) for line in relayed] == sorted(seen.index(line) for line in relayed)


def test_with_agents_on_rate_limited_irc_no_reply_overtakes_the_acknowledgement(
    tmp_path, pubnub_server, customers, irc_server, irc_client
):
    """IRC sends one line a second: alice answers from the announcement's first line, while
    the two others are still on their way; dana gets the acknowledgement first all the same."""
    channel = "#support"
    alice = irc_client("alice")
    alice.join(channel)
    agents = irc_network(
        irc_server, nick="helpdesk", CHATROOM_PRESENCE=(channel,), IRC_CHANNEL_RATE=1
    )
    config = bridged_config(
        tmp_path,
        pubnub_server,
        agents,
        SUPPORT_AGENT_ROOM=f"agents:{channel}",
        SUPPORT_RETRY_INTERVAL=60,  # no relay pass meanwhile: the message goes its usual way
    )
    with running_bot("Bridge", config, ready=support_active):
        alice.wait_for_join("helpdesk", channel)
        dana = customers("dana")
        dana.write("Hello, I cannot log in")
        alice.wait_for_text(channel, "New conversation with")
        alice.say(channel, "!reply 1 Hi Dana, I am on it.")
        dana.wait_for("I am on it")
        alice.wait_for_text(channel, "is now yours, alice")
    assert dana.texts() == [ACK, "Hi Dana, I am on it."]
