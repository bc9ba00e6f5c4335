"""The shared infrastructure: the batch writer and the backoff (the engine factory is exercised
by every store test, on SQLite and PostgreSQL)."""

from __future__ import annotations

import threading

import pytest

from errbot_common.backoff import Backoff
from errbot_common.batch_writer import BatchWriter
from tests.botrunner import wait_for


class Sink:
    """Records each batch; refuses while ``broken`` is set; can hold a write in progress."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.broken = False
        self.hold = threading.Event()
        self.hold.set()
        self.writing = threading.Event()

    def write(self, batch: list[int]) -> None:
        self.writing.set()
        self.hold.wait(5)
        if self.broken:
            raise OSError("disk full")
        self.batches.append(list(batch))


def test_items_queued_while_a_batch_is_written_share_the_next_write() -> None:
    sink = Sink()
    writer: BatchWriter[int] = BatchWriter(sink.write, name="test-writer", interval=0.01)
    sink.hold.clear()
    writer.add([1])
    assert sink.writing.wait(5)
    writer.add([2])
    writer.add([3, 4])
    sink.hold.set()
    assert writer.wait_written(5)
    writer.close()
    assert sink.batches == [[1], [2, 3, 4]]


def test_a_refused_batch_stays_queued_in_order_and_is_written_later() -> None:
    sink = Sink()
    errors: list[Exception] = []
    writer: BatchWriter[int] = BatchWriter(
        sink.write, name="test-writer", interval=0.01, retry_after=0.01, on_error=errors.append
    )
    sink.broken = True
    writer.add([1, 2])
    wait_for(lambda: errors)
    assert not writer.wait_written(0.05)
    writer.add([3])
    sink.broken = False
    assert writer.wait_written(5)
    writer.close()
    assert [item for batch in sink.batches for item in batch] == [1, 2, 3]
    assert isinstance(errors[0], OSError)


def test_after_the_close_items_are_written_on_the_callers_thread() -> None:
    sink = Sink()
    writer: BatchWriter[int] = BatchWriter(sink.write, name="test-writer", interval=60)
    sink.broken = True
    writer.close()  # no thread: items after the close are written on the caller's thread
    with pytest.raises(OSError):
        writer.add([7])
    sink.broken = False
    writer.add([8])
    assert sink.batches == [[8]]


def test_close_writes_what_is_queued() -> None:
    sink = Sink()
    writer: BatchWriter[int] = BatchWriter(sink.write, name="test-writer", interval=60)
    sink.broken = True
    writer.add([1])
    wait_for(sink.writing.is_set)
    sink.broken = False
    writer.close(timeout=5)
    assert [item for batch in sink.batches for item in batch] == [1]


def test_the_backoff_doubles_up_to_its_cap_with_or_without_jitter() -> None:
    steady = Backoff(base=1, cap=5, jitter=False)
    assert [steady.delay(n) for n in range(1, 6)] == [1, 2, 4, 5, 5]
    jittered = Backoff(base=1, cap=5)
    assert all(0.5 * steady.delay(n) <= jittered.delay(n) <= steady.delay(n) for n in range(1, 9))
