"""The plugin and the backend of one bot join one instance, however many times they ask."""

from __future__ import annotations

import pytest

from errbot_instances.election import Alone, Election
from errbot_instances.postgres import Liveness, connect
from errbot_instances.process import join, leave, me, stopping
from errbot_instances.registry import Me
from tests.botrunner import wait_for
from tests.instance_fixtures import Events

pytest.importorskip("psycopg", reason="the postgresql extra (psycopg) is not installed")


def test_one_election_per_database_watched_by_both_and_stopped_by_the_last_leave(
    postgres_database,
):
    events = Events()
    plugin = join(postgres_database)
    backend = join(postgres_database)
    assert plugin is backend and isinstance(plugin, Election)
    stop_watching = plugin.watch(
        lambda: events.add("plugin", "active"),
        lambda why: events.add("plugin", "inactive", why=why),
    )
    wait_for(lambda: events.of("plugin", "active"), timeout=10)
    # A watcher added while it is active is told at once.
    backend.watch(lambda: events.add("backend", "active"))
    assert len(events.of("backend", "active")) == 1
    with connect(postgres_database, Liveness()) as connection:
        assert connection.execute("SELECT count(*) FROM instances").fetchone() == (1,)

    leave(backend)
    assert plugin.is_active()  # the plugin still holds it
    stop_watching()
    leave(plugin)
    assert not plugin.is_active()
    assert events.of("plugin", "inactive") == []  # it stopped watching before
    with connect(postgres_database, Liveness()) as connection:
        assert connection.execute("SELECT count(*) FROM instances").fetchone() == (0,)
    leave(plugin)  # once more: nothing
    again = join(postgres_database)
    assert again is not plugin  # a new instance after the last leave
    leave(again)
    assert not again.is_active()


def test_on_sqlite_the_process_is_the_only_instance(tmp_path):
    url = f"sqlite:///{tmp_path / 'support.sqlite'}"
    alone = join(url)
    assert isinstance(alone, Alone) and alone.is_active()
    told = []
    alone.watch(lambda: told.append("active"), told.append)
    leave(alone)
    assert told == ["active", "this instance is stopping"]


def test_a_process_stopping_hands_its_role_over_before_its_parts_leave(postgres_database):
    """``stopping`` (the PubNub backend's stop, first thing) hands the role to another
    instance while the plugin and the backend still hold the process's instance, with the
    identity the plugin names on what it sends."""
    events = Events()
    mine = join(postgres_database, Liveness(3.0))
    assert mine.me is me(postgres_database)
    mine.watch(lambda: events.add("mine", "active"), lambda why: events.add("mine", "out", why=why))
    wait_for(lambda: events.of("mine", "active"), timeout=10)
    other = Election(postgres_database, liveness=Liveness(3.0), me=Me(id="other")).start()
    try:
        wait_for(lambda: other.confirmed_at() > float("-inf"), timeout=10)
        stopping(postgres_database)
        assert [said for _, said in events.of("mine", "out")] == [
            {"why": "this instance is stopping"}
        ]
        wait_for(other.is_active, timeout=10)  # while this process's instance still beats
        assert not mine.is_active()
        stopping(postgres_database)  # again: nothing more
        assert len(events.of("mine", "out")) == 1
    finally:
        leave(mine)
        other.stop()
