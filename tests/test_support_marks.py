"""Relayed marks are written in batches, and a relay pass never takes a marked message for one
that waits."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from errbot_support.desk import Desk
from errbot_support.records import Relay
from errbot_support.relayed_marks import RelayedMarks
from tests.botrunner import wait_for
from tests.support_fixtures import *  # noqa: F403
from tests.support_fixtures import customer_message


class Database:
    """Stands in for the store's write, to see each batch and to make it wait or fail."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.writing = threading.Event()
        self.failures = 0

    def write(self, entry_ids: Sequence[int]) -> None:
        self.writing.set()
        assert self.gate.wait(10)
        if self.failures:
            self.failures -= 1
            raise RuntimeError("database is locked")
        self.batches.append(list(entry_ids))

    def written(self) -> list[int]:
        return [entry_id for batch in self.batches for entry_id in batch]


def test_marks_queued_while_a_batch_is_written_share_the_next_commit() -> None:
    database = Database()
    marks = RelayedMarks(database.write)
    try:
        database.gate.clear()
        marks.add([1])
        assert database.writing.wait(10)  # the writer is inside the first batch
        marks.add([2])
        marks.add([3, 4])
        database.gate.set()
        wait_for(lambda: database.written() == [1, 2, 3, 4])
        assert database.batches == [[1], [2, 3, 4]]
    finally:
        marks.close()


def test_a_refused_batch_is_kept_and_written_once_the_database_takes_it() -> None:
    database = Database()
    database.failures = 1
    marks = RelayedMarks(database.write)
    try:
        marks.add([5, 6])
        wait_for(lambda: database.batches == [[5, 6]])  # tried again after the refusal
    finally:
        marks.close()
    assert database.failures == 0


def test_close_writes_what_is_queued_and_later_marks_are_written_at_once() -> None:
    database = Database()
    marks = RelayedMarks(database.write)
    database.gate.clear()
    marks.add([1])
    assert database.writing.wait(10)
    marks.add([2])
    database.gate.set()
    marks.close()
    assert database.written() == [1, 2]
    marks.add([3])
    assert database.batches[-1] == [3]


def test_a_pass_right_after_a_relay_does_not_see_the_message_again(desk: Desk) -> None:
    first = desk.receive(customer_message(body="hello"))
    second = desk.receive(customer_message(body="still there?"))
    desk.mark_relayed(first.entry)
    # No waiting for the writer: reading what waits writes the queued marks first.
    assert [p.entry.body for p in desk.unrelayed()] == ["still there?"]
    desk.mark_relayed(second.entry)
    wait_for(lambda: desk.store.entry(second.entry.id).relay is Relay.RELAYED)
    assert desk.store.unrelayed() == []


def test_closing_the_desk_leaves_no_mark_unwritten(desk: Desk) -> None:
    recorded = desk.receive(customer_message(body="hello"))
    desk.mark_relayed(recorded.entry)
    desk.close()
    assert desk.store.entry(recorded.entry.id).relay is Relay.RELAYED
