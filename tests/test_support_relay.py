"""The Support plugin's way to the agent room: each recorded customer message reaches the agents
once, in order per customer, whether it goes straight from its recording or through a pass over
the store (at start, on the relay poller, after the agent room was unreachable).
"""

from __future__ import annotations

import re
import threading
from datetime import datetime, timezone

import pytest
from sqlalchemy import event

from errbot_support.records import CustomerMessage, Relay
from errbot_support.relay import RELAY_BATCH
from errbot_support.store import Store
from tests.botrunner import wait_for
from tests.support_fixtures import AGENT_ROOM, support_bot

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


def test_a_message_a_pass_relayed_meanwhile_does_not_go_straight_again(desk_bot):
    desk_bot.customer("dana-chat", "hello")  # opens the conversation
    relay, desk = desk_bot.plugin._relay, desk_bot.desk
    # What the plugin does for a customer message, with a pass over the store slipped in
    # between recording it and relaying it (the pass relays it).
    epoch = relay.epoch
    recorded = desk.receive(recorded_in("dana-chat", "only once", "m-2"))
    relay.pending(desk)
    relay.recorded(desk, recorded, epoch)
    assert desk_bot.bodies(AGENT_ROOM).count("#1 dana: only once") == 1
    wait_for(lambda: desk_bot.desk.store.entry(recorded.entry.id).relay is Relay.RELAYED)

    # Without a pass in between, the recorded message goes straight.
    epoch = relay.epoch
    recorded = desk.receive(recorded_in("dana-chat", "straight", "m-3"))
    relay.recorded(desk, recorded, epoch)
    assert desk_bot.bodies(AGENT_ROOM)[-1] == "#1 dana: straight"
    wait_for(lambda: desk_bot.desk.store.entry(recorded.entry.id).relay is Relay.RELAYED)


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


def test_a_message_recorded_while_a_long_pass_runs_is_not_relayed_twice(tmp_path):
    """A pass that began before the message was recorded may still take it (its later batches
    read what was recorded meanwhile): then the message must not go straight as well."""
    with support_bot(tmp_path, SUPPORT_RETRY_INTERVAL=60) as bot:  # no pass but this test's
        relayed_once_despite_a_pass_running_meanwhile(bot)


def relayed_once_despite_a_pass_running_meanwhile(desk_bot) -> None:
    desk_bot.customer("dana-chat", "hello")
    desk_bot.refuse(AGENT_ROOM, "agents' network is down")
    for i in range(RELAY_BATCH):  # a full batch waits: the pass will read another one
        desk_bot.customer("dana-chat", f"backlog {i}", message_id=f"b-{i}")
    desk_bot.accept(AGENT_ROOM)
    relay, desk = desk_bot.plugin._relay, desk_bot.desk
    desk_bot.hold(AGENT_ROOM)  # the pass stops at its first post, holding the relay
    passing = threading.Thread(target=relay.pending, args=(desk,))
    passing.start()
    wait_for(lambda: desk_bot.held_sends(AGENT_ROOM) == 1)

    epoch = relay.epoch  # what the plugin reads before recording, while the pass runs
    recorded = desk.receive(recorded_in("dana-chat", "during the pass", "m-late"))
    desk_bot.release(AGENT_ROOM)
    passing.join(timeout=20)
    relay.recorded(desk, recorded, epoch)
    wait_for(lambda: desk.unrelayed() == [])
    assert desk_bot.bodies(AGENT_ROOM).count("#1 dana: during the pass") == 1
