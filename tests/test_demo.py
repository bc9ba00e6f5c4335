"""The quick start, end to end: what ``make demo`` and ``make customer`` run, as real processes.

The demo (``errbot-support-demo run``) serves the local PubNub server and Errbot with
``config_template.py``, agents on Errbot's ``Text`` backend reading its standard input; the
customer is ``errbot-support-demo customer``, the official SDK behind the customer client.
Both talk through pipes here instead of terminals. Nothing is mocked.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import shutil
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import IO

import psutil
import pytest

from errbot_bridge.settings import read_settings as bridge_settings
from errbot_support.settings import read_settings as support_settings
from tests.botrunner import wait_for

ROOT = Path(__file__).resolve().parent.parent
DEMO = Path(sys.executable).parent / "errbot-support-demo"
STARTUP = 60.0  # generous: several test runs may share two cores
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# What a newcomer's shell might hold that would steer the template away from the demo.
STEERING = ("PUBNUB_", "ERRBOT_", "BRIDGE_", "SUPPORT_", "IRC_")


class Pipe:
    """Everything a process writes to one pipe, read on a thread, ANSI colours removed."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._chunks: list[bytes] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[bytes]) -> None:
        for chunk in iter(lambda: stream.read1(4096), b""):
            self._chunks.append(chunk)

    @property
    def text(self) -> str:
        return ANSI.sub("", b"".join(self._chunks).decode(errors="replace"))

    def shows(self, *fragments: str, timeout: float = 20.0) -> None:
        wait_for(lambda: all(f in self.text for f in fragments), timeout=timeout)


class Typist:
    """A process with its standard input, output and error on pipes."""

    def __init__(self, command: list[str], folder: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            command,
            cwd=folder,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.process.stdout and self.process.stderr
        self.output = Pipe(self.process.stdout)
        self.errors = Pipe(self.process.stderr)

    def type(self, line: str) -> None:
        assert self.process.stdin
        self.process.stdin.write(f"{line}\n".encode())
        self.process.stdin.flush()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def demo_customer(folder: Path, env: dict[str, str], port: int, name: str, *options: str) -> Typist:
    """``make customer PORT=... NAME=...``, with more options for the customer client."""
    command = [str(DEMO), "customer", "--port", str(port), "--name", name, "--linger", "0"]
    return Typist([*command, *options], folder, env)


#: A customer whose app stored a name and an email (make customer FULLNAME=... EMAIL=...).
ERIN = ("--pubnub-display-name", "Erin Smith", "--pubnub-email", "erin@example.com")


def shows_what_the_app_stored(agent: Typist, erin: Typist) -> None:
    """Agents see a customer by the name and email their app stored in App Context."""
    try:
        erin.errors.shows("Connected as 'erin'", timeout=STARTUP)
        erin.type("Hi, it is Erin")
        agent.output.shows(
            "#2 New conversation with Erin Smith (customers:erin-support; email erin@example.com):"
        )
    finally:
        erin.kill()


def reads_as_written_and_said_once(agent: Typist, customer: Typist) -> None:
    """Agents read customers' text as written, lists a line each, and each event once, though
    the agent's direct chat and the agent room share this terminal."""
    customer.type("Order A*B*C_2 = *15*, mail john_doe_smith@example.com")
    agent.output.shows("#1 (admin) dana: Order A*B*C_2 = *15*, mail john_doe_smith@example.com")
    agent.type("hello?")
    agent.type("!resolve 1")
    agent.output.shows("#1 resolved by admin")
    # Said once, though the agent's direct chat and the agent room share this terminal.
    assert agent.output.text.count("#1 resolved by admin after") == 1
    assert "claimed by admin" not in agent.output.text
    assert agent.output.text.count("Not sent to anyone") == 1
    agent.type("!transcript 1")
    agent.output.shows(  # a transcript's lines, each on its own, as written
        " dana: Order A*B*C_2 = *15*, mail john_doe_smith@example.com\n",
        " - admin resolved the conversation\n",
    )
    agent.type("!customer dana")  # found by the id the agent sees
    agent.output.shows("dana (customers:dana-support): 1 conversation(s)\n#1 opened ")


@pytest.fixture
def newcomer(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """A project folder holding only the configuration template, and a clean environment."""
    shutil.copy(ROOT / "config_template.py", tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(STEERING)}
    yield tmp_path, env


def test_demo_round_trip_and_ctrl_c_leaves_nothing_behind(
    newcomer: tuple[Path, dict[str, str]],
) -> None:
    folder, env = newcomer
    agent = Typist([str(DEMO), "run", "--port", "0"], folder, env)
    customer = None
    try:
        found = wait_for(
            lambda: re.search(r"Local PubNub server on 127\.0\.0\.1:(\d+)\.", agent.output.text),
            timeout=STARTUP,
        )
        port = int(found.group(1))
        agent.output.shows("The bot is up", f"make customer PORT={port}", timeout=STARTUP)
        shows_the_chat_page(agent.output.text, port, folder)

        customer = demo_customer(folder, env, port, "dana")
        customer.errors.shows("Connected as 'dana'", timeout=STARTUP)
        customer.type("Hello, my parcel has not arrived")
        agent.output.shows(
            "#1 New conversation with dana (customers:dana-support):",
            "Hello, my parcel has not arrived",
            "Type !claim 1 to take it.",
        )
        customer.output.shows("agent: Thanks for your message!")

        agent.type("!queue")
        agent.output.shows("1 open conversation(s), 1 waiting:\n#1 waiting, ")  # one a line
        agent.type("what now?")  # no command: nobody reads it, the bot says so once
        agent.output.shows("Not sent to anyone: !reply N text answers a customer")
        agent.type("!claim 1")
        agent.output.shows("#1 is yours, admin.")
        agent.type("!reply 1 Sorry about that! What is your order number?")
        customer.output.shows("agent: Sorry about that! What is your order number?")
        # What the customer read is shown to the agent once, though nothing else says it.
        agent.output.shows("#1 admin to dana: Sorry about that! What is your order number?")
        assert agent.output.text.count("Sorry about that!") == 1
        customer.type("It is 4411")
        agent.output.shows("#1 (admin) dana: It is 4411")
        reads_as_written_and_said_once(agent, customer)
        customer.output.shows("resolved: We have marked this conversation as resolved.")
        assert customer.output.text.splitlines() == [
            "agent: Thanks for your message! Someone from our team will answer you here shortly.",
            "agent: Sorry about that! What is your order number?",
            "resolved: We have marked this conversation as resolved. Write again any time if "
            "you need more help.",
        ]

        shows_what_the_app_stored(agent, demo_customer(folder, env, port, "erin", *ERIN))

        started = psutil.Process(agent.process.pid).children(recursive=True)
        agent.process.send_signal(signal.SIGINT)  # what Ctrl-C in its terminal sends
        assert agent.process.wait(timeout=30) == 0
        assert not [p for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        with pytest.raises(ConnectionRefusedError):  # the local PubNub server is gone too
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        wait_for(lambda: "The demo has stopped." in agent.errors.text)
        assert "Traceback" not in agent.errors.text, agent.errors.text

        assert customer.process.stdin
        customer.process.stdin.close()  # Ctrl-D
        assert customer.process.wait(timeout=30) == 0
        assert "Traceback" not in customer.errors.text, customer.errors.text
    finally:
        agent.kill()
        if customer is not None:
            customer.kill()
    log = (folder / "data" / "demo" / "errbot.log").read_text()
    assert "The Bridge has stopped." in log
    # The customers opened their sessions with the bot's customer session service.
    assert "Customer session for 'dana': channel dana-support in group support" in log


def shows_the_chat_page(output: str, pubnub_port: int, folder: Path) -> None:
    """The demo serves the customer chat page, set for its own server and keys, and says where
    (what a browser does with the page is tests/test_chat_page.py's)."""
    url = re.search(r"Customer chat page on (http://127\.0\.0\.1:\d+/)", output).group(1)
    assert f"open {url} in a browser" in output
    with urllib.request.urlopen(url, timeout=10) as page:
        assert '<h1 id="support-chat-title">Chat with support</h1>' in page.read().decode()
    with urllib.request.urlopen(url + "config.js", timeout=10) as settings:
        script = settings.read().decode()
    assert f'"origin": "127.0.0.1:{pubnub_port}"' in script
    assert '"subscribeKey": "sub-c-demo"' in script and '"channelGroup": "support"' in script
    assert '"sessionUrl": "session"' in script  # sessions from the bot's service

    refusals: list[str] = []

    def session() -> dict | None:
        """The page's session, once the bot's service serves (it starts with the bot)."""
        try:
            with urllib.request.urlopen(url + "session?user_id=page-visitor", timeout=30) as got:
                return json.loads(got.read())
        except urllib.error.HTTPError as refused:
            body = refused.read()
            # The service is not up yet (502: nothing listens) or is starting (503, retry).
            assert refused.code in (502, 503), body
            assert refused.code == 502 or refused.headers["Retry-After"] == "1", body
            refusals.append(body.decode(errors="replace"))
            return None

    try:
        opened = wait_for(session, timeout=STARTUP)
    except AssertionError as failure:
        log = re.search(r"its log: (\S+)", output)
        log_path = folder / log.group(1) if log else None
        log_tail = log_path.read_text()[-6000:] if log_path and log_path.exists() else "(no log)"
        last = refusals[-1] if refusals else "(none)"
        raise AssertionError(f"{failure}\nlast refusal: {last}\n--- bot log\n{log_tail}") from None
    assert (opened["channel"], opened["channel_group"]) == ("page-visitor-support", "support")
    with urllib.request.urlopen(url + "vendor/pubnub.12.0.3.min.js", timeout=10) as sdk:
        assert b"PubNub" in sdk.read()


def test_make_chat_sdk_customer_opens_its_session_with_the_demos_service(
    newcomer: tuple[Path, dict[str, str]], node_sdks
) -> None:
    """``make chat-sdk-customer`` against ``make demo`` on the Chat SDK's message shape: the
    Chat SDK app gets its channel from the demo's session service, the secret in its
    environment only, and chats end to end."""
    folder, env = newcomer
    (folder / "js").symlink_to(ROOT / "js")  # the project's folder, as a newcomer has it
    env = {**env, "PUBNUB_MESSAGE_CONVERTER": "errbot_pubnub.ChatSDKMessageConverter"}
    agent = Typist([str(DEMO), "run", "--port", "0"], folder, env)
    customer = None
    try:
        found = wait_for(
            lambda: re.search(r"make chat-sdk-customer PORT=(\d+)", agent.output.text),
            timeout=STARTUP,
        )
        port = found.group(1)
        command = [str(DEMO), "chat-sdk-customer", "--port", port, "--user-id", "dana"]
        customer = Typist([*command, "--name", "Dana Smith"], folder, env)
        customer.errors.shows("Connected as 'dana' in channel 'dana-support'", timeout=STARTUP)
        secret = json.loads((folder / "data" / "demo" / "customer-sessions.json").read_text())
        app = psutil.Process(customer.process.pid)  # the demo command became the app
        assert app.cmdline()[1].endswith("chat-sdk-customer.mjs")
        assert secret["secret"] not in " ".join(app.cmdline())
        customer.type("Hello from the Chat SDK")
        agent.output.shows("#1 New conversation with Dana Smith (customers:dana-support):")
        agent.type("!claim 1")
        agent.type("!reply 1 Hello Dana")
        customer.output.shows("admin: Hello Dana")
        agent.type("!resolve 1")
        customer.output.shows("resolved: We have marked this conversation as resolved.")
    finally:
        agent.kill()
        if customer is not None:
            customer.kill()


def readme_snippets(section: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    body = re.split(r"\n##+ ", text.split(f"\n### {section}\n", 1)[1], maxsplit=1)[0]
    return re.findall(r"```python\n(.*?)```", body, flags=re.DOTALL)


@pytest.mark.parametrize(("snippet", "backend"), [(0, "IRC"), (1, "SlackV3")], ids=["IRC", "Slack"])
def test_readme_puts_agents_on_irc_or_slack_with_the_template(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, snippet: int, backend: str
) -> None:
    """The README's snippets, appended to the template as it tells, make a valid Bridge; the IRC
    one also ran against a local IRC server, the Slack one cannot reach Slack from here."""
    snippets = readme_snippets("Agents on IRC or Slack")
    assert len(snippets) == 2
    config_file = tmp_path / "config.py"
    config_file.write_text(f"{(ROOT / 'config_template.py').read_text()}\n{snippets[snippet]}")
    for name in os.environ:
        if name.startswith(STEERING):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ERRBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-0")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-0")
    config = SimpleNamespace(**runpy.run_path(str(config_file), run_name="config"))
    agents, customers = bridge_settings(config).networks
    assert (agents.name, agents.backend_name, agents.commands) == ("agents", backend, True)
    assert (customers.backend_name, customers.commands) == ("PubNub", False)
    assert agents.config.CHATROOM_PRESENCE == ("#support",)
    assert agents.config.BOT_ADMINS and not customers.config.BOT_ADMINS
    support = support_settings(config)
    assert (support.agent_room, support.customer_network) == ("agents:#support", "customers")
    assert not support.agents  # everyone in #support is an agent
