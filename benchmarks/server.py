"""The local PubNub server in a process of its own (it would otherwise share the measured
process's interpreter lock), started exactly as ``make emulator`` starts it."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

from errbot_pubnub.emulator import RemoteEmulator

_LISTENING = re.compile(r"PubNub emulator on http://(?P<origin>[\d.]+:\d+)")


class ServerProcess:
    def __init__(self, log_file: Path, start_timeout: float = 30.0) -> None:
        self.log_file = log_file
        self._log = log_file.open("w")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "errbot_pubnub.emulator", "--host", "127.0.0.1", "--port", "0"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.pid = self._process.pid
        self.origin = self._wait_listening(start_timeout)
        self.control = RemoteEmulator(self.origin)

    def _wait_listening(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = _LISTENING.search(self.log_file.read_text())
            if found:
                return found["origin"]
            if self._process.poll() is not None:
                break
            time.sleep(0.05)
        self.close()
        raise RuntimeError(f"the PubNub server did not start; see {self.log_file}")

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
        self._log.close()
