"""Instances lost without a word, on a real PostgreSQL server: who took their work over is
written once, and the active instance tells it once; a graceful stop is no loss.

The instances that die are real processes (``tests/instance_child.py``) killed with SIGKILL.
"""

from __future__ import annotations

import pytest

from errbot_instances.assignment import GroupAssignment
from errbot_instances.election import Election
from errbot_instances.losses import LossWatch
from errbot_instances.postgres import Liveness, connect
from errbot_instances.registry import Me
from tests.botrunner import wait_for
from tests.instance_fixtures import ChildInstance, Events

pytest.importorskip("psycopg", reason="the postgresql extra (psycopg) is not installed")

BOUND = 3.0
GROUPS = ("g1", "g2", "g3")


def losses(url: str) -> list[str]:
    with connect(url, Liveness()) as connection:
        return [said for (said,) in connection.execute("SELECT said FROM instance_losses")]


def test_a_killed_active_ones_loss_and_its_groups_are_told_once_and_who_took_over(
    postgres_database,
):
    events = Events()
    child = ChildInstance(postgres_database, BOUND, events, GROUPS)
    wait_for(lambda: events.of(child.id, "active") and events.of(child.id, "groups"), timeout=10)
    here = Election(postgres_database, liveness=Liveness(BOUND), me=Me(id="here")).start()
    groups = GroupAssignment(here, lambda added, removed: None, groups=GROUPS).start()
    told: list[str] = []
    watch = LossWatch(postgres_database, told.append, Liveness(BOUND))
    here.watch(watch.start, lambda why: watch.stop())
    try:
        child.kill()
        wait_for(lambda: len(told) == 2, timeout=BOUND * 2)
        took, shared = told
        assert took.startswith(f"Instance {child.id} on ")
        assert "the active one, was lost (silent for " in took
        me = f"here on {here.me.host} (pid {here.me.pid})"
        assert took.endswith(f"{me} took over as the active instance.")
        assert shared.startswith(f"Instance {child.id} on ")
        assert shared.endswith(
            f"was lost: its channel groups went to the others (g1, g2, g3 to {me})."
        )
        wait_for(lambda: groups.my_groups() == frozenset(GROUPS), timeout=BOUND * 2)
        assert losses(postgres_database) == told  # written once, told once
    finally:
        groups.stop()
        here.stop()
        child.close()


def test_a_graceful_stop_is_no_loss_and_a_silent_standby_is_told_once(postgres_database):
    events = Events()
    first = Election(postgres_database, liveness=Liveness(BOUND), me=Me(id="first")).start()
    wait_for(first.is_active, timeout=10)
    second = Election(postgres_database, liveness=Liveness(BOUND), me=Me(id="second")).start()
    told: list[str] = []
    watch = LossWatch(postgres_database, told.append, Liveness(BOUND))
    second.watch(watch.start, lambda why: watch.stop())
    standby = None
    try:
        wait_for(lambda: rows(postgres_database) == ["first", "second"], timeout=10)
        first.stop()  # graceful: handed over at once, and no loss
        wait_for(second.is_active, timeout=BOUND)
        standby = ChildInstance(postgres_database, BOUND, events)
        wait_for(lambda: standby.id in rows(postgres_database), timeout=10)
        standby.kill()  # a standby without groups, silent: the active one forgets it
        wait_for(lambda: told, timeout=BOUND * 2)
        host, pid = second.me.host, standby.process.pid
        assert told == [f"Instance {standby.id} on {host} (pid {pid}), standing by, was lost."]
        assert losses(postgres_database) == told
        assert rows(postgres_database) == ["second"]
    finally:
        second.stop()
        first.stop()
        if standby is not None:
            standby.close()


def rows(url: str) -> list[str]:
    with connect(url, Liveness()) as connection:
        return sorted(i for (i,) in connection.execute("SELECT id FROM instances"))
