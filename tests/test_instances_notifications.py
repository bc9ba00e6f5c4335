"""Hearing of a new customer message at commit: LISTEN/NOTIFY on a real PostgreSQL server."""

from __future__ import annotations

import queue
import threading

import pytest
from sqlalchemy import create_engine, text

from errbot_instances.notifications import (
    LISTENING,
    NOTIFIED,
    POLL,
    Wakeups,
    announce,
    check_channel,
)
from errbot_instances.postgres import Liveness, connect

pytest.importorskip("psycopg", reason="the postgresql extra (psycopg) is not installed")

CHANNEL = "support_new_message"
A_WHILE = 0.3  # how long "nothing came" is watched for, where nothing may come


class Heard:
    def __init__(self) -> None:
        self.wakes: queue.Queue[tuple[str, tuple[str, ...]]] = queue.Queue()

    def __call__(self, reason: str, payloads: tuple[str, ...]) -> None:
        self.wakes.put((reason, payloads))

    def next(self, timeout: float = 10.0) -> tuple[str, tuple[str, ...]]:
        return self.wakes.get(timeout=timeout)

    def nothing_for(self, seconds: float) -> bool:
        try:
            self.wakes.get(timeout=seconds)
        except queue.Empty:
            return True
        return False


@pytest.fixture
def engine(postgres_database):
    engine = create_engine(postgres_database)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE messages (body text)"))
    yield engine
    engine.dispose()


def record(connection, body: str) -> None:
    """What the store does: record, and announce in the same transaction."""
    connection.execute(text("INSERT INTO messages VALUES (:body)"), {"body": body})
    announce(connection, CHANNEL, body)


def test_the_listener_hears_at_commit_and_never_of_a_rolled_back_record(postgres_database, engine):
    heard = Heard()
    wakeups = Wakeups(postgres_database, CHANNEL, heard, poll=60).start()
    try:
        assert heard.next() == (LISTENING, ())

        with engine.connect() as connection:
            transaction = connection.begin()
            record(connection, "rolled back")
            transaction.rollback()
            transaction = connection.begin()
            record(connection, "first")
            assert heard.nothing_for(A_WHILE)  # not before the commit
            transaction.commit()
        assert heard.next() == (NOTIFIED, ("first",))

        with engine.begin() as connection:  # several in one transaction: one wake
            record(connection, "second")
            record(connection, "third")
        assert heard.next() == (NOTIFIED, ("second", "third"))
    finally:
        wakeups.stop()


def test_without_notifications_the_listener_wakes_on_its_fallback_poll(postgres_database):
    heard = Heard()
    wakeups = Wakeups(postgres_database, CHANNEL, heard, poll=0.2).start()
    try:
        assert heard.next() == (LISTENING, ())
        assert [heard.next(), heard.next()] == [(POLL, ()), (POLL, ())]
    finally:
        wakeups.stop()


def test_a_listener_whose_session_is_ended_listens_again_and_says_so(postgres_database, engine):
    heard = Heard()
    wakeups = Wakeups(postgres_database, CHANNEL, heard, poll=60).start()
    try:
        assert heard.next() == (LISTENING, ())
        with connect(postgres_database, Liveness()) as connection:
            ended = connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'"
            ).fetchall()
        assert ended == [(True,)]
        # Listening again: the wake says that something may have been missed meanwhile.
        assert heard.next() == (LISTENING, ())
        with engine.begin() as connection:
            record(connection, "after")
        assert heard.next() == (NOTIFIED, ("after",))
    finally:
        wakeups.stop()


def test_a_slow_callback_misses_nothing_of_what_came_meanwhile(postgres_database, engine):
    heard = Heard()
    both_recorded = threading.Event()

    def slow(reason, payloads):
        heard(reason, payloads)
        if payloads == ("1",):
            both_recorded.wait(10)  # the others arrive while this one is handled

    wakeups = Wakeups(postgres_database, CHANNEL, slow, poll=60).start()
    try:
        assert heard.next() == (LISTENING, ())
        with engine.begin() as connection:
            record(connection, "1")
        assert heard.next() == (NOTIFIED, ("1",))
        for body in ("2", "3"):
            with engine.begin() as connection:
                record(connection, body)
        both_recorded.set()
        # What came meanwhile follows, in order, each once: in one wake if both had reached
        # the listener's socket by then (PostgreSQL sends them shortly after each commit).
        later = [heard.next()]
        if later[0][1] == ("2",):
            later.append(heard.next())
        assert {reason for reason, _ in later} == {NOTIFIED}
        assert [p for _, payloads in later for p in payloads] == ["2", "3"]
        assert heard.nothing_for(A_WHILE)
    finally:
        wakeups.stop()


def test_on_sqlite_announcing_does_nothing(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'one.sqlite'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE messages (body text)"))
        record(connection, "alone")
        assert connection.execute(text("SELECT body FROM messages")).scalar() == "alone"
    engine.dispose()


def test_bad_channel_names_and_poll_intervals_are_refused_in_one_sentence(postgres_database):
    with pytest.raises(ValueError, match="at most 63 bytes"):
        check_channel("x" * 64)
    with pytest.raises(ValueError, match="non-empty name"):
        check_channel("")
    with pytest.raises(ValueError, match="positive number of seconds"):
        Wakeups(postgres_database, CHANNEL, lambda *_: None, poll=0)
