"""One bot per SQLite database: a second one refuses to start, in one sentence.

Checked on the lock alone (in this process, and across a process killed with SIGKILL, whose
lock the operating system lets go) and on the Support plugin: two bots on one data folder.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

import pytest

from errbot_instances.sole import AlreadyServed, SoleInstance, lock_file_of
from tests.botrunner import wait_for
from tests.support_fixtures import refused_activation, support_bot

HOLD_AND_WAIT = textwrap.dedent(
    """
    import sys, time
    from errbot_instances.sole import SoleInstance
    SoleInstance.hold(sys.argv[1])
    print("holding", flush=True)
    time.sleep(600)
    """
)


def test_the_second_holder_is_refused_until_the_first_lets_go(tmp_path):
    database = tmp_path / "support.sqlite"
    url = f"sqlite:///{database}"
    first = SoleInstance.hold(url)
    with pytest.raises(AlreadyServed) as refused:
        SoleInstance.hold(url)
    said = str(refused.value)
    assert said == (
        f"Another bot (process {os.getpid()} on {socket.gethostname()}) already uses "
        f"{database}, and an SQLite database serves one bot at a time: stop that bot first, "
        "or put both on PostgreSQL (SUPPORT_DB_URL) to run several"
    )
    assert lock_file_of(database).exists()
    first.release()
    SoleInstance.hold(url).release()
    # Another database in the same folder is another matter.
    other = SoleInstance.hold(f"sqlite:///{tmp_path / 'other.sqlite'}")
    SoleInstance.hold(url).release()
    other.release()


def test_a_killed_holders_lock_is_let_go_by_the_operating_system(tmp_path):
    url = f"sqlite:///{tmp_path / 'support.sqlite'}"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_AND_WAIT, url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline() == "holding\n"
        with pytest.raises(AlreadyServed, match=f"process {holder.pid} on "):
            SoleInstance.hold(url)
        holder.kill()
        holder.wait(timeout=30)
        SoleInstance.hold(url).release()
    finally:
        holder.kill()
        holder.wait(timeout=30)


def test_nothing_to_lock_for_postgresql_or_memory():
    assert SoleInstance.hold("postgresql+psycopg://u@127.0.0.1/db") is None
    assert SoleInstance.hold("sqlite://") is None
    assert SoleInstance.hold("sqlite:///:memory:") is None


def test_a_second_bot_on_the_same_sqlite_database_refuses_to_activate_support(tmp_path):
    with support_bot(tmp_path) as first:
        line = refused_activation(tmp_path, "already uses")
        assert line == (
            "Error: Support failed to activate: Support failed to start : "
            f"Another bot (process {os.getpid()} on "
            f"{socket.gethostname()}) already uses {tmp_path / 'support.sqlite'}, and an "
            "SQLite database serves one bot at a time: stop that bot first, or put both on "
            "PostgreSQL (SUPPORT_DB_URL) to run several.."  # Errbot adds the dots
        )
        # The first one serves on, undisturbed.
        assert first.command("alice", "!queue") == "No open conversations."
    # Once it has stopped, a bot on the same folder starts.
    with support_bot(tmp_path) as again:
        wait_for(lambda: again.command("alice", "!queue") == "No open conversations.")
