"""A free TCP port for a server that is told its port before it listens (Errbot's webserver, an
IRC server, PostgreSQL).

A port probed with ``bind(port 0)`` comes from the kernel's ephemeral range, which any outgoing
connection on the machine may take in the moment before the server binds it. Ports below that
range are never handed to outgoing connections, so one found free there stays free unless
another program binds exactly it.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

#: Linux's setting; the kernel's own default where it cannot be read.
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
DEFAULT_EPHEMERAL_START = 32768
#: Below the well-known and common development ports.
LOWEST = 10000


def ephemeral_start() -> int:
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return DEFAULT_EPHEMERAL_START


def free_port(host: str = "127.0.0.1", attempts: int = 200) -> int:
    """A port no program listens on, from below the ephemeral range; an ephemeral one only
    where that range leaves no room below it."""
    end = ephemeral_start()
    if end - LOWEST >= 1000:
        for port in random.sample(range(LOWEST, end), min(attempts, end - LOWEST)):
            if _bindable(host, port):
                return port
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _bindable(host: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True
