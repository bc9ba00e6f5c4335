"""Several instances of the bot on one PostgreSQL database, each a real process
(:mod:`benchmarks.instance_bot`), started, killed and stopped by number; what reached their
agent rooms is gathered in one :class:`AgentRooms`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from benchmarks.marks import Inbox, Raw

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 180.0  # a bot starts in a few seconds; several at once on two busy cores, more


class AgentRooms:
    """The agent room as the agents see it, whichever instance posted: each arrival stamped in
    the instance's process, with the number of the instance that posted it."""

    def __init__(self) -> None:
        self._inbox = Inbox()
        self._posted: list[tuple[Raw, int]] = []
        self._lock = threading.Lock()

    def add(self, number: int, batch: Iterable[Raw]) -> None:
        with self._lock:
            for at, where, text in batch:
                self._inbox.add(at, where, text)
                self._posted.append(((at, where, text), number))

    def count(self, tag: str | None = None) -> int:
        return self._inbox.count(tag)

    def take(self) -> list[Raw]:
        """Everything so far (and forget it), as :class:`benchmarks.measure.Receiver` asks."""
        with self._lock:
            self._posted = []
            return self._inbox.take()

    def take_posted(self) -> list[tuple[Raw, int]]:
        """Everything so far with who posted it (and forget it)."""
        with self._lock:
            posted, self._posted = self._posted, []
            self._inbox.take()
            return posted


class InstanceBots:
    """Bots of one configuration on the database ``database``, sharing ``groups``."""

    def __init__(
        self,
        work: Path,
        *,
        origin: str,
        database: str,
        groups: list[str],
        takeover_seconds: float,
        rooms: AgentRooms,
    ) -> None:
        """Every bot is configured with all of ``groups``, as every instance of one
        configuration is."""
        self.work = work
        self.database = database
        self.groups = groups
        self.rooms = rooms
        self._settings = {
            "origin": origin,
            "database": database,
            "takeover_seconds": takeover_seconds,
        }
        self.processes: dict[int, subprocess.Popen[str]] = {}
        self._ready: dict[int, threading.Event] = {}
        self._logs: list[Any] = []

    # ------------------------------------------------------------------ processes

    def start(self, numbers: Iterable[int]) -> float:
        """Start the bots ``numbers`` at once and wait until each is up; the seconds it took."""
        started = time.monotonic()
        numbers = list(numbers)
        for number in numbers:
            self._spawn(number)
        for number in numbers:
            while not self._ready[number].wait(0.2):
                if self.processes[number].poll() is not None or (
                    time.monotonic() - started > START_TIMEOUT
                ):
                    raise RuntimeError(f"bot {number} did not start; see {self._log_path(number)}")
        return round(time.monotonic() - started, 2)

    def _log_path(self, number: int) -> Path:
        return self.work / f"bot-{number}.log"

    def _spawn(self, number: int) -> None:
        given = {
            **self._settings,
            "groups": self.groups,
            "number": number,
            "data_dir": str(self.work / f"bot-{number}"),
        }
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        log = self._log_path(number).open("a")
        self._logs.append(log)
        process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.instance_bot", json.dumps(given)],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=env,
        )
        self.processes[number] = process
        self._ready[number] = threading.Event()
        threading.Thread(
            target=self._read, args=(number, process), name=f"bot-{number}-out", daemon=True
        ).start()

    def _read(self, number: int, process: subprocess.Popen[str]) -> None:
        for line in process.stdout:
            said = json.loads(line)
            if "ready" in said:
                self._ready[number].set()
            elif "room" in said:
                self.rooms.add(number, [tuple(raw) for raw in said["room"]])

    def kill(self, number: int) -> float:
        """``kill -9``; the moment (``time.time()``) just before."""
        at = time.time()
        self.processes[number].send_signal(signal.SIGKILL)
        self.processes[number].wait(30)
        return at

    def live(self) -> set[int]:
        return {n for n, p in self.processes.items() if p.poll() is None}

    def pid(self, number: int) -> int:
        return self.processes[number].pid

    def close(self) -> None:
        """Stop every bot still running, as ``errbot`` is stopped (SIGTERM)."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        for log in self._logs:
            log.close()

    # ------------------------------------------------------------------ the shared database

    def query(self, statement: str, *parameters: Any) -> list[tuple]:
        import psycopg

        from errbot_instances.postgres import conninfo

        with psycopg.connect(conninfo(self.database), autocommit=True) as connection:
            try:
                return connection.execute(statement, parameters or None).fetchall()
            except psycopg.errors.UndefinedTable:
                return []

    def _number_of(self, pid: int) -> int | None:
        return next((n for n, p in self.processes.items() if p.pid == pid), None)

    def active(self) -> int | None:
        """The live bot the database says is active, if exactly one is."""
        live = {self.pid(n) for n in self.live()}
        rows = self.query("SELECT pid FROM instances WHERE role = 'active'")
        found = [pid for (pid,) in rows if pid in live]
        return self._number_of(found[0]) if len(found) == 1 else None

    def holders(self) -> dict[str, int | None]:
        """Each group settled on one instance (none handing it over): the bot's number."""
        rows = self.query(
            "SELECT g.name, i.pid FROM instance_groups g JOIN instances i ON i.id = g.holder"
            " WHERE g.holder = g.target"
        )
        return {name: self._number_of(pid) for name, pid in rows}

    def settled(self, numbers: Iterable[int]) -> bool:
        """Whether exactly the bots ``numbers`` take groups in, each group held by one of them
        and none being handed over."""
        wanted = {self.pid(n) for n in numbers}
        taking = {pid for (pid,) in self.query("SELECT pid FROM instances WHERE intake")}
        holders = self.holders()
        return (
            taking == wanted
            and set(holders) == set(self.groups)
            and {self.pid(n) for n in holders.values() if n is not None} <= wanted
            and None not in holders.values()
        )


def wait_until(condition: Callable[[], Any], timeout: float, interval: float = 0.05) -> float:
    """Wait until ``condition()`` holds; the ``time.time()`` it was seen. Raises on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return time.time()
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout:g} s: {getattr(condition, '__doc__', '')}")
        time.sleep(interval)
