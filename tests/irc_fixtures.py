"""A real IRC server on a free port, and a plain IRC client to talk to the bot.

Two servers: ``miniircd`` (small, lenient: it enforces neither the line limit nor flood
control) and Debian's ``ngircd`` (strict as servers run: it penalises a client that runs ahead
and cuts lines at 512 bytes), started from a configuration file the fixture writes. The server
runs as its own process so a test can stop and restart it like a real network outage; the
client speaks raw IRC over a socket, so nothing of Errbot or the ``irc`` library is on the other
side of the conversation.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from errbot_common.ports import free_port
from tests.botrunner import wait_for

HOST = "127.0.0.1"
# miniircd refuses to run as root unless told to stay root (containers often run tests as root).
_MINIIRCD = (sys.executable, "-m", "miniircd", *(("--setuid", "root") if os.getuid() == 0 else ()))
NGIRCD = shutil.which("ngircd") or "/usr/sbin/ngircd"
#: The servers the relay's IRC tests run on (``irc_server_kind`` fixture).
SERVERS = ("miniircd", "ngircd")


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def _ngircd_conf(folder: Path, port: int) -> Path:
    """A configuration for ngircd on ``port``: no DNS, ident or PAM lookups, any number of
    connections from 127.0.0.1, nicks of up to 30 characters; as root it must drop to nobody."""
    as_root = "ServerUID = 65534\nServerGID = 65534\n" if os.getuid() == 0 else ""
    conf = folder / f"ngircd-{port}.conf"
    conf.write_text(
        "[Global]\nName = irc.test.local\nInfo = test server\n"
        f"Listen = {HOST}\nPorts = {port}\nMotdPhrase = test\n{as_root}"
        "[Limits]\nMaxConnectionsIP = 0\nMaxNickLength = 30\nMaxJoins = 0\n"
        "[Options]\nDNS = no\nIdent = no\nPAM = no\n"
    )
    folder.chmod(0o755)
    conf.chmod(0o644)
    return conf


class IRCServer:
    """An IRC server (``kind``: ``miniircd`` or ``ngircd``) listening on 127.0.0.1;
    ``restart()`` keeps the port, like a real outage.

    With ``channel_log_dir`` miniircd writes down everything said in its channels, across
    restarts: what reached a channel even while nobody was there to read it.
    """

    def __init__(self, channel_log_dir: Path | None = None, kind: str = "miniircd") -> None:
        assert kind in SERVERS, kind
        assert kind == "miniircd" or channel_log_dir is None, "only miniircd keeps channel logs"
        self.kind = kind
        self.host = HOST
        self.port = 0
        self.channel_log_dir = channel_log_dir
        self._process: subprocess.Popen[bytes] | None = None
        self._folder: Path | None = None

    def _command(self, port: int) -> list[str]:
        if self.kind == "ngircd":
            if self._folder is None:
                self._folder = Path(tempfile.mkdtemp(prefix="ngircd-"))
            return [NGIRCD, "-n", "-f", str(_ngircd_conf(self._folder, port))]
        log = ("--channel-log-dir", str(self.channel_log_dir)) if self.channel_log_dir else ()
        return [*_MINIIRCD, "--listen", HOST, "--ports", str(port), *log]

    def start(self) -> IRCServer:
        keep_port = bool(self.port)
        for _ in range(5):  # another test may grab a free port between probe and bind
            port = self.port if keep_port else free_port()
            process = subprocess.Popen(
                self._command(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            wait_for(lambda p=process, n=port: p.poll() is not None or _accepts(n))
            if process.poll() is None:
                self._process, self.port = process, port
                return self
        raise RuntimeError(f"{self.kind} could not listen on a free port")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None
        if self._folder is not None:  # ngircd's configuration: written again by start()
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def said_in(self, channel: str) -> list[tuple[str, str]]:
        """``(nick, text)`` of every message said in ``channel``, oldest first (needs
        ``channel_log_dir``)."""
        assert self.channel_log_dir is not None, "start the server with a channel_log_dir"
        log = self.channel_log_dir / f"{channel.lower().replace('_', '__')}.log"
        if not log.exists():
            return []
        said = re.compile(r"^\[[^\]]*\] <([^>]*)> (.*)$")
        return [m.groups() for m in map(said.match, log.read_text().splitlines()) if m]

    def identity(self, nickname: str) -> dict[str, object]:
        """``BOT_IDENTITY`` for Errbot's IRC backend on this server."""
        return {"nickname": nickname, "server": self.host, "port": self.port}


@dataclass(frozen=True)
class IRCLine:
    source: str
    command: str
    params: tuple[str, ...]

    @property
    def nick(self) -> str:
        return self.source.split("!", 1)[0]


def parse_line(raw: str) -> IRCLine:
    source = ""
    if raw.startswith(":"):
        source, _, raw = raw[1:].partition(" ")
    head, _, trailing = raw.partition(" :")
    words = head.split()
    params = (*words[1:], trailing) if " :" in raw else tuple(words[1:])
    return IRCLine(source, words[0].upper() if words else "", params)


#: IRC's bold, colour, italics, underline and reset codes, as Errbot's IRC backend sends them.
FORMATTING = re.compile(r"\x03\d{0,2}(,\d{1,2})?|[\x02\x0f\x1d\x1f]")


def plain(text: str) -> str:
    """A line as a person reads it, without formatting codes."""
    return FORMATTING.sub("", text)


class IRCClient:
    """A person on IRC: connects, joins channels, talks, and remembers every line it got."""

    def __init__(self, server: IRCServer, nick: str, user: str | None = None) -> None:
        self.nick = nick
        self._socket = socket.create_connection((server.host, server.port), timeout=10)
        self._socket.settimeout(None)
        self._lock = threading.Lock()
        self._lines: list[IRCLine] = []
        self._reader = threading.Thread(target=self._read, name=f"irc-{nick}", daemon=True)
        self._reader.start()
        self.send(f"NICK {nick}")
        self.send(f"USER {user or nick} 0 * :{nick}")
        self.wait_for(lambda line: line.command == "001")

    def send(self, raw: str) -> None:
        self._socket.sendall(raw.encode() + b"\r\n")

    def join(self, channel: str) -> None:
        self.send(f"JOIN {channel}")
        self.wait_for(lambda line: line.command == "366" and channel in line.params)

    def say(self, target: str, text: str) -> None:
        self.send(f"PRIVMSG {target} :{text}")

    def lines(self) -> list[IRCLine]:
        with self._lock:
            return list(self._lines)

    def messages(self, target: str | None = None) -> list[IRCLine]:
        """PRIVMSGs received, optionally only those sent to ``target`` (a channel or our nick)."""
        return [
            line
            for line in self.lines()
            if line.command == "PRIVMSG" and (target is None or line.params[0] == target)
        ]

    def plain_lines(self, target: str) -> list[str]:
        """The texts of the PRIVMSGs to ``target``, without formatting codes."""
        return [plain(line.params[-1]) for line in self.messages(target)]

    def wait_for(self, predicate: Callable[[IRCLine], bool]) -> IRCLine:
        return wait_for(lambda: next((line for line in self.lines() if predicate(line)), None))

    def wait_for_text(self, target: str, text: str) -> IRCLine:
        """The first PRIVMSG to ``target`` whose text, without formatting, contains ``text``."""
        return self.wait_for(
            lambda line: (
                line.command == "PRIVMSG"
                and line.params[0] == target
                and text in plain(line.params[-1])
            )
        )

    def wait_for_join(self, nick: str, channel: str) -> IRCLine:
        return self.wait_for(
            lambda line: line.command == "JOIN" and line.nick == nick and channel in line.params
        )

    def close(self) -> None:
        with contextlib.suppress(OSError):  # the server may already be gone
            self.send("QUIT :bye")
        self._socket.close()
        self._reader.join(timeout=10)

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                data = self._socket.recv(4096)
            except OSError:
                return
            if not data:
                return
            buffer += data
            *complete, buffer = buffer.split(b"\r\n")
            for raw in complete:
                line = parse_line(raw.decode(errors="replace"))
                if line.command == "PING":
                    self.send(f"PONG :{line.params[-1]}")
                with self._lock:
                    self._lines.append(line)


@pytest.fixture
def irc_server() -> Iterator[IRCServer]:
    """A fresh IRC server for one test (it is cheap: a small process on a free port)."""
    server = IRCServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=SERVERS)
def any_irc_server(request: pytest.FixtureRequest) -> Iterator[IRCServer]:
    """A fresh IRC server of each kind in turn: the test runs on miniircd and on ngircd."""
    server = IRCServer(kind=request.param).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def irc_client(irc_server: IRCServer) -> Iterator[Callable[[str], IRCClient]]:
    """Connect IRC users to ``irc_server``: ``alice = irc_client("alice")``; ``user`` is the
    user name of the mask (``nick!user@host``), the nick by default."""
    clients: list[IRCClient] = []

    def connect(nick: str, user: str | None = None) -> IRCClient:
        client = IRCClient(irc_server, nick, user)
        clients.append(client)
        return client

    try:
        yield connect
    finally:
        for client in clients:
            client.close()
