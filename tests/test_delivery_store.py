"""The delivery database on a real SQLite file: cursors, the deduplication window and the resume
point survive a restart; acknowledgements are written in batches; dead letters are kept."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from errbot_pubnub.dead_letters import DeadLetter, DurableDeadLetters
from errbot_pubnub.delivery import DurableDeliveries
from errbot_pubnub.delivery_store import DeliveryDatabase, DeliveryState, recent_deliveries
from errbot_pubnub.settings import PubNubConfigurationError, read_settings
from tests.botrunner import wait_for

TT = 17_000_000_000_000_000


def open_tracker(path: Path, window: int = 1000) -> DurableDeliveries:
    return DurableDeliveries(DeliveryDatabase(f"sqlite:///{path}"), window)


def handled(tracker: DurableDeliveries, channel: str, *offsets: int) -> None:
    for offset in offsets:
        assert tracker.accept(channel, TT + offset)
        tracker.acknowledge(channel, TT + offset)


def test_cursors_and_repeats_survive_a_restart(tmp_path: Path) -> None:
    tracker = open_tracker(tmp_path / "d.sqlite")
    assert tracker.resume_timetoken() is None  # a first start
    handled(tracker, "a", 1, 2, 3)
    handled(tracker, "b", 5)
    assert not tracker.accept("a", TT + 2)  # a repeat while running
    tracker.caught_up(TT + 10)
    tracker.close()

    again = open_tracker(tmp_path / "d.sqlite")
    try:
        assert (again.last_handled("a"), again.last_handled("b")) == (TT + 3, TT + 5)
        assert again.last_handled("c") is None
        assert again.resume_timetoken() == TT + 10
        assert not again.accept("a", TT + 3)  # a repeat after the restart
        assert not again.accept("b", TT + 5)
        assert again.accept("a", TT + 4)
    finally:
        again.close()


def test_the_resume_point_waits_for_messages_still_in_flight(tmp_path: Path) -> None:
    path = tmp_path / "d.sqlite"
    tracker = open_tracker(path)
    try:
        assert tracker.accept("a", TT + 5)  # accepted, not yet handled
        tracker.caught_up(TT + 10)
        assert tracker.flush(5)
        assert DeliveryDatabase(f"sqlite:///{path}").load(10).resume_point is None
        tracker.acknowledge("a", TT + 5)
        wait_for(lambda: DeliveryDatabase(f"sqlite:///{path}").load(10).resume_point == TT + 10)
    finally:
        tracker.close()


def test_acknowledgements_share_commits_and_the_window_stays_bounded(tmp_path: Path) -> None:
    tracker = open_tracker(tmp_path / "d.sqlite", window=100)
    try:
        handled(tracker, "busy", *range(5000))
        assert tracker.flush(10)
        assert tracker.commits < 500  # far fewer transactions than acknowledgements
        with tracker.database.engine.connect() as connection:
            rows = connection.execute(select(func.count()).select_from(recent_deliveries))
            assert rows.scalar() == 100
        assert tracker.last_handled("busy") == TT + 4999
    finally:
        tracker.close()
    again = open_tracker(tmp_path / "d.sqlite", window=100)
    try:
        assert not again.accept("busy", TT + 4999)
        assert not again.accept("busy", TT + 4900)
    finally:
        again.close()


def test_dead_letters_are_kept_durably_and_bounded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'd.sqlite'}"
    box = DurableDeadLetters(DeliveryDatabase(url), limit=3)
    for n in range(5):
        box.add(DeadLetter("a", TT + n, "ann", {"n": n, "bad": [None, 1.5]}, f"reason {n}"))
    assert box.total == 5
    reopened = DurableDeadLetters(DeliveryDatabase(url), limit=3)
    letters = list(reopened)
    assert [letter.payload["n"] for letter in letters] == [2, 3, 4]
    assert letters[0].payload == {"n": 2, "bad": [None, 1.5]}
    assert (letters[0].channel, letters[0].publisher, letters[0].reason) == ("a", "ann", "reason 2")
    first = letters[0].id
    assert first is not None
    reopened.set_reason(first, "still broken")
    assert reopened.get(first).reason == "still broken"  # type: ignore[union-attr]
    assert reopened.remove(first)
    assert not reopened.remove(first)
    assert [letter.payload["n"] for letter in reopened.latest(5)] == [3, 4]


def test_the_database_setting(tmp_path: Path) -> None:
    keys = {"publish_key": "pub-c-1", "subscribe_key": "sub-c-1"}
    path = tmp_path / "state.sqlite"
    settings = read_settings(SimpleNamespace(BOT_IDENTITY=keys, PUBNUB_DELIVERY_DB_URL=str(path)))
    assert settings.delivery_db_url == f"sqlite:///{path}"
    with pytest.raises(PubNubConfigurationError) as refused:
        DeliveryDatabase("nonsense")
    assert str(refused.value).startswith("PUBNUB_DELIVERY_DB_URL 'nonsense' is not a database URL")
    with pytest.raises(PubNubConfigurationError, match="must be an SQLite or PostgreSQL URL"):
        DeliveryDatabase("mysql://localhost/x")
    unwritable = tmp_path / "file"
    unwritable.write_text("")
    with pytest.raises(PubNubConfigurationError, match="cannot be opened"):
        DeliveryDatabase(f"sqlite:///{unwritable}/sub/d.sqlite")


def stored(path: Path) -> DeliveryState:
    """What the database holds, read as another process would."""
    database = DeliveryDatabase(f"sqlite:///{path}")
    try:
        return database.load(10)
    finally:
        database.close()


def test_groups_keep_their_own_resume_point_and_an_old_database_falls_back_to_its_one(
    tmp_path: Path,
) -> None:
    path = tmp_path / "d.sqlite"
    old = open_tracker(path)  # a database written by one bot alone: one resume point
    old.caught_up(TT + 10)
    old.close()

    tracker = open_tracker(path)
    try:
        assert tracker.resume_timetoken("g1") == TT + 10  # the old one, until a group has its own
        assert tracker.accept("a", TT + 15)  # in flight: holds the groups' points back too
        tracker.caught_up(TT + 20, groups=["g1", "g2"])
        assert tracker.flush(5)
        assert stored(path).group_resume_points == {}
        tracker.acknowledge("a", TT + 15)
        wait_for(lambda: stored(path).group_resume_points)
        assert tracker.resume_timetoken("g1") == TT + 20
        assert tracker.resume_timetoken("g3") == TT + 10
        assert tracker.resume_timetoken() == TT + 10  # the keyset's own is left as it was
    finally:
        tracker.close()
    state = stored(path)
    assert (state.resume_point, state.group_resume_points) == (
        TT + 10,
        {"g1": TT + 20, "g2": TT + 20},
    )


def test_reload_reads_what_another_instance_recorded_meanwhile(tmp_path: Path) -> None:
    """Two instances on one database: the one taking a group over resumes where the other
    left it, channel by channel, and never goes back on its own newer cursors."""
    path = tmp_path / "d.sqlite"
    here, there = open_tracker(path), open_tracker(path)
    try:
        handled(here, "mine", 9)
        handled(there, "mine", 3)
        handled(there, "theirs", 1, 2)
        there.caught_up(TT + 50, groups=["g2"])
        assert there.flush(5) and here.flush(5)
        wait_for(lambda: stored(path).group_resume_points)
        assert (here.last_handled("theirs"), here.resume_timetoken("g2")) == (None, None)
        here.reload()
        assert here.last_handled("theirs") == TT + 2
        assert here.last_handled("mine") == TT + 9
        assert here.resume_timetoken("g2") == TT + 50
    finally:
        here.close()
        there.close()
