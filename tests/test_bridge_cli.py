"""The ``errbot`` command itself running a Bridge of ``Text`` (this process's pipe) and IRC.

Only a separate process shows what an operator sees: discovery through the installed entry
points, ``config.py`` loading, Ctrl-C (SIGINT), ``docker stop`` (SIGTERM), end of input, and
a clean interpreter exit while Text waits for a line.
"""

from __future__ import annotations

import contextlib
import os
import pty
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.botrunner import wait_for
from tests.bridge_fixtures import CORE_PLUGINS, RELAY_PLUGIN_DIR
from tests.irc_fixtures import IRCServer

ERRBOT = Path(sys.executable).parent / "errbot"


def write_config(folder: Path, server: IRCServer) -> Path:
    data = folder / "data"
    data.mkdir()
    config = folder / "config.py"
    config.write_text(
        textwrap.dedent(
            f"""
            import logging

            BACKEND = "Bridge"
            BOT_DATA_DIR = {str(data)!r}
            BOT_LOG_FILE = {str(folder / "errbot.log")!r}
            BOT_LOG_LEVEL = logging.INFO
            BOT_EXTRA_PLUGIN_DIR = {str(RELAY_PLUGIN_DIR)!r}
            CORE_PLUGINS = {CORE_PLUGINS!r}
            STORAGE = "Memory"
            BOT_ADMINS = ("console:@admin",)
            RELAY_PAIRS = (("console:@admin", "agents:#relay"),)
            BRIDGE_BACKENDS = {{
                "console": {{"BACKEND": "Text"}},
                "agents": {{
                    "BACKEND": "IRC",
                    "BOT_IDENTITY": {server.identity("errbot")!r},
                    "IRC_CHANNEL_RATE": 0,
                    "IRC_PRIVATE_RATE": 0,
                    "CHATROOM_PRESENCE": ("#relay",),
                }},
            }}
            """
        )
    )
    return config


class Output:
    """Everything a process writes to one file descriptor, read on a thread as it comes."""

    def __init__(self, descriptor: int) -> None:
        self._chunks: list[bytes] = []
        self._thread = threading.Thread(target=self._read, args=(descriptor,), daemon=True)
        self._thread.start()

    def _read(self, descriptor: int) -> None:
        while True:
            try:
                chunk = os.read(descriptor, 4096)
            except OSError:  # a terminal whose other side has closed
                return
            if not chunk:
                return
            self._chunks.append(chunk)

    @property
    def text(self) -> str:
        return b"".join(self._chunks).decode(errors="replace")

    def finish(self) -> str:
        self._thread.join(timeout=10)
        return self.text


class Console:
    """The operator's side of standard input and output: pipes, or a terminal."""

    def __init__(self, terminal: bool) -> None:
        self.terminal = terminal
        if terminal:
            self._ours, self._theirs = pty.openpty()
        else:
            self._stdin_read, self._ours = os.pipe()
            self._stdout_read, self._stdout_write = os.pipe()

    def spawn(self, command: list[str], folder: Path) -> subprocess.Popen[bytes]:
        if self.terminal:
            stdin = stdout = self._theirs
        else:
            stdin, stdout = self._stdin_read, self._stdout_write
        process = subprocess.Popen(
            command, cwd=folder, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE
        )
        for descriptor in {stdin, stdout}:
            os.close(descriptor)  # the bot holds them now
        self.output = Output(self._ours if self.terminal else self._stdout_read)
        return process

    def type(self, text: str) -> None:
        os.write(self._ours, text.encode())

    def end_of_input(self) -> None:
        os.close(self._ours)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._ours)
        if not self.terminal:
            with contextlib.suppress(OSError):
                os.close(self._stdout_read)


@pytest.mark.parametrize(
    ("ending", "terminal"),
    [("SIGINT", False), ("SIGTERM", False), ("end of input", False), ("SIGINT", True)],
    ids=["SIGINT", "SIGTERM", "end-of-input", "SIGINT-on-a-terminal"],
)
def test_errbot_serves_a_bridge_and_stops_cleanly(
    tmp_path: Path, irc_server: IRCServer, irc_client: Any, ending: str, terminal: bool
) -> None:
    agent = irc_client("agent")
    agent.join("#relay")
    console = Console(terminal)
    process = console.spawn([str(ERRBOT), "-c", str(write_config(tmp_path, irc_server))], tmp_path)
    stderr = Output(process.stderr.fileno()) if process.stderr else None
    try:
        agent.wait_for_join("errbot", "#relay")  # every network is up, plugins are active
        console.type("!whereami\nhello from the console\n")
        wait_for(
            lambda: "network=console from=console:@admin roundtrip=True" in console.output.text
        )
        assert agent.wait_for_text("#relay", "on console: hello from the console")
        if ending == "end of input":
            console.end_of_input()  # Ctrl-D: Text ends, and with it the bot
        else:
            process.send_signal(getattr(signal, ending))
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        console.close()
    errors = stderr.finish() if stderr else ""
    assert "Fatal Python error" not in errors and "Traceback" not in errors, errors
    assert agent.wait_for(lambda line: line.command == "QUIT" and line.nick == "errbot")
    log = (tmp_path / "errbot.log").read_text()
    assert "The Bridge has stopped." in log
    assert "did not stop within" not in log
    if terminal:  # input() on a terminal cannot be interrupted: it is left behind, harmlessly
        assert "cannot be interrupted" in log
    else:
        assert 'The "console" network (Text) has stopped.' in log
