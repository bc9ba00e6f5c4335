"""The Support store on a real PostgreSQL server, started for these tests.

PostgreSQL runs transactions concurrently where SQLite serialises writers, so the rules the
database must enforce (one open conversation per room, one record per customer message, one
winner per claim) meet real races here. Skipped where no PostgreSQL server binaries or no
``psycopg`` driver (the ``postgresql`` extra) are installed. The server comes from
``tests/postgres_fixtures.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest

from errbot_support.desk import Desk
from errbot_support.errors import AlreadyClaimed, OpenElsewhere
from errbot_support.formatting import search as search_results
from errbot_support.records import Agent, Relay, State
from errbot_support.rendering import Dialect, render
from errbot_support.store import ConflictError, Store
from tests.support_fixtures import ALICE, Clock, all_at_once, customer_message, read_on_test_backend
from tests.test_support_search import FOLDED

pytest.importorskip("psycopg", reason="the postgresql extra (psycopg) is not installed")


@pytest.fixture
def store(postgres_url: str) -> Iterator[Store]:
    opened = Store(postgres_url)
    with opened.engine.begin() as c:  # each test starts from empty tables
        c.exec_driver_sql(
            "TRUNCATE support_entries, support_tags, support_conversations RESTART IDENTITY"
        )
    yield opened
    opened.close()


def test_the_schema_is_created_once_and_reused(postgres_url, store):
    store.record_customer_message(customer_message("pg-a"))
    again = Store(postgres_url)
    assert again.open_conversation_in("pg-a") is not None
    again.close()


def test_simultaneous_first_messages_open_exactly_one_conversation(store):
    workers = 8
    results = all_at_once(
        lambda i: store.record_customer_message(customer_message("pg-race", f"hello {i}")),
        range(workers),
    )
    assert len({r.conversation.number for r in results}) == 1
    assert sum(r.opened for r in results) == 1
    assert store.count_entries(results[0].conversation.number) == workers


def test_simultaneous_redeliveries_record_one_entry(store):
    message = customer_message("pg-dup", source_id="17000000000000042")
    results = all_at_once(lambda _: store.record_customer_message(message), range(8))
    assert sum(not r.duplicate for r in results) == 1
    assert store.count_entries(results[0].conversation.number) == 1


def test_two_agents_claiming_at_once_one_wins(store):
    desk = Desk(store, Clock())
    number = desk.receive(customer_message("pg-claim")).conversation.number
    agents = [Agent(f"agent{i}", f"Agent {i}") for i in range(8)]

    def claim(agent):
        try:
            return desk.claim(number, agent)
        except AlreadyClaimed as lost:
            return lost

    outcomes = all_at_once(claim, agents)
    winners = [o for o in outcomes if not isinstance(o, AlreadyClaimed)]
    assert len(winners) == 1
    assert desk.get(number).state is State.ASSIGNED


def test_reopening_beside_a_newer_open_conversation_is_refused(store):
    desk = Desk(store, Clock())
    old = desk.receive(customer_message("pg-reopen")).conversation.number
    desk.resolve(old, ALICE)
    newer = desk.receive(customer_message("pg-reopen")).conversation.number
    with pytest.raises(OpenElsewhere, match=f"#{newer}"):
        desk.reopen(old, ALICE)
    # The database refuses it too, should a reopen race past the check above.
    with pytest.raises(ConflictError):
        store.change(old, states=[State.RESOLVED], values={"state": "waiting"})


def test_times_are_utc_whatever_the_servers_time_zone(postgres_url):
    store = Store(postgres_url + "?options=-c%20TimeZone%3DAsia/Tokyo")
    try:
        clock = Clock()
        desk = Desk(store, clock)
        number = desk.receive(customer_message("pg-tokyo")).conversation.number
        opened = clock.now
        clock.advance(minutes=3)
        desk.begin_reply(number, ALICE, "hello")
        clock.advance(minutes=4)
        desk.resolve(number, ALICE)
        conversation = desk.get(number)
        assert (conversation.opened_at, conversation.first_reply_at, conversation.resolved_at) == (
            opened,
            opened + timedelta(minutes=3),
            opened + timedelta(minutes=7),
        )
    finally:
        store.close()


def test_search_waiting_customers_teams_and_details_on_postgresql(store):
    clock = Clock()
    desk = Desk(store, clock)
    try:
        message = customer_message("pg-dana", "I am 100% SURE my Parcel is lost", sent_at=clock.now)
        opened = desk.receive(
            replace(
                message,
                agent_room="agents:#vip",
                customer_details={"email": "dana@example.com"},
            )
        ).conversation
        desk.receive(customer_message("pg-erin", "100 percent sure", sent_at=clock.now))
        assert (opened.agent_room, opened.customer_details) == (
            "agents:#vip",
            {"email": "dana@example.com"},
        )
        assert [c.number for c, _ in desk.search("100%", limit=10)] == [opened.number]
        assert [c.number for c, _ in desk.search("parcel", limit=10)] == [opened.number]
        cafe = desk.receive(
            customer_message("customers:fay", "Un café, Straße 5", sent_at=clock.now)
        )
        for wanted in ("CAFÉ", "STRASSE", "straße"):
            assert [c.number for c, _ in desk.search(wanted, limit=10)] == [
                cafe.conversation.number
            ], wanted
        assert [c.number for c in desk.customer_history("fay")] == [cafe.conversation.number]
        desk.resolve(cafe.conversation.number, ALICE)

        clock.advance(minutes=11)
        assert [c.number for c, _ in desk.awaiting_answer(timedelta(minutes=10))] == [1, 2]
        desk.begin_reply(opened.number, ALICE, "Looking into it")
        waiting = desk.awaiting_answer(timedelta(minutes=10))
        assert [(c.number, since) for c, since in waiting] == [
            (2, clock.now - timedelta(minutes=11))
        ]

        clock.advance(hours=25)
        [(silent, reply)] = desk.answered_then_silent(timedelta(hours=24))
        assert (silent.number, reply.body) == (opened.number, "Looking into it")
        assert desk.resolve_silent(silent, reply).state is State.RESOLVED
    finally:
        desk.close()


def test_search_ignores_case_in_every_script_on_postgresql(store):
    """The database folds case (ICU's mappings), as Python does on SQLite; what was found is
    shown as it was written."""
    desk = Desk(store, Clock())
    try:
        rooms = {}
        for n, (written, _) in enumerate(FOLDED):
            rooms[written] = desk.receive(customer_message(f"pg-{n}", written)).conversation
        desk.receive(customer_message("pg-other", "Nothing of the kind"))
        for written, wanted in FOLDED:
            for asked in (wanted, written.upper(), written.lower()):
                found = desk.search(asked, limit=10)
                assert [c.number for c, _ in found] == [rooms[written].number], asked
            markdown = search_results(found, wanted, 10, "!")
            shown = read_on_test_backend(render(markdown, Dialect.ERRBOT)).split("\n")
            assert shown[:2] == [
                f"1 conversation(s) mention '{wanted}':",
                f"#{rooms[written].number} Dana, waiting, 2024-05-06: Dana: {written}",
            ]
    finally:
        desk.close()


def test_a_relay_reads_a_flood_and_sets_aside_on_postgresql(store):
    for n in range(6):
        store.record_customer_message(customer_message("pg-flood", f"flood {n}"))
    store.record_customer_message(customer_message("pg-calm", "hello"))
    read = store.unrelayed(limit=10, per_conversation=2)
    assert [p.entry.body for p in read] == ["flood 0", "flood 1", "hello"]
    store.set_aside(read[0].entry.id)
    assert store.entry(read[0].entry.id).relay is Relay.SET_ASIDE
    assert store.count_unrelayed() == 6
