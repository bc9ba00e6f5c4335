"""Lines of standard input that neither block a stop nor Ctrl-C.

A thread blocked reading a file cannot be interrupted: it holds the stream's lock (at exit the
interpreter aborts waiting for it when the stream is a pipe), and a main thread blocked so runs
Python's Ctrl-C handler only at the next line when the system hands the signal to another of
the process's threads. :class:`StoppableLines` waits for input a moment at a time instead.
"""

from __future__ import annotations

import io
import os
import select
import threading

POLL_INTERVAL = 0.2  # seconds: how soon a stop, or Ctrl-C on another thread, is noticed


class StoppableLines(io.TextIOBase):
    """Lines read from a file descriptor until :meth:`stop`, which reads as end of input."""

    def __init__(self, descriptor: int, encoding: str) -> None:
        super().__init__()
        self._descriptor = descriptor
        self._encoding = encoding
        self._pending = b""
        self._stopped = threading.Event()

    @property
    def encoding(self) -> str:
        return self._encoding

    def readable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def stop(self) -> None:
        self._stopped.set()

    def readline(self, size: int | None = -1) -> str:
        while b"\n" not in self._pending:
            if self._stopped.is_set():
                return ""
            ready, _, _ = select.select([self._descriptor], [], [], POLL_INTERVAL)
            if not ready:
                continue
            chunk = os.read(self._descriptor, 4096)
            if not chunk:  # end of input: hand over what is left, then ""
                rest, self._pending = self._pending, b""
                return rest.decode(self._encoding, errors="replace")
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return (line + b"\n").decode(self._encoding, errors="replace")
