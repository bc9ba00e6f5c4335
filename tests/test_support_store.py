"""The Support plugin's store on a real SQLite file: schema, deduplication, races."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError

from errbot_support.migrations import SCHEMA_VERSION, SchemaError, Upgrade, current_version, migrate
from errbot_support.records import Kind, Relay, State
from errbot_support.store import NewEntry, Store
from errbot_support.tables import conversations, entries
from tests.support_fixtures import *  # noqa: F403
from tests.support_fixtures import START, all_at_once, customer_message


def test_a_new_database_gets_the_schema_and_keeps_data_across_reopening(db_url):
    first = Store(db_url)
    recorded = first.record_customer_message(customer_message(body="kept"))
    first.close()

    again = Store(db_url)
    with again.engine.connect() as c:
        assert current_version(c) == SCHEMA_VERSION
        assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    assert [e.body for e in again.entries(recorded.conversation.number)] == ["kept"]
    again.close()


def test_upgrade_steps_run_once_in_order_and_a_newer_schema_is_refused(store):
    def add_comment(connection):
        connection.execute(text("ALTER TABLE support_conversations ADD COLUMN comment TEXT"))

    def add_channel(connection):
        connection.execute(text("ALTER TABLE support_conversations ADD COLUMN channel TEXT"))

    now, later, latest = SCHEMA_VERSION, SCHEMA_VERSION + 1, SCHEMA_VERSION + 2
    steps = [Upgrade(latest, "channel", add_channel), Upgrade(later, "comment", add_comment)]
    assert migrate(store.engine, upgrades=steps, latest=latest) == now
    assert migrate(store.engine, upgrades=steps, latest=latest) == latest  # nothing left
    columns = {c["name"] for c in inspect(store.engine).get_columns("support_conversations")}
    assert {"comment", "channel"} <= columns
    with pytest.raises(SchemaError, match=f"version {latest}, newer than version {now}"):
        migrate(store.engine)


def test_first_message_opens_a_conversation_and_later_ones_join_it(store):
    first = store.record_customer_message(customer_message(body="one"))
    second = store.record_customer_message(customer_message(body="two"))
    assert first.opened and not second.opened
    assert first.conversation.number == second.conversation.number
    assert first.conversation.state is State.WAITING
    assert first.conversation.opened_at == START
    assert first.entry.opens_conversation and not second.entry.opens_conversation
    assert [p.entry.body for p in store.unrelayed()] == ["one", "two"]


def test_a_redelivered_message_is_recorded_once(store):
    message = customer_message(source_id="17000000000000001")
    first = store.record_customer_message(message)
    again = store.record_customer_message(message)
    assert again.duplicate and not first.duplicate
    assert again.entry.id == first.entry.id
    assert store.count_entries(first.conversation.number) == 1


def test_a_message_redelivered_after_its_conversation_was_resolved_opens_nothing(store):
    message = customer_message(source_id="17000000000000001")
    first = store.record_customer_message(message)
    number = first.conversation.number
    store.change(number, states=[State.WAITING], values={"state": State.RESOLVED.value})
    again = store.record_customer_message(message)
    assert again.duplicate and again.entry.id == first.entry.id
    assert again.conversation.number == number
    assert store.open_conversations() == []


def test_a_recorded_message_comes_with_its_conversations_tags_in_order(store):
    number = store.record_customer_message(customer_message(body="hello")).conversation.number
    store.add_tags(number, ["vip", "billing", "été"])
    later = store.record_customer_message(customer_message(body="still there?"))
    assert later.conversation.tags == ("billing", "vip", "été")
    assert store.conversation(number).tags == later.conversation.tags
    assert store.open_conversation_in("dana-chat").tags == later.conversation.tags


def test_the_same_source_id_in_another_room_is_another_message(store):
    one = store.record_customer_message(customer_message("a-chat", source_id="1"))
    other = store.record_customer_message(customer_message("b-chat", source_id="1"))
    assert not other.duplicate
    assert one.conversation.number != other.conversation.number


def test_the_database_itself_refuses_a_second_open_conversation_in_a_room(store):
    store.record_customer_message(customer_message("e-chat"))
    row = {
        "customer_room": "e-chat",
        "customer_id": "e",
        "customer_name": "E",
        "state": "waiting",
        "opened_at": START,
    }
    with pytest.raises(IntegrityError), store.engine.begin() as c:
        c.execute(insert(conversations).values(**row))
    with store.engine.begin() as c:  # a resolved one beside the open one is fine
        c.execute(insert(conversations).values(**{**row, "state": "resolved"}))


def test_simultaneous_first_messages_open_exactly_one_conversation(store):
    workers = 8
    results = all_at_once(
        lambda i: store.record_customer_message(customer_message("race-chat", f"hi {i}")),
        range(workers),
    )

    assert len({r.conversation.number for r in results}) == 1
    assert sum(r.opened for r in results) == 1
    assert store.count_entries(results[0].conversation.number) == workers


def test_simultaneous_redeliveries_record_one_entry(store):
    message = customer_message("dup-chat", source_id="42")
    results = all_at_once(lambda _: store.record_customer_message(message), range(6))
    assert sum(not r.duplicate for r in results) == 1
    query = select(func.count()).where(entries.c.source_room == "dup-chat")
    with store.engine.connect() as c:
        assert c.execute(query).scalar_one() == 1


def test_a_writer_racing_past_the_lookup_lands_in_the_existing_conversation(store, monkeypatch):
    """PostgreSQL lets two transactions both see "no open conversation"; SQLite serialises
    writers, so the race window is opened here by hiding the existing conversation once."""
    existing = store.record_customer_message(customer_message("pg-chat", "first"))
    real_find_open = store._find_open
    hidden = []

    def find_open_once_blind(c, room):
        if not hidden:
            hidden.append(room)
            return None
        return real_find_open(c, room)

    monkeypatch.setattr(store, "_find_open", find_open_once_blind)
    late = store.record_customer_message(customer_message("pg-chat", "second"))
    assert hidden == ["pg-chat"]  # the first attempt did run blind and hit the unique index
    assert late.conversation.number == existing.conversation.number
    assert not late.opened
    assert store.count_entries(existing.conversation.number) == 2


def test_relay_status_moves_from_recorded_to_relayed(store):
    recorded = store.record_customer_message(customer_message())
    assert recorded.entry.relay is Relay.RECORDED
    store.mark_relayed(recorded.entry.id)
    assert store.unrelayed() == []
    assert store.entry(recorded.entry.id).relay is Relay.RELAYED


def test_an_in_memory_database_is_shared_by_every_thread():
    memory = Store("sqlite://")
    memory.record_customer_message(customer_message("mem-chat"))
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(memory.open_conversation_in, "mem-chat").result() is not None
    memory.close()


def test_a_malformed_column_type_is_not_silently_accepted(store):
    # Naive datetimes are ambiguous; the store refuses them rather than guessing a zone.
    with pytest.raises(Exception, match="naive"):
        store.record_customer_message(customer_message(sent_at=START.replace(tzinfo=None)))


def test_a_guarded_entry_is_refused_once_the_conversation_moved_on(store):
    number = store.record_customer_message(customer_message()).conversation.number
    store.change(number, states=[State.WAITING], values={"state": "assigned", "agent": "alice"})
    reply = NewEntry(Kind.REPLY, "answer", START, author="alice")
    assert store.add_entry(number, reply, states=[State.ASSIGNED], agent="alice") is not None
    assert store.add_entry(number, reply, states=[State.ASSIGNED], agent="bob") is None
    store.change(number, states=[State.ASSIGNED], values={"state": "resolved"})
    assert store.add_entry(number, reply, states=[State.ASSIGNED], agent="alice") is None
    assert [e.kind for e in store.entries(number)] == [Kind.CUSTOMER, Kind.REPLY]
    assert store.conversation(number).first_reply_at is None  # only stamped when asked
