"""The Support plugin in a real bot on Errbot's Test backend (one backend, no Bridge).

On a single backend, every room other than the agent room is a customer chat. Customers and
agents are simulated by handing messages to the bot's ``callback_message``, as a backend does.
"""

from __future__ import annotations

import importlib.util
import re
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from errbot_support.records import Agent, Delivery, Kind, Relay, State
from errbot_support.settings import read_settings
from errbot_support.support import STRAY_TEXT_HINT_INTERVAL
from tests.botrunner import wait_for
from tests.support_fixtures import (
    AGENT_ROOM,
    COMMAND_REPLIES,
    all_at_once,
    refused_activation,
    support_bot,
)

ACK = "Thanks for your message! Someone from our team will answer you here shortly."


@pytest.fixture
def desk_bot(tmp_path):
    with support_bot(tmp_path) as bot:
        yield bot


def test_a_new_conversation_is_announced_acknowledged_and_followed_in_order(desk_bot):
    desk_bot.customer("dana-chat", "Hello, my order is late")
    announcement = desk_bot.to(AGENT_ROOM)[0].body
    assert announcement.startswith("#1 New conversation with dana (dana-chat)")
    assert "\n#1 dana: Hello, my order is late\n" in announcement
    assert "Type !claim 1 to take it." in announcement
    assert desk_bot.bodies("dana-chat") == [
        "Thanks for your message! Someone from our team will answer you here shortly."
    ]
    # Acknowledged before the agents hear of it: no agent's reply can overtake it.
    assert [s.to for s in desk_bot.sent if s.to in ("dana-chat", AGENT_ROOM)] == [
        "dana-chat",
        AGENT_ROOM,
    ]

    desk_bot.customer("dana-chat", "It was order 42")
    desk_bot.customer("dana-chat", "Any news?")
    assert desk_bot.bodies(AGENT_ROOM)[1:] == [
        "#1 dana: It was order 42",
        "#1 dana: Any news?",
    ]
    assert len(desk_bot.to("dana-chat")) == 1  # acknowledged once, when it opened


def test_claim_shows_the_conversation_so_far_and_replies_carry_the_agent_name(desk_bot):
    desk_bot.customer("dana-chat", "first")
    desk_bot.customer("dana-chat", "second")
    answer = desk_bot.command("alice", "!claim 1")
    assert answer.startswith("#1 is yours, alice. dana (dana-chat) so far:")
    assert answer.index("dana: first") < answer.index("dana: second")

    assert desk_bot.command("bob", "!claim 1") == "Too late: alice claimed #1 first."

    desk_bot.say("alice", "!reply 1 Your parcel left today.")
    reply = desk_bot.wait_sent(lambda s: s.to == "dana-chat" and "parcel" in s.body)
    assert reply.extras == {"author": "alice"}
    wait_for(lambda: desk_bot.desk.store.entries(1)[-1].delivery is Delivery.DELIVERED)
    desk_bot.customer("dana-chat", "thanks!")
    assert desk_bot.bodies(AGENT_ROOM)[-1] == "#1 (alice) dana: thanks!"


def test_a_reply_to_a_waiting_conversation_claims_it(desk_bot):
    desk_bot.customer("dana-chat", "hi")
    assert desk_bot.command("bob", "!reply 1 Hello!") == "#1 is now yours, bob."
    assert desk_bot.desk.get(1).agent == "bob"
    assert desk_bot.command("alice", "!reply 1 me too") == (
        "Conversation #1 is bob's. Ask them, or take it over with !transfer 1 me."
    )
    assert desk_bot.bodies("dana-chat")[-1] == "Hello!"


def test_notes_never_reach_the_customer(desk_bot):
    desk_bot.customer("dana-chat", "hi")
    desk_bot.command("alice", "!claim 1")
    assert desk_bot.command("alice", "!note 1 refund approved by finance") == (
        "#1: note saved (agents only)."
    )
    desk_bot.command("alice", "!resolve 1")
    assert all("refund" not in body for body in desk_bot.bodies("dana-chat"))
    [note] = [e for e in desk_bot.desk.store.entries(1) if e.kind is Kind.NOTE]
    assert (note.body, note.author_name, note.delivery) == (
        "refund approved by finance",
        "alice",
        None,
    )
    assert "[note] alice: refund approved by finance" in desk_bot.command("bob", "!transcript 1")


def test_resolve_notifies_the_customer_and_the_next_message_opens_a_new_conversation(desk_bot):
    desk_bot.customer("dana-chat", "hi")
    desk_bot.command("alice", "!claim 1")
    assert desk_bot.command("alice", "!resolve 1").startswith("#1 resolved by alice after ")
    notice = desk_bot.to("dana-chat")[-1]
    assert notice.extras == {"kind": "resolved"}
    assert notice.body.startswith("We have marked this conversation as resolved.")

    assert desk_bot.command("alice", "!reply 1 one more thing") == (
        "Conversation #1 is resolved; the customer's next message opens a new conversation. "
        "!reopen 1 to continue this one."
    )
    assert desk_bot.command("alice", "!reply 7 hello?") == (
        "There is no conversation #7: !queue lists the open ones."
    )
    desk_bot.customer("dana-chat", "actually, another question")
    assert desk_bot.conversation_of("dana-chat") == 1  # the first announcement
    assert desk_bot.bodies(AGENT_ROOM)[-1].startswith("#2 New conversation with dana")


def test_release_transfer_and_reopen(desk_bot):
    desk_bot.customer("dana-chat", "hi")
    desk_bot.command("alice", "!claim 1")
    assert desk_bot.command("bob", "!release 1").startswith("Conversation #1 is alice's.")
    assert desk_bot.command("alice", "!release 1") == (
        "#1 is back in the queue: !claim 1 to take it."
    )
    assert desk_bot.command("alice", "!transfer 1 bob") == "#1 is now bob's (given by alice)."
    assert desk_bot.command("carol", "!transfer 1 me") == "#1 is now carol's (given by carol)."
    desk_bot.command("carol", "!resolve 1")
    assert desk_bot.command("bob", "!reopen 1") == "#1 is open again and yours, bob."
    conversation = desk_bot.desk.get(1)
    assert (conversation.state, conversation.agent) == (State.ASSIGNED, "bob")


def test_queue_transcript_customer_tags_and_stats(desk_bot):
    desk_bot.customer("dana-chat", "first")
    desk_bot.customer("erin-chat", "hello")
    desk_bot.command("alice", "!claim 1")
    queue = desk_bot.command("bob", "!queue").splitlines()
    assert queue[0] == "2 open conversation(s), 1 waiting:"
    assert queue[1].startswith("#2 waiting, ") and queue[1].endswith("erin (erin-chat)")
    assert queue[2].startswith("#1 alice, ")
    assert queue[3] == "Type !claim 2 to take the oldest waiting one."
    mine = desk_bot.command("alice", "!queue mine").splitlines()
    assert mine[0] == "You have 1 open conversation(s):"
    assert mine[1].startswith("#1 alice, ") and len(mine) == 2
    assert desk_bot.command("bob", "!queue mine") == "You have no open conversation."

    for i in range(20):
        desk_bot.customer("dana-chat", f"line {i}")
    first_page = desk_bot.command("bob", "!transcript 1")
    assert "page 1/2" in first_page and "More: !transcript 1 2" in first_page
    assert "line 19" in desk_bot.command("bob", "!transcript #1 2")
    assert (
        desk_bot.command("bob", "!transcript 1 3")
        == "Conversation #1 has 2 page(s) of transcript, not 3. "
        "!transcript 1 2 shows the last one."
    )

    assert desk_bot.command("alice", "!tag 1 VIP billing") == "#1 tags: billing, vip"
    assert desk_bot.command("alice", "!untag 1 billing") == "#1 tags: vip"
    assert "[vip]" in desk_bot.command("bob", "!queue")

    desk_bot.command("alice", "!resolve 1")
    desk_bot.customer("dana-chat", "back again")
    history = desk_bot.command("bob", "!customer dana").splitlines()
    assert history[0] == "dana (dana-chat): 2 conversation(s)"
    assert "resolved by alice [vip]" in history[1] and history[2].endswith("waiting")
    assert desk_bot.command("bob", "!customer #3") == "\n".join(history)

    stats = desk_bot.command("bob", "!stats").splitlines()
    assert stats[0] == "Now: 2 waiting, 0 assigned, 1 resolved in all."
    assert stats[1] == "Last 7 day(s): 3 opened, 1 of them resolved."
    assert stats[3].startswith("Time to resolution: median ")
    assert stats[4].startswith("alice: 0 open, 1 resolved")


ARGUMENT_ERRORS = [
    ("!claim", "Which conversation? Usage: !claim <number>"),
    ("!claim one", "'one' is not a conversation number. Usage: !claim <number>"),
    ("!claim 1 2", "Unexpected '2'. Usage: !claim <number>"),
    ("!claim ²", "'²' is not a conversation number. Usage: !claim <number>"),
    ("!claim 99999999999999999999", "There is no conversation #99999999999999999999"),
    ("!customer #²", "No conversation with a customer named or identified '#²'."),
    ("!reply 1", "What should the customer read? Usage: !reply <number> <text>"),
    ("!note 1", "What is the note? Usage: !note <number> <text>"),
    ("!tag #1", "Which tags? Usage: !tag <number> <tag> [more tags]"),
    ("!note", "Which conversation? Usage: !note <number> <text>"),
    ("!transfer 1", "To which agent? Usage: !transfer <number> <agent>"),
    ("!release 1", "Conversation #1 is not assigned to anyone: !claim 1 to take it."),
    ("!transfer 1 bob carol", "Name one agent. Usage: !transfer <number> <agent>"),
    ("!tag 1 no/slash", "'no/slash' is not a tag: use letters, digits, '-' or '_'"),
    ("!transcript", "Give a conversation number and optionally a page."),
    ("!customer", "Which customer? Usage: !customer <name, id, room or #N>"),
    ("!customer nobody", "No conversation with a customer named or identified 'nobody'. !queue"),
    ("!stats soon", "'soon' is not a number of days from 1 to 36500. Usage: !stats [all] [days]"),
    ("!stats 99999999999", "'99999999999' is not a number of days from 1 to 36500."),
    ("!queue now", "Unexpected 'now'. Usage: !queue [all|mine]"),
    ("!resolve 9", "There is no conversation #9: !queue lists the open ones."),
    # What was typed is shown as typed, never as markup.
    ("!claim *one*", "'*one*' is not a conversation number. Usage: !claim <number>"),
    ("!claim 1 `2`", "Unexpected '`2`'. Usage: !claim <number>"),
    ("!queue _now_", "Unexpected '_now_'. Usage: !queue [all|mine]"),
    ("!stats **9**", "'**9**' is not a number of days from 1 to 36500."),
]


def test_argument_errors_say_what_to_type(desk_bot):
    desk_bot.customer("dana-chat", "hi")
    answers = {command: desk_bot.command("alice", command) for command, _ in ARGUMENT_ERRORS}
    wrong = {
        c: answers[c] for c, expected in ARGUMENT_ERRORS if not answers[c].startswith(expected)
    }
    assert wrong == {}


SUPPORT_COMMANDS = [
    *("canned", "claim", "customer", "move", "note", "queue", "release", "reopen", "reply"),
    "resolve",
    "search",
    "stats",
    "support status",
    *("tag", "transcript", "transfer", "untag"),
]


def test_help_lists_every_command_with_its_arguments_on_one_line(desk_bot):
    lines = desk_bot.command("alice", "!help Support").splitlines()
    listed = {
        line[2:].split(" - ", 1)[0]: line.split(" - ", 1)[1]
        for line in lines
        if line.startswith("• !")
    }
    assert sorted(listed) == [f"!{name}" for name in SUPPORT_COMMANDS]
    cut_short = [doc for doc in listed.values() if doc.endswith("...")]
    assert cut_short == []  # Errbot cuts a line longer than 80 characters
    for name, doc in listed.items():
        assert f": {name[1:]}" in doc  # what to type, after what it does


def test_two_agents_claiming_at_once_one_wins_and_the_other_is_told_who(desk_bot):
    desk_bot.customer("dana-chat", "hi")
    mark = len(desk_bot.sent)
    all_at_once(lambda agent: desk_bot.say(agent, "!claim 1"), ["alice", "bob"])
    wait_for(lambda: len(desk_bot.to(COMMAND_REPLIES)) == 2)
    won, lost = sorted(s.body for s in desk_bot.sent[mark:] if s.to == COMMAND_REPLIES)
    winner = desk_bot.desk.get(1).agent
    loser = "bob" if winner == "alice" else "alice"
    assert lost == f"Too late: {winner} claimed #1 first."
    assert won.startswith(f"#1 is yours, {winner}.")
    assert loser not in won


def test_customers_cannot_run_commands_their_text_is_relayed(desk_bot):
    desk_bot.customer("dana-chat", "hi")
    for text in ("!claim 1", "!resolve 1", "!reply 1 I approve my refund", "!help", "!status"):
        desk_bot.customer("dana-chat", text)
    wait_for(lambda: len(desk_bot.to(AGENT_ROOM)) == 6)
    assert desk_bot.bodies(AGENT_ROOM)[1:] == [
        "#1 dana: !claim 1",
        "#1 dana: !resolve 1",
        "#1 dana: !reply 1 I approve my refund",
        "#1 dana: !help",
        "#1 dana: !status",
    ]
    # A command that did run would have answered by now: an agent's command, sent after the
    # customer's, is answered and nothing else was.
    assert desk_bot.command("alice", "!queue").startswith("1 open conversation(s), 1 waiting")
    assert len(desk_bot.to(COMMAND_REPLIES)) == 1
    assert len(desk_bot.to("dana-chat")) == 1  # the acknowledgement only
    assert desk_bot.desk.get(1).state is State.WAITING


def test_people_outside_the_agent_room_cannot_run_support_commands(desk_bot):
    desk_bot.customer("dana-chat", "hi")
    desk_bot.say("mallory", "!claim 1", room=None)  # a direct message, not in the agent room
    desk_bot.say("mallory", "!reply 1 hello", room=None)
    assert desk_bot.command("alice", "!queue").startswith("1 open conversation(s), 1 waiting")
    assert len(desk_bot.to(COMMAND_REPLIES)) == 1
    assert desk_bot.desk.get(1).agent is None


def test_an_agent_list_lets_listed_agents_work_from_anywhere_and_nobody_else(tmp_path):
    with support_bot(tmp_path, SUPPORT_AGENTS=["alice", "b*"]) as bot:
        bot.customer("dana-chat", "hi")
        assert bot.command("alice", "!claim 1", room=None).startswith("#1 is yours, alice.")
        bot.say("mallory", "!release 1")  # in the agent room but not listed
        assert bot.command("alice", "!transfer 1 carol") == (
            "carol is not one of the agents listed in SUPPORT_AGENTS."
        )
        assert bot.command("alice", "!transfer 1 bob") == "#1 is now bob's (given by alice)."
        assert all("mallory" not in s.body for s in bot.to(COMMAND_REPLIES))


def test_support_status_says_where_support_stands(tmp_path):
    with support_bot(
        tmp_path,
        SUPPORT_REMINDER_MINUTES=10,
        SUPPORT_AUTO_RESOLVE_HOURS=48,
        SUPPORT_BUSINESS_HOURS="Mon-Sun 00:00-24:00",
    ) as bot:
        bot.customer("dana-chat", "hi")
        bot.customer("erin-chat", "hello")
        bot.command("alice", "!claim 1")
        status = bot.command("alice", "!support status").splitlines()
        assert status[0] == "Agent room(s): support (ok)"
        assert status[1] == (
            f"Database: sqlite:///{tmp_path / 'support.sqlite'} (schema version 7)"
        )
        assert status[2:] == [
            "Customer messages waiting for their agent room: 0",
            "Open conversations: 2, 1 waiting for an agent",
            "Reminders: after 10m of waiting; automatic resolution: after 2d 0h of silence; "
            "business hours: open now",
            "Instances: this bot alone (an SQLite database serves one bot).",
        ]
        assert bot.command("alice", "!support status now") == (
            "Unexpected 'now'. Usage: !support status"
        )


def test_what_agents_do_from_elsewhere_is_told_in_the_conversations_room(tmp_path):
    with support_bot(tmp_path, SUPPORT_AGENTS=["alice", "bob"]) as bot:
        bot.customer("dana-chat", "hi")
        announced = len(bot.to(AGENT_ROOM))
        # Alice works from a direct message: the agent room hears of each step, once.
        bot.command("alice", "!claim 1", room=None)
        bot.say("alice", "!reply 1 Hello Dana", room=None)
        wait_for(lambda: bot.bodies("dana-chat")[-1:] == ["Hello Dana"])
        bot.command("alice", "!note 1 asked for the order number", room=None)
        bot.command("alice", "!transfer 1 bob", room=None)
        bot.command("bob", "!release 1", room=None)
        bot.command("bob", "!resolve 1", room=None)
        bot.command("bob", "!reopen 1", room=None)
        told = wait_for(
            lambda: (
                bot.bodies(AGENT_ROOM)[announced:]
                if len(bot.to(AGENT_ROOM)) >= announced + 7
                else None
            )
        )
        assert told[0] == "#1 claimed by alice."
        assert told[1] == "#1 alice to dana: Hello Dana"
        assert told[2] == "#1 [note] alice: asked for the order number"
        assert told[3] == "#1 is now bob's (given by alice)."
        assert told[4] == "#1 is back in the queue: !claim 1 to take it. (released by bob)"
        assert told[5].startswith("#1 resolved by bob after ")
        assert told[6:] == ["#1 reopened by bob."]

        # Commands in the room itself: the room saw them and their answers, nothing more.
        before = len(bot.to(AGENT_ROOM))
        bot.command("bob", "!note 1 in the room")
        bot.say("bob", "!reply 1 Back again")
        wait_for(lambda: bot.bodies("dana-chat")[-1:] == ["Back again"])
        bot.command("bob", "!resolve 1")
        assert len(bot.to(AGENT_ROOM)) == before


def test_a_burst_from_many_customers_arrives_complete_and_in_order(desk_bot):
    customers = [f"c{i}-chat" for i in range(6)]
    per_customer = 15

    def write(room):
        for i in range(per_customer):
            desk_bot.customer(room, f"{room} message {i}")

    with ThreadPoolExecutor(len(customers)) as pool:
        list(pool.map(write, customers))

    relayed = desk_bot.bodies(AGENT_ROOM)
    assert len(relayed) == len(customers) * per_customer
    for room in customers:
        mine = [re.search(rf"{room} message (\d+)", body) for body in relayed]
        assert [int(m.group(1)) for m in mine if m] == list(range(per_customer))
    assert len(desk_bot.desk.queue()) == len(customers)


def test_simultaneous_first_messages_open_one_conversation(desk_bot):
    all_at_once(lambda i: desk_bot.customer("fay-chat", f"hello {i}"), range(4))
    announcements = [b for b in desk_bot.bodies(AGENT_ROOM) if "New conversation" in b]
    assert len(announcements) == 1
    assert len(desk_bot.bodies(AGENT_ROOM)) == 4
    assert len(desk_bot.bodies("fay-chat")) == 1  # one acknowledgement


def test_a_redelivered_message_is_relayed_once(desk_bot):
    for _ in range(3):
        desk_bot.customer("dana-chat", "only once", message_id="17150000000000001")
    desk_bot.customer("dana-chat", "next", message_id="17150000000000002")
    assert desk_bot.bodies(AGENT_ROOM)[1:] == ["#1 dana: next"]


def test_messages_wait_while_the_agent_room_is_unreachable_then_follow_in_order(desk_bot):
    desk_bot.refuse(AGENT_ROOM, "agents' network is down")
    written = datetime.now(timezone.utc) - timedelta(minutes=5)
    desk_bot.customer("dana-chat", "are you there?", sent_at=written)
    desk_bot.customer("dana-chat", "hello??")
    desk_bot.customer("erin-chat", "me too")
    assert desk_bot.to(AGENT_ROOM) == []
    assert [p.entry.relay for p in desk_bot.desk.unrelayed()] == [Relay.RECORDED] * 3
    warning = desk_bot.wait_sent(lambda s: s.to == "admin")
    assert "agent room support is unreachable (agents' network is down)" in warning.body
    assert len(desk_bot.to("admin")) == 1  # told once, not once per message

    desk_bot.accept(AGENT_ROOM)  # the relay poller retries on its own
    wait_for(lambda: len(desk_bot.to(AGENT_ROOM)) == 3)
    relayed = desk_bot.bodies(AGENT_ROOM)
    assert relayed[0].startswith("#1 New conversation with dana (dana-chat) (written 5m")
    assert relayed[1] == "#1 dana: hello??"
    assert relayed[2].startswith("#2 New conversation with erin")
    # A message is marked relayed just after it is sent: wait for the last mark.
    wait_for(lambda: desk_bot.desk.unrelayed() == [])


def test_an_undelivered_reply_is_reported_on_its_conversation(desk_bot):
    desk_bot.customer("dana-chat", "hi")
    desk_bot.command("alice", "!claim 1")
    desk_bot.refuse("dana-chat", "publish failed after 3 attempts: HTTP 503")
    mark = desk_bot.say("alice", "!reply 1 Here is your refund")
    report = desk_bot.wait_sent(lambda s: s.to == AGENT_ROOM, after=mark).body
    assert report == (
        "#1 NOT DELIVERED: the reply by alice did not reach dana (publish failed after 3 "
        "attempts: HTTP 503):\n#1 ┆ Here is your refund\nSend it again with !reply 1 ..."
    )
    reply = next(e for e in desk_bot.desk.store.entries(1) if e.kind is Kind.REPLY)
    assert reply.delivery is Delivery.UNDELIVERED
    assert "[NOT DELIVERED: publish failed" in desk_bot.command("alice", "!transcript 1")


def test_a_stalled_acknowledgement_does_not_hold_the_agents_up_and_its_failure_follows(
    desk_bot,
):
    desk_bot.hold("dana-chat")  # publishing to the customer hangs, then fails
    desk_bot.customer("dana-chat", "hello")
    assert desk_bot.bodies(AGENT_ROOM)[0].startswith("#1 New conversation with dana")
    [notice] = [e for e in desk_bot.desk.store.entries(1) if e.kind is Kind.NOTICE]
    assert (notice.notice, notice.delivery) == ("acknowledgement", Delivery.PENDING)

    desk_bot.refuse("dana-chat", "publish failed after 4 attempts: HTTP 503")
    desk_bot.release("dana-chat")
    report = desk_bot.wait_sent(lambda s: s.to == AGENT_ROOM and "NOT DELIVERED" in s.body)
    assert report.body == (
        "#1 NOT DELIVERED: the automatic acknowledgement did not reach dana (publish failed "
        f"after 4 attempts: HTTP 503):\n#1 ┆ {ACK}"
    )
    assert desk_bot.desk.store.entry(notice.id).delivery is Delivery.UNDELIVERED
    assert desk_bot.bodies("dana-chat") == []


def test_a_refused_acknowledgement_is_reported_after_the_announcement(desk_bot):
    desk_bot.refuse("dana-chat", "HTTP 403")
    desk_bot.customer("dana-chat", "hello")
    desk_bot.wait_sent(lambda s: s.to == AGENT_ROOM and "NOT DELIVERED" in s.body)
    announcement, report = desk_bot.bodies(AGENT_ROOM)
    assert announcement.startswith("#1 New conversation with dana")
    assert report.startswith("#1 NOT DELIVERED: the automatic acknowledgement")
    desk_bot.accept("dana-chat")
    desk_bot.customer("dana-chat", "still relayed")
    assert desk_bot.bodies(AGENT_ROOM)[-1] == "#1 dana: still relayed"


def test_texts_to_customers_can_be_switched_off_or_changed(tmp_path):
    with support_bot(
        tmp_path,
        SUPPORT_ACKNOWLEDGEMENT=None,
        SUPPORT_RESOLVED_NOTICE="",
        SUPPORT_CLAIMED_NOTICE="{agent} is looking after you.",
    ) as bot:
        bot.customer("dana-chat", "hi")
        bot.command("alice", "!claim 1")
        bot.command("alice", "!resolve 1")
        [claimed] = bot.to("dana-chat")
        assert (claimed.body, claimed.extras) == ("alice is looking after you.", {})


def test_releasing_tells_the_customer_only_when_a_postponed_notice_is_set(tmp_path):
    with support_bot(tmp_path, SUPPORT_ACKNOWLEDGEMENT=None) as bot:
        bot.customer("dana-chat", "hi")
        bot.command("alice", "!claim 1")
        bot.command("alice", "!release 1")
        assert bot.to("dana-chat") == []  # off by default
    with support_bot(
        tmp_path / "on",
        SUPPORT_ACKNOWLEDGEMENT=None,
        SUPPORT_POSTPONED_NOTICE="Waiting for the next agent.",
    ) as bot:
        bot.customer("dana-chat", "hi")
        bot.command("alice", "!claim 1")
        bot.command("alice", "!release 1")
        [postponed] = bot.to("dana-chat")
        assert (postponed.body, postponed.extras) == (
            "Waiting for the next agent.",
            {"kind": "postponed"},
        )
        assert "Waiting for the next agent." in bot.command("alice", "!transcript 1")


def test_a_restart_in_the_middle_of_a_conversation_loses_nothing(tmp_path):
    with support_bot(tmp_path) as bot:
        bot.customer("dana-chat", "hello")
        bot.command("alice", "!claim 1")
        bot.say("alice", "!reply 1 Looking into it")
        wait_for(lambda: bot.bodies("dana-chat")[-1:] == ["Looking into it"])
        bot.refuse(AGENT_ROOM)  # the agents stop hearing the bot just before it stops...
        bot.customer("dana-chat", "written just before the stop")
        # ...and a reply is being sent at the very moment the bot stops.
        bot.desk.begin_reply(1, Agent("alice", "alice"), "cut short by the stop")

    with support_bot(tmp_path) as bot:  # a new bot on the same database
        relayed = bot.wait_sent(lambda s: s.to == AGENT_ROOM and "just before" in s.body)
        assert relayed.body == "#1 (alice) dana: written just before the stop"
        report = bot.wait_sent(lambda s: "cut short" in s.body).body
        assert report.startswith(
            "#1 NOT DELIVERED: the reply by alice did not reach dana (the bot stopped "
            "before the delivery was confirmed)"
        )
        bot.customer("dana-chat", "still there?")
        assert bot.bodies(AGENT_ROOM)[-1] == "#1 (alice) dana: still there?"
        bot.say("alice", "!reply 1 Yes, here is the answer.")
        wait_for(lambda: bot.bodies("dana-chat") == ["Yes, here is the answer."])
        assert bot.command("bob", "!queue").splitlines()[1].startswith("#1 alice, ")


@pytest.mark.parametrize(
    ("overrides", "sentence"),
    [
        ({"SUPPORT_AGENT_ROOM": None}, "SUPPORT_AGENT_ROOM is not set: name the room"),
        (
            {"SUPPORT_DB_URL": "sqlite:////no/such/folder/support.sqlite"},
            "SUPPORT_DB_URL cannot be used (unable to open database file)",
        ),
        (
            {"SUPPORT_CUSTOMER_NETWORK": "customers"},
            "SUPPORT_CUSTOMER_NETWORK is 'customers' but the bot does not run the Bridge",
        ),
        ({"SUPPORT_PAGE_SIZE": 0}, "SUPPORT_PAGE_SIZE must be a number of at least 1"),
    ],
)
def test_bad_settings_stop_the_plugin_with_one_sentence_to_the_admins(
    tmp_path, overrides, sentence, caplog
):
    line = refused_activation(tmp_path, sentence, **overrides)
    assert line.startswith("Error: Support failed to activate: ")
    # The log says it in one line too, without a traceback as if the plugin had a bug.
    logged = [r for r in caplog.records if sentence in r.getMessage()]
    assert logged
    assert not any(r.exc_info for r in caplog.records if r.name == "errbot.plugin_manager")
    assert "Traceback" not in caplog.text


def test_a_database_the_bot_may_not_write_stops_the_plugin_with_one_sentence(tmp_path, caplog):
    database = tmp_path / "support.sqlite"
    existing = sqlite3.connect(database)  # a database that exists, then opened read-only
    existing.execute("CREATE TABLE earlier (id INTEGER)")
    existing.commit()
    existing.close()
    sentence = "SUPPORT_DB_URL cannot be used (attempt to write a readonly database)"
    line = refused_activation(
        tmp_path, sentence, SUPPORT_DB_URL=f"sqlite:///file:{database}?mode=ro&uri=true"
    )
    assert line.startswith("Error: Support failed to activate: ")
    assert not any(r.exc_info for r in caplog.records if r.name == "errbot.plugin_manager")
    assert "Traceback" not in caplog.text


def test_the_bot_joins_the_agent_room_before_relaying(desk_bot):
    desk_bot.customer("dana-chat", "hello")
    assert desk_bot.bot.query_room(AGENT_ROOM).joined
    assert len(desk_bot.to(AGENT_ROOM)) == 1


def test_with_threads_each_conversation_has_its_own_and_a_thread_reply_reaches_the_customer(
    tmp_path,
):
    """Errbot's Test backend has no threads: the recorder stamps posted messages the way
    errbot-backend-slackv3 does, and agents' thread messages carry Slack's ``thread_ts``."""
    with support_bot(tmp_path, SUPPORT_THREADS=True) as bot:
        bot.thread_stamps = True
        bot.customer("dana-chat", "first")
        bot.customer("erin-chat", "hello")
        bot.customer("dana-chat", "second")
        dana_root, erin_root, follow_up = bot.to(AGENT_ROOM)
        assert (dana_root.parent, erin_root.parent) == (None, None)
        assert follow_up.parent is dana_root.message

        dana_thread = {"slack_event": {"thread_ts": dana_root.extras["ts"][0]}}
        bot.say("alice", "Hi Dana, I am on it.", extras=dana_thread)
        wait_for(lambda: bot.bodies("dana-chat")[-1:] == ["Hi Dana, I am on it."])
        assert bot.to("dana-chat")[-1].extras == {"author": "alice"}
        assert bot.desk.get(1).agent == "alice"  # replying in the thread claimed it
        claimed = bot.wait_sent(lambda s: "is now yours" in s.body)
        assert (claimed.body, claimed.parent) == ("#1 is now yours, alice.", dana_root.message)

        note = bot.command(
            "alice", "!note 1 commands in a thread stay commands", extras=dana_thread
        )
        assert note == "#1: note saved (agents only)."
        bot.say("bob", "chatting in the room, outside any thread")
        assert bot.command("bob", "!queue").startswith("2 open conversation(s), 1 waiting")
        assert bot.bodies("dana-chat")[-1] == "Hi Dana, I am on it."
        assert bot.bodies("erin-chat") == [ACK]
        bot.say("bob", "this goes nowhere", extras={"slack_event": {"thread_ts": "0.0"}})
        refused = bot.say("bob", "not mine", extras=dana_thread)
        notice = bot.wait_sent(lambda s: s.to == AGENT_ROOM, after=refused)
        assert notice.body.startswith("Conversation #1 is alice's.")
        assert notice.parent is dana_root.message
        assert bot.bodies("dana-chat")[-1] == "Hi Dana, I am on it."

    with support_bot(tmp_path, SUPPORT_THREADS=True) as bot:  # restarted: the threads go on
        bot.thread_stamps = True
        bot.customer("dana-chat", "third")
        [relayed] = bot.to(AGENT_ROOM)
        assert relayed.parent.extras["slack_event"]["ts"] == dana_root.extras["ts"][0]
        bot.say("alice", "Still on it.", extras=dana_thread)
        wait_for(lambda: bot.bodies("dana-chat") == ["Still on it."])


def test_the_configuration_template_gives_valid_support_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("ERRBOT_DATA_DIR", str(tmp_path))
    template = Path(__file__).resolve().parent.parent / "config_template.py"
    spec = importlib.util.spec_from_file_location("support_config_template", template)
    config = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(config)
    settings = read_settings(config)
    assert (settings.agent_room, settings.customer_network) == ("agents:#support", "customers")
    assert settings.db_url == f"sqlite:///{tmp_path / 'support.sqlite'}"


def test_customer_history_keeps_two_customers_with_one_name_apart(desk_bot):
    desk_bot.customer("sam-chat", "hi", name="sam")
    desk_bot.customer("sam2-chat", "hello", name="sam")
    assert desk_bot.command("alice", "!customer sam").splitlines() == [
        line
        for number, room in ((1, "sam-chat"), (2, "sam2-chat"))
        for line in (
            f"sam ({room}): 1 conversation(s)",
            f"#{number} opened "
            + desk_bot.desk.get(number).opened_at.strftime("%Y-%m-%d %H:%M")
            + " UTC, waiting",
        )
    ]


def test_a_message_the_database_refuses_still_reaches_the_agents_and_the_admins(desk_bot):
    desk_bot.customer("dana-chat", "hello")
    with desk_bot.desk.store.engine.begin() as c:  # the database breaks under the bot
        c.exec_driver_sql("DROP TABLE support_entries")
    desk_bot.customer("dana-chat", "are you there?")
    shown = desk_bot.bodies(AGENT_ROOM)[-1]
    assert shown.startswith("A message from dana (dana-chat) could not be recorded")
    assert shown.endswith("is fixed: are you there?")
    warning = desk_bot.wait_sent(lambda s: s.to == "admin" and "refused a message" in s.body)
    assert "no such table: support_entries" in warning.body


def test_stray_text_in_an_agents_direct_chat_gets_a_hint_now_and_then(tmp_path):
    """Text to the bot that is no command reaches nobody: the agent is told how to answer a
    customer, once in a while (not for every line), and nobody else is told anything."""
    hint = "Not sent to anyone: !reply N text answers a customer (!queue lists the conversations)."
    with support_bot(tmp_path, SUPPORT_AGENTS=("alice",)) as bot:
        bot.customer("dana-chat", "hello")
        mark = bot.say("alice", "hi, are you there?", room=None)
        assert bot.wait_sent(lambda s: s.to == "alice", after=mark).body == hint
        bot.say("alice", "hello?", room=None)
        bot.say("mallory", "hello?", room=None)  # not an agent
        bot.say("alice", "chatting in the agent room")  # colleagues read that
        assert bot.command("alice", "!claim 1", room=None).startswith("#1 is yours, alice.")
        assert [s.body for s in bot.sent[mark:] if s.to in ("alice", "mallory")] == [hint]

        bot.plugin._hinted["alice"] -= STRAY_TEXT_HINT_INTERVAL  # a while later
        mark = bot.say("alice", "thanks", room=None)
        assert bot.wait_sent(lambda s: s.to == "alice", after=mark).body == hint
