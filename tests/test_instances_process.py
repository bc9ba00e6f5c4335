"""The plugin and the backend of one bot join one instance, however many times they ask."""

from __future__ import annotations

import pytest

from errbot_instances.election import Alone, Election
from errbot_instances.postgres import Liveness, connect
from errbot_instances.process import join, leave
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
