"""The local PubNub server's command line: serves until SIGTERM, refuses bad options."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading

from click.testing import CliRunner

from errbot_pubnub.emulator import RemoteEmulator
from errbot_pubnub.emulator.__main__ import main
from tests.pubnub_fixtures import PUBLISH_KEY, SUBSCRIBE_KEY


def read_lines(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)


def wait_for_line(lines: queue.Queue, pattern: str) -> re.Match:
    while True:
        match = re.search(pattern, lines.get(timeout=20))
        if match:
            return match


def test_serves_the_sdk_until_sigterm(pubnub_client):
    process = subprocess.Popen(
        [sys.executable, "-m", "errbot_pubnub.emulator", "--port", "0", "--verbose"],
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=read_lines, args=(process.stderr, lines), daemon=True).start()
    try:
        origin = wait_for_line(lines, r"on http://(\S+) ").group(1)
        remote = RemoteEmulator(origin)
        client = pubnub_client("cli-user", server=remote)

        client.publish().channel("c").message("over the command line").sync()
        logged = wait_for_line(lines, r"GET /publish/\S+ \(publish\)")
        assert [m["message"] for m in remote.published("c")] == ["over the command line"]

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert PUBLISH_KEY in logged.group(0) and SUBSCRIBE_KEY in logged.group(0)
    wait_for_line(lines, "stopped")


def test_secret_key_without_publish_key_is_refused_in_one_sentence():
    result = CliRunner().invoke(main, ["--secret-key", "s3cret"])

    assert result.exit_code == 2
    assert "--secret-key needs --publish-key" in result.output


def test_invalid_numbers_are_refused():
    result = CliRunner().invoke(main, ["--group-capacity", "0"])

    assert result.exit_code == 2
    assert "--group-capacity" in result.output
