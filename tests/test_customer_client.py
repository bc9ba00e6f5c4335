"""The customer client as a real process: through a pipe to a real bot, and with Access Manager."""

from __future__ import annotations

import ctypes
import os
import platform
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from errbot_pubnub.emulator import PubNubEmulator
from errbot_pubnub.sdk import new_client
from tests.botrunner import make_config, running_bot
from tests.pubnub_fixtures import (
    PUBLISH_KEY,
    SECRET_KEY,
    SUBSCRIBE_KEY,
    pubnub_config,
    stop_clients,
)

PLUGINS = str(Path(__file__).parent / "plugins" / "pubnub_probe")
READ = 1
WRITE = 2


class ClientProcess:
    """``python -m errbot_pubnub.customer_client`` with its standard streams as pipes."""

    def __init__(self, server: PubNubEmulator, *args: str, **env: str) -> None:
        environment = {
            **os.environ,
            "PUBNUB_PUBLISH_KEY": PUBLISH_KEY,
            "PUBNUB_SUBSCRIBE_KEY": SUBSCRIBE_KEY,
            "PUBNUB_ORIGIN": server.origin,
            **env,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "errbot_pubnub.customer_client", "--linger", "0", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
        self.stdout = self._reader(self.process.stdout)
        self.stderr = self._reader(self.process.stderr)

    @staticmethod
    def _reader(stream: IO[str] | None) -> queue.Queue[str]:
        lines: queue.Queue[str] = queue.Queue()

        def pump() -> None:
            assert stream is not None
            for line in stream:
                lines.put(line.rstrip("\n"))

        threading.Thread(target=pump, daemon=True).start()
        return lines

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def read(self, stream: queue.Queue[str] | None = None, timeout: float = 20) -> str:
        return (stream or self.stdout).get(timeout=timeout)

    def errors(self) -> str:
        lines = []
        while not self.stderr.empty():
            lines.append(self.stderr.get())
        return "\n".join(lines)

    def close(self, timeout: float = 20) -> int:
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def clients() -> Iterator[Any]:
    started: list[ClientProcess] = []

    def start(server: PubNubEmulator, *args: str, **env: str) -> ClientProcess:
        client = ClientProcess(server, *args, **env)
        started.append(client)
        return client

    yield start
    for client in started:
        client.kill()


def test_a_customer_talks_to_the_bot_through_a_pipe(
    tmp_path: Path, pubnub_server: PubNubEmulator, clients: Any
) -> None:
    config = make_config(
        tmp_path,
        BOT_IDENTITY={"publish_key": PUBLISH_KEY, "subscribe_key": SUBSCRIBE_KEY},
        PUBNUB_ORIGIN=pubnub_server.origin,
        BOT_EXTRA_PLUGIN_DIR=PLUGINS,
    )
    with running_bot("PubNub", config):
        client = clients(pubnub_server, "--pubnub-user-id", "zoe")
        assert "Connected as 'zoe' in channel 'zoe-support'" in client.read(client.stderr)
        assert pubnub_server.channels_in_group("support") == ["zoe-support"]
        client.send("!echo hi from a pipe")
        assert client.read() == "agent: hi from a pipe"
        client.send("probe: and a plugin?")
        assert client.read() == "agent: probe heard and a plugin?"
        assert client.close() == 0
    assert "Traceback" not in client.errors()
    sent = [
        m.message["text"] for m in pubnub_server.published("zoe-support") if m.publisher == "zoe"
    ]
    assert sent == ["!echo hi from a pipe", "probe: and a plugin?"]


def test_with_a_secret_key_the_client_grants_itself_what_it_needs(
    pubnub_server_factory: Any, clients: Any
) -> None:
    server = pubnub_server_factory(secret_key=SECRET_KEY)
    client = clients(
        server,
        "--pubnub-user-id",
        "yan",
        "--pubnub-channel",
        "yan-chat",
        "--pubnub-channel-group",
        "helpdesk",
        "--pubnub-display-name",
        "Yan Li",
        "--pubnub-email",
        "yan@example.com",
        PUBNUB_SECRET_KEY=SECRET_KEY,
    )
    assert "Connected as 'yan'" in client.read(client.stderr)
    assert server.channels_in_group("helpdesk") == ["yan-chat"]
    agent = new_client(pubnub_config(server, "support", secret_key=SECRET_KEY))
    try:
        # Its own name, in App Context, with the token it granted itself.
        profile = agent.get_uuid_metadata(uuid="yan").sync().result.data
        assert (profile["name"], profile["email"]) == ("Yan Li", "yan@example.com")
        agent.publish().channel("yan-chat").message(
            {"kind": "resolved", "text": "Solved, have a nice day"}
        ).sync()
    finally:
        stop_clients([agent])
    assert client.read() == "resolved: Solved, have a nice day"
    client.send("thanks!")
    assert client.close() == 0
    (sent,) = [m for m in server.published("yan-chat") if m.publisher == "yan"]
    assert sent.message["text"] == "thanks!"


def _token(server: Any, channel_bits: int) -> str:
    """A token for xia's channel alone, as a company's backend would issue it."""
    return server.issue_token(
        {
            "ttl": 60,
            "permissions": {
                "resources": {"channels": {"xia-support": channel_bits}},
                "uuid": "xia",
            },
        }
    )


def test_a_refusal_names_the_missing_permission(pubnub_server_factory: Any, clients: Any) -> None:
    server = pubnub_server_factory(secret_key=SECRET_KEY)
    client = clients(server, "--pubnub-user-id", "xia", PUBNUB_TOKEN=_token(server, WRITE))
    assert client.close() == 1
    errors = client.errors()
    assert "the credentials lack READ permission on channel 'xia-support'" in errors
    assert "403 Forbidden" in errors
    assert "Traceback" not in errors


def test_a_message_refused_is_said_and_the_chat_goes_on(
    pubnub_server_factory: Any, clients: Any
) -> None:
    server = pubnub_server_factory(secret_key=SECRET_KEY)
    client = clients(server, "--pubnub-user-id", "xia", PUBNUB_TOKEN=_token(server, READ))
    assert "Connected as 'xia'" in client.read(client.stderr)
    client.send("hello")
    assert "the credentials lack WRITE permission on channel 'xia-support'" in client.read(
        client.stderr
    )
    assert client.close() == 0
    assert "Traceback" not in client.errors()


def test_ctrl_c_exits_cleanly(pubnub_server: PubNubEmulator, clients: Any) -> None:
    client = clients(pubnub_server, "--pubnub-user-id", "wes")
    assert "Connected as 'wes'" in client.read(client.stderr)
    client.process.send_signal(signal.SIGINT)
    try:
        status = client.process.wait(30)
    except subprocess.TimeoutExpired:
        client.kill()
        raise AssertionError(f"still running after SIGINT; stderr: {client.errors()}") from None
    assert status == 130
    assert "Traceback" not in client.errors()


#: tgkill(2), which hands a signal to one given thread, by machine (Python has no call for it).
TGKILL = {"x86_64": 234, "aarch64": 131}


def _interrupt_thread(pid: int, thread: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(TGKILL[platform.machine()], pid, thread, signal.SIGINT) != 0:
        raise OSError(ctypes.get_errno(), "tgkill failed")


def _wait_until_asleep(pid: int, checks: int = 5, interval: float = 0.05) -> None:
    """Until the main thread of ``pid`` is seen asleep ``checks`` times in a row."""
    deadline = time.monotonic() + 20
    asleep = 0
    while asleep < checks:
        assert time.monotonic() < deadline, "the client's main thread never waited"
        with open(f"/proc/{pid}/task/{pid}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
        asleep = asleep + 1 if state == "S" else 0
        time.sleep(interval)


@pytest.mark.skipif(platform.machine() not in TGKILL, reason="tgkill's number is not known here")
def test_ctrl_c_handed_to_another_thread_than_the_main_one_exits_too(
    pubnub_server: PubNubEmulator, clients: Any
) -> None:
    """The system may hand Ctrl-C to any thread (the SDK's, the one reading input); the client
    still exits at once, though no line comes on its input."""
    client = clients(pubnub_server, "--pubnub-user-id", "wyn")
    assert "Connected as 'wyn'" in client.read(client.stderr)
    pid = client.process.pid
    _wait_until_asleep(pid)  # its main thread waits for input: a signal must wake it there
    others = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task") if int(t) != pid)
    assert others, "the client runs threads besides its main one"
    _interrupt_thread(pid, others[-1])
    try:
        status = client.process.wait(30)
    except subprocess.TimeoutExpired:
        client.kill()
        raise AssertionError(
            f"still running after SIGINT to thread {others[-1]}; stderr: {client.errors()}"
        ) from None
    assert status == 130
    assert "Traceback" not in client.errors()


def test_help_lists_the_options_of_the_seed() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "errbot_pubnub.customer_client", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    for option in (
        "--pubnub-user-id",
        "--pubnub-channel ",
        "--pubnub-channel-group",
        "--pubnub-message-converter",
        "--origin",
        "PUBNUB_PUBLISH_KEY",
        "PUBNUB_SUBSCRIBE_KEY",
        "PUBNUB_SECRET_KEY",
        "PUBNUB_TOKEN",
    ):
        assert option in result.stdout
    assert "errbot_pubnub.DefaultMessageConverter" in result.stdout
