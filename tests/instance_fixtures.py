"""Instances for the tests: in this process, or in a process of their own to kill for real."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.botrunner import wait_for

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Events:
    """What instances did, in ``time.monotonic()`` order once sorted: (t, instance, event,
    details). Appended to from several threads and, through :class:`ChildInstance`, from
    other processes."""

    log: list[tuple[float, str, str, dict]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, instance: str, event: str, t: float | None = None, **details: Any) -> None:
        with self._lock:
            self.log.append((time.monotonic() if t is None else t, instance, event, details))

    def of(self, instance: str, event: str) -> list[tuple[float, dict]]:
        with self._lock:
            return [(t, d) for t, i, e, d in self.log if i == instance and e == event]

    def sorted(self) -> list[tuple[float, str, str, dict]]:
        with self._lock:
            return sorted(self.log, key=lambda e: e[0])


class ChildInstance:
    """``tests/instance_child.py`` in a process of its own, its events fed into ``events``."""

    def __init__(self, url: str, bound: float, events: Events, groups: tuple[str, ...] = ()):
        self.events = events
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.instance_child", url, str(bound), *groups],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        self._ids: queue.Queue[str] = queue.Queue()
        self.id = ""
        threading.Thread(target=self._read, daemon=True).start()
        self._ids.get(timeout=30)

    def _read(self) -> None:
        for line in self.process.stdout:
            said = json.loads(line)
            event, t = said.pop("event"), said.pop("t")
            if event == "id":
                self.id = said["id"]
                self._ids.put(self.id)
            else:
                self.events.add(self.id, event, t, **said)

    def signal(self, number: int) -> float:
        """Send ``number``; the moment just before."""
        t = time.monotonic()
        self.process.send_signal(number)
        return t

    def kill(self) -> float:
        """SIGKILL, waited for; the moment just before it was sent."""
        t = self.signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        return t

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


def within(seconds: float, predicate: Callable[[], Any]) -> float:
    """Wait until ``predicate()`` holds, for at most ``seconds``; the moment it was seen."""
    wait_for(predicate, timeout=seconds, interval=0.02)
    return time.monotonic()
