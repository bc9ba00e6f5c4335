"""The Support plugin's way to the agent room: each recorded customer message reaches the agents
once, in order per customer, taken in whatever the agents' network does, and only as the
network can carry it (cut to its limits, set aside if it refuses it even so).
"""

from __future__ import annotations

import re
import threading
from datetime import datetime, timezone

import pytest
from sqlalchemy import event

from errbot_support.records import CustomerMessage, Relay
from errbot_support.relay_notice_store import NoticeStore
from errbot_support.store import Store
from tests.botrunner import wait_for
from tests.support_fixtures import AGENT_ROOM, support_bot

ACK = "Thanks for your message! Someone from our team will answer you here shortly."

NORMAL, FULL = 1, 2  # SQLite's values of PRAGMA synchronous


@pytest.fixture
def desk_bot(tmp_path):
    # A relay poller running all the time: passes over the store race with new messages.
    with support_bot(tmp_path, SUPPORT_RETRY_INTERVAL=0.1) as bot:
        yield bot


def recorded_in(room: str, body: str, source_id: str) -> CustomerMessage:
    return CustomerMessage(
        room=room,
        customer_id=f"{room}/dana",
        customer_name="dana",
        body=body,
        sent_at=datetime.now(timezone.utc),
        source_id=source_id,
    )


def test_many_customers_at_once_with_passes_running_each_message_once_in_order(desk_bot):
    rooms = [f"customer{n}-chat" for n in range(6)]

    def write(room: str) -> None:
        for i in range(25):
            desk_bot.customer(room, f"{room} line {i}", message_id=f"{room}-{i}")

    threads = [threading.Thread(target=write, args=(room,)) for room in rooms]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wait_for(lambda: len(desk_bot.to(AGENT_ROOM)) >= len(rooms) * 25)
    bodies = desk_bot.bodies(AGENT_ROOM)
    assert len(bodies) == len(rooms) * 25
    for room in rooms:
        numbers = [int(n) for body in bodies for n in re.findall(rf"{room} line (\d+)", body)]
        assert numbers == list(range(25))


def test_after_the_agent_room_is_back_the_waiting_messages_go_before_new_ones(desk_bot):
    desk_bot.customer("dana-chat", "hello")
    desk_bot.refuse(AGENT_ROOM, "agents' network is down")
    desk_bot.customer("dana-chat", "waiting 1")
    desk_bot.customer("dana-chat", "waiting 2")
    desk_bot.accept(AGENT_ROOM)
    desk_bot.customer("dana-chat", "new")
    wait_for(lambda: len(desk_bot.to(AGENT_ROOM)) == 4)
    assert desk_bot.bodies(AGENT_ROOM)[1:] == [
        "#1 dana: waiting 1",
        "#1 dana: waiting 2",
        "#1 dana: new",
    ]


def test_the_relayed_mark_skips_the_disk_flush_and_leaves_later_commits_durable(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'support.sqlite'}")
    try:
        recorded = store.record_customer_message(recorded_in("dana-chat", "hello", "m-1"))
        seen = []

        @event.listens_for(store.engine, "commit")
        def synchronous_at_commit(connection):
            seen.append(connection.exec_driver_sql("PRAGMA synchronous").scalar())

        store.mark_relayed(recorded.entry.id)
        store.record_customer_message(recorded_in("dana-chat", "again", "m-2"))
        assert seen == [NORMAL, FULL]
        assert store.entry(recorded.entry.id).relay is Relay.RELAYED
    finally:
        store.close()


def test_customers_are_taken_in_while_the_agents_network_stalls(desk_bot):
    """Intake never waits for the agents: with every post to the agent room stalled, new
    customers are recorded, acknowledged and counted in the queue."""
    desk_bot.hold(AGENT_ROOM)
    for n in range(20):
        desk_bot.customer(f"c{n:02d}-chat", f"hello {n}")
    assert all(desk_bot.bodies(f"c{n:02d}-chat") == [ACK] for n in range(20))
    assert desk_bot.command("alice", "!queue").startswith("20 open conversation(s), 20 waiting:")
    assert desk_bot.held_sends(AGENT_ROOM) == 1  # the relay waits at its first post, alone
    desk_bot.release(AGENT_ROOM)
    desk_bot.relayed()
    announced = [b for b in desk_bot.bodies(AGENT_ROOM) if "New conversation" in b]
    assert len(announced) == 20 and len(set(announced)) == 20


class ContentRefused(ValueError):
    """What the ``irc`` library raises for a line it will not send (``MessageTooLong``)."""


def test_a_message_the_network_refuses_is_set_aside_and_holds_nobody_up(desk_bot):
    desk_bot.customer("dana-chat", "hello")
    refused = "REFUSED"
    desk_bot.refuse_content(AGENT_ROOM, refused)
    desk_bot.customer("dana-chat", f"this {refused} one")
    desk_bot.customer("erin-chat", "and me")
    desk_bot.customer("dana-chat", "after it")
    bodies = desk_bot.bodies(AGENT_ROOM)
    assert not any(refused in body for body in bodies)
    notice = "#1: a message could not be shown here; !transcript 1 has it."
    assert bodies.count(notice) == 1
    assert bodies.index(notice) < bodies.index("#1 dana: after it")
    assert any("#2 erin: and me" in body for body in bodies)
    assert desk_bot.desk.count_unrelayed() == 0
    states = [e.relay for e in desk_bot.desk.store.entries(1) if e.kind.value == "customer"]
    assert states == [Relay.RELAYED, Relay.SET_ASIDE, Relay.RELAYED]
    assert "this REFUSED one" in desk_bot.command("alice", "!transcript 1")
    told = [said for said in desk_bot.admins_told() if "could not be shown here" in said]
    assert len(told) == 1 and "transcript 1" in told[0]


def test_characters_no_network_carries_are_shown_as_marks_and_kept_in_the_store(desk_bot):
    desk_bot.customer("dana-chat", "hello")
    desk_bot.customer("dana-chat", "nul\u0000 half\ud83d cr\rend")
    shown = desk_bot.bodies(AGENT_ROOM)[-1]
    assert shown == "#1 dana: nul\u2400 half\ufffd cr\n#1 dana \u2506 end"
    entry = desk_bot.desk.store.entries(1)[-1]  # half a UTF-16 pair cannot be stored: its mark is
    assert entry.body == "nul\u0000 half\ufffd cr\rend"


def test_a_message_longer_than_a_post_arrives_whole_in_marked_pieces(tmp_path):
    with support_bot(tmp_path, MESSAGE_SIZE_LIMIT=200) as bot:
        words = " ".join(f"word{n:03d}" for n in range(100))
        bot.customer("dana-chat", "hello")
        bot.customer("dana-chat", words)
        pieces = bot.bodies(AGENT_ROOM)[1:]
        assert len(pieces) > 1 and all(len(piece) <= 200 for piece in pieces)
        assert all(piece.startswith("#1 \u2506 ") for piece in pieces[1:])
        text = " ".join(
            piece.removeprefix("#1 \u2506 ").removeprefix("#1 dana: ") for piece in pieces
        )
        assert text == words


def test_a_notice_about_a_message_delivered_again_is_kept_once(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'support.sqlite'}")
    try:
        notices = NoticeStore(store.engine, store.writer)
        first = notices.record("#support", 1, "#1: mallory wrote", "dana-chat/17")
        assert notices.record("#support", 1, "#1: mallory wrote", "dana-chat/17") is None
        notices.record("#support", None, "a flood", None)
        notices.record("#support", None, "another flood", None)
        assert [n.text for n in notices.waiting("#support")] == [
            "#1: mallory wrote",
            "a flood",
            "another flood",
        ]
        notices.posted(first.id)
        assert notices.record("#support", 1, "#1: mallory wrote", "dana-chat/17") is None
        assert [n.text for n in notices.waiting("#support")] == ["a flood", "another flood"]
        assert notices.waiting("#elsewhere") == []
    finally:
        store.close()
