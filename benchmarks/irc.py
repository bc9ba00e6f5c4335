"""A strict IRC server for the agents (Debian's ``ngircd``, else ``miniircd``) in a process of
its own, and an agent reading the agent room over a raw socket, stamping each line it gets."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from errbot_common.ports import free_port

HOST = "127.0.0.1"
#: mIRC bold, colour, reset, italics and underline codes, as Errbot's IRC backend sends them.
FORMATTING = re.compile(r"\x03\d{0,2}(,\d{1,2})?|[\x02\x0f\x1d\x1f]")


class IRCServerProcess:
    """ngircd (flood control and the line limit, as servers run) where installed."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port(HOST)
        ngircd = shutil.which("ngircd") or (
            "/usr/sbin/ngircd" if Path("/usr/sbin/ngircd").exists() else None
        )
        if ngircd:
            self.kind = "ngircd"
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o755)
            conf = folder / "ngircd.conf"
            as_root = "ServerUID = 65534\nServerGID = 65534\n" if os.getuid() == 0 else ""
            conf.write_text(
                "[Global]\nName = irc.bench.local\nInfo = bench\n"
                f"Listen = {HOST}\nPorts = {self.port}\nMotdPhrase = bench\n{as_root}"
                "[Limits]\nMaxConnectionsIP = 0\nMaxNickLength = 30\nMaxJoins = 0\n"
                "[Options]\nDNS = no\nIdent = no\nPAM = no\n"
            )
            conf.chmod(0o644)
            command = [ngircd, "-n", "-f", str(conf)]
        else:
            self.kind = "miniircd"
            root = ("--setuid", "root") if os.getuid() == 0 else ()
            command = [sys.executable, "-m", "miniircd", *root]
            command += ["--listen", HOST, "--ports", str(self.port)]
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.pid = self._process.pid
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection((HOST, self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        self.close()
        raise RuntimeError(f"{self.kind} did not listen on port {self.port}")

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            self._process.wait(10)


class Agent:
    """Someone in the agent room: every PRIVMSG from ``bot`` to it, stamped on arrival."""

    def __init__(self, port: int, nick: str, channel: str, bot: str) -> None:
        self.channel = channel
        self.bot = bot
        self._socket = socket.create_connection((HOST, port), timeout=10)
        self._socket.settimeout(None)
        self._lock = threading.Lock()
        self.lines: list[tuple[float, str]] = []
        self._joined = threading.Event()
        self._thread = threading.Thread(target=self._read, name=f"agent-{nick}", daemon=True)
        self._thread.start()
        self._send(f"NICK {nick}")
        self._send(f"USER {nick} 0 * :{nick}")
        self._send(f"JOIN {channel}")
        if not self._joined.wait(20):
            raise RuntimeError(f"{nick} could not join {channel}")

    def said(self) -> list[tuple[float, str]]:
        with self._lock:
            return list(self.lines)

    def _send(self, raw: str) -> None:
        self._socket.sendall(raw.encode() + b"\r\n")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._send("QUIT :bye")
        self._socket.close()

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                data = self._socket.recv(65536)
            except OSError:
                return
            if not data:
                return
            buffer += data
            *complete, buffer = buffer.split(b"\r\n")
            now = time.time()
            for raw in complete:
                line = raw.decode(errors="replace")
                if line.startswith("PING"):
                    self._send("PONG " + line.split(" ", 1)[1])
                elif " 366 " in line:
                    self._joined.set()
                elif line.startswith(f":{self.bot}!") and f" PRIVMSG {self.channel} :" in line:
                    text = FORMATTING.sub("", line.split(f" PRIVMSG {self.channel} :", 1)[1])
                    with self._lock:
                        self.lines.append((now, text))
