"""The port a server is told before it listens comes from below the kernel's ephemeral range,
where no outgoing connection can take it between the choice and the server's bind."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from errbot_common import ports


def test_a_free_port_lies_below_the_ephemeral_range_and_can_be_bound() -> None:
    port = ports.free_port()
    assert ports.LOWEST <= port < ports.ephemeral_start()
    with socket.socket() as server:
        server.bind(("127.0.0.1", port))


def test_a_port_another_program_listens_on_is_passed_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        free = ports.free_port()
        monkeypatch.setattr(ports.random, "sample", lambda population, k: [busy, free])
        assert ports.free_port() == free


def test_where_the_range_leaves_no_room_below_it_an_ephemeral_port_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setting = tmp_path / "ip_local_port_range"
    setting.write_text("10500\t65000\n")
    monkeypatch.setattr(ports, "EPHEMERAL_RANGE", setting)
    assert ports.ephemeral_start() == 10500
    assert ports.free_port() >= 10500
