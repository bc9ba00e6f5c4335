"""The thread pools of the bots a test started are stopped once those bots are gone.

Errbot makes two thread pools per bot (``ErrBot.thread_pool`` for commands and its flow
executor's) and never stops them: it registers their ``close`` with ``atexit``, which also keeps
them, and the two pipes each holds, alive until the process ends. One bot a process is what
Errbot is made for; the suite starts hundreds in one process (the Bridge makes a bot of every
network it hosts), and past about a thousand open files new sockets get numbers that
``select()`` refuses, which stops the ``irc`` library's reactor. So after each test the suite
stops the pools of every bot nothing refers to any more. This is the one place the suite
reaches into Errbot's pools; ``tests/test_errbot_pools.py`` fails if they move.
"""

from __future__ import annotations

import atexit
import gc
import os
import weakref
from collections.abc import Iterator
from multiprocessing.pool import Pool

import pytest
from errbot.core import ErrBot

#: Open files past which the sweep after a test first collects garbage (bots in cycles).
FILES_WORTH_A_COLLECTION = 256

_bots: list[tuple[weakref.ref[ErrBot], list[Pool]]] = []


def pools_of(bot: ErrBot) -> list[Pool]:
    flows = getattr(bot, "flow_executor", None)
    found = [getattr(bot, "thread_pool", None), getattr(flows, "_pool", None)]
    return [pool for pool in found if isinstance(pool, Pool)]


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


def release_pools_of_gone_bots() -> int:
    """Stop the pools of the bots no longer referred to; how many bots that was."""
    if open_files() > FILES_WORTH_A_COLLECTION:
        gc.collect()
    gone = [entry for entry in _bots if entry[0]() is None]
    for entry in gone:
        _bots.remove(entry)
        for pool in entry[1]:
            atexit.unregister(pool.close)
            pool.terminate()
            pool.join()
    return len(gone)


@pytest.fixture(scope="session", autouse=True)
def bots_are_recorded() -> Iterator[None]:
    init = ErrBot.__init__

    def init_and_record(self: ErrBot, *args: object, **kwargs: object) -> None:
        init(self, *args, **kwargs)
        _bots.append((weakref.ref(self), pools_of(self)))

    ErrBot.__init__ = init_and_record  # type: ignore[method-assign]
    try:
        yield
    finally:
        ErrBot.__init__ = init  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def gone_bots_release_their_pools() -> Iterator[None]:
    yield
    release_pools_of_gone_bots()
