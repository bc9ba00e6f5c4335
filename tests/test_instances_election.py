"""One active instance among several on a real PostgreSQL server, and takeover when it dies.

The holders that die are real processes (``tests/instance_child.py``) killed with SIGKILL or
frozen with SIGSTOP; the bound within which another takes over is the 10 s of the default
:class:`Liveness`.
"""

from __future__ import annotations

import itertools
import signal
import time

import pytest

from errbot_instances.election import Alone, Election, elect
from errbot_instances.postgres import Liveness, connect
from tests.botrunner import wait_for
from tests.instance_fixtures import ChildInstance, Events, within

pytest.importorskip("psycopg", reason="the postgresql extra (psycopg) is not installed")

BOUND = 10.0


def in_process(url: str, events: Events, name: str, bound: float = BOUND) -> Election:
    return Election(
        url,
        on_active=lambda: events.add(name, "active"),
        on_inactive=lambda why: events.add(name, "inactive", why=why),
        liveness=Liveness(bound),
    )


def active_spans(events: Events, instance: str, until: float) -> list[tuple[float, float]]:
    """When ``instance`` was active: from each ``active`` to the next ``inactive``."""
    spans, began = [], None
    for t, who, event, _ in events.sorted():
        if who == instance and event == "active":
            began = t
        elif who == instance and event == "inactive" and began is not None:
            spans.append((began, t))
            began = None
    if began is not None:
        spans.append((began, until))
    return spans


def test_one_of_three_is_active_and_a_graceful_stop_hands_over_at_once(postgres_database):
    events = Events()
    elections = {name: in_process(postgres_database, events, name).start() for name in "abc"}
    try:
        within(BOUND, lambda: sum(e.is_active() for e in elections.values()) == 1)
        [first] = [name for name, e in elections.items() if e.is_active()]

        # The rows say the same (once the other two have written theirs, which each does as it
        # starts): one active, two standing by.
        def roles() -> dict[str, str]:
            with connect(postgres_database, Liveness()) as connection:
                return dict(connection.execute("SELECT id, role FROM instances").fetchall())

        within(BOUND, lambda: sorted(roles().values()) == ["active", "standby", "standby"])
        assert roles()[elections[first].id] == "active"

        stopped = time.monotonic()
        elections.pop(first).stop()
        assert events.of(first, "inactive")[-1][1] == {"why": "this instance is stopping"}
        # Handed over at once: within a few heartbeats, far inside the bound.
        took_over = within(BOUND, lambda: any(e.is_active() for e in elections.values()))
        assert took_over - stopped < BOUND / 2
        assert sum(e.is_active() for e in elections.values()) == 1
        with connect(postgres_database, Liveness()) as connection:
            ids = {row[0] for row in connection.execute("SELECT id FROM instances")}
        assert ids == {e.id for e in elections.values()}  # the stopped one's row is gone
    finally:
        for election in elections.values():
            election.stop()
    spans = sorted(s for name in "abc" for s in active_spans(events, name, time.monotonic()))
    assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(spans))


def test_a_killed_active_instance_is_replaced_within_the_bound(postgres_database):
    events = Events()
    child = ChildInstance(postgres_database, BOUND, events)
    standby = None
    try:
        within(BOUND, lambda: events.of(child.id, "active"))
        standby = in_process(postgres_database, events, "standby").start()
        # Standing by while the other holds the lock.
        within(BOUND, lambda: standby.confirmed_at() > float("-inf"))
        assert not standby.is_active()

        killed = child.kill()
        took_over = within(BOUND, standby.is_active)
        assert took_over - killed <= BOUND
        assert all(t < killed for t, _ in events.of(child.id, "act"))
        assert events.of(child.id, "act")  # it did act while it was the active one
    finally:
        child.close()
        if standby is not None:
            standby.stop()


def test_a_frozen_active_instance_is_replaced_and_does_not_act_when_it_wakes(postgres_database):
    """A frozen process keeps its socket open: the server only lets its lock go when the
    session has been idle too long (``idle_session_timeout``)."""
    events = Events()
    child = ChildInstance(postgres_database, BOUND, events)
    standby = None
    try:
        within(BOUND, lambda: events.of(child.id, "active"))
        standby = in_process(postgres_database, events, "standby").start()
        frozen = child.signal(signal.SIGSTOP)
        took_over = within(BOUND + 5, standby.is_active)
        assert took_over - frozen <= BOUND
        child.signal(signal.SIGCONT)
        # On waking it finds its heartbeat unconfirmed too long and stops acting.
        [(_, said)] = wait_for(lambda: events.of(child.id, "inactive"), timeout=BOUND)
        assert said["why"] == f"no heartbeat confirmed for {Liveness(BOUND).fence:g} s" or said[
            "why"
        ].startswith("the database connection failed")
        [(became_active, _)] = events.of("standby", "active")
        assert not [t for t, _ in events.of(child.id, "act") if t >= became_active]
        assert standby.is_active()
    finally:
        child.signal(signal.SIGCONT)
        child.close()
        if standby is not None:
            standby.stop()


def test_losing_the_connection_stops_acting_at_once(postgres_database):
    events = Events()
    election = in_process(postgres_database, events, "a").start()
    try:
        within(BOUND, election.is_active)
        with connect(postgres_database, Liveness()) as connection:
            connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks"
                " WHERE locktype = 'advisory' AND granted"
            )
        [(_, said)] = wait_for(lambda: events.of("a", "inactive"), timeout=BOUND)
        assert said["why"].startswith("the database connection failed")
        # It stands again and, alone, becomes active again on a new session.
        within(BOUND, lambda: len(events.of("a", "active")) == 2)
    finally:
        election.stop()


def test_a_bound_too_small_is_refused():
    with pytest.raises(ValueError, match="at least 2 seconds"):
        Liveness(0.5)


def test_on_sqlite_the_one_instance_is_active_from_start_to_stop(tmp_path, postgres_database):
    events = Events()
    alone = elect(
        f"sqlite:///{tmp_path / 'support.sqlite'}",
        on_active=lambda: events.add("alone", "active"),
        on_inactive=lambda why: events.add("alone", "inactive", why=why),
    )
    assert isinstance(alone, Alone) and not alone.is_active()
    alone.start()
    assert alone.is_active() and len(events.of("alone", "active")) == 1
    alone.stop()
    alone.stop()
    assert not alone.is_active()
    assert [said for _, said in events.of("alone", "inactive")] == [
        {"why": "this instance is stopping"}
    ]
    assert isinstance(elect(postgres_database), Election)


def roles_of(url: str) -> dict[str, str]:
    with connect(url, Liveness()) as connection:
        return dict(connection.execute("SELECT id, role FROM instances").fetchall())


def test_a_graceful_stop_hands_the_role_over_before_the_rest_of_the_instance_stops(
    postgres_database,
):
    """``step_down`` is the first thing a stopping bot does: it stops acting, its row says it
    stands by, then the lock is free; another takes over while the first still beats (its
    networks and channel groups still stopping), and nobody counts it lost."""
    events = Events()
    first = in_process(postgres_database, events, "first").start()
    second = None
    try:
        within(BOUND, first.is_active)
        second = in_process(postgres_database, events, "second").start()
        wanted = {first.id: "active", second.id: "standby"}
        within(BOUND, lambda: roles_of(postgres_database) == wanted)

        assert first.step_down()  # returns once the lock is free
        [(stepped_down, said)] = events.of("first", "inactive")
        assert said == {"why": "this instance is stopping"}
        assert roles_of(postgres_database)[first.id] == "standby"
        within(BOUND, second.is_active)
        [(took_over, _)] = events.of("second", "active")
        assert stepped_down < took_over
        # The first one is still there, beating, and never takes the role back.
        beat = first.confirmed_at()
        within(BOUND, lambda: first.confirmed_at() > beat)
        assert not first.is_active()
        assert roles_of(postgres_database) == {first.id: "standby", second.id: "active"}
        with connect(postgres_database, Liveness()) as connection:
            assert connection.execute("SELECT said FROM instance_losses").fetchall() == []
        first.stop()
        assert len(events.of("first", "active")) == 1
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_a_graceful_stop_with_nobody_to_take_over_keeps_acting_until_it_ends(postgres_database):
    events = Events()
    alone = in_process(postgres_database, events, "alone").start()
    try:
        within(BOUND, alone.is_active)
        assert not alone.step_down()
        assert alone.is_active() and events.of("alone", "inactive") == []
    finally:
        alone.stop()
    assert [said for _, said in events.of("alone", "inactive")] == [
        {"why": "this instance is stopping"}
    ]
