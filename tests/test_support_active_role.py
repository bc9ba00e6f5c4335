"""Facing the agents only while the active instance, in this process, on a real PostgreSQL
server: started and stopped with the role, woken at the commit of a message another instance
recorded; and who answers a command on a standby, per network."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from errbot.backends.base import Message
from sqlalchemy import create_engine

from errbot_instances.election import Election
from errbot_instances.postgres import Liveness
from errbot_instances.registry import Me
from errbot_support import announcements
from errbot_support.active_role import STOPPING, ActiveRole
from errbot_support.one_answer import Standby, on_standby, refusal
from tests.botrunner import wait_for
from tests.instance_fixtures import Events

BOUND = 3.0


def role(url: str, events: Events) -> ActiveRole:
    return ActiveRole(
        url,
        start=lambda: events.add("role", "start"),
        stop=lambda why: events.add("role", "stop", why=why),
        wake=lambda: events.add("role", "wake"),
        tell_admins=lambda sentence: events.add("role", "told", sentence=sentence),
        liveness=Liveness(BOUND),
        poll=60.0,  # no fallback look during the test: a wake is a notification's
    )


def test_on_sqlite_the_one_bot_faces_the_agents_from_begin_to_end(tmp_path):
    events = Events()
    alone = role(f"sqlite:///{tmp_path / 'support.sqlite'}", events)
    alone.begin()
    assert alone.is_active() and not alone.several
    alone.end()
    assert [e for _, _, e, _ in events.sorted()] == ["start", "stop"]
    assert events.of("role", "stop")[0][1] == {"why": STOPPING}


def test_a_standby_takes_over_and_hears_at_commit_what_another_recorded(postgres_database):
    pytest.importorskip("psycopg", reason="the postgresql extra (psycopg) is not installed")
    other = Election(postgres_database, liveness=Liveness(BOUND), me=Me(id="other")).start()
    wait_for(other.is_active, timeout=10)
    events = Events()
    mine = role(postgres_database, events)
    mine.begin()
    try:
        assert not mine.is_active() and events.of("role", "start") == []
        other.stop()  # a graceful stop: this one takes over at once, and is told of no loss
        wait_for(lambda: events.of("role", "start"), timeout=BOUND)
        assert mine.is_active()
        wait_for(lambda: events.of("role", "wake"), timeout=BOUND)  # listening: a first look
        woken = len(events.of("role", "wake"))
        engine = create_engine(postgres_database)
        with engine.connect() as connection, connection.begin():
            announcements.recorded(connection, "support")
            assert len(events.of("role", "wake")) == woken  # not before the commit
        wait_for(lambda: len(events.of("role", "wake")) > woken, timeout=BOUND)
        engine.dispose()
        assert events.of("role", "told") == []
    finally:
        mine.end()
        other.stop()
    assert events.of("role", "stop")[-1][1] == {"why": STOPPING}


@pytest.mark.parametrize(
    ("mode", "in_room", "expected"),
    [
        ("irc", True, Standby.IGNORE),
        ("irc", False, Standby.REFUSE),
        ("slackv3", True, Standby.ACT),
        ("slack", False, Standby.ACT),
    ],
)
def test_what_a_standby_does_with_a_command(mode, in_room, expected, monkeypatch):
    monkeypatch.setattr(Message, "is_group", property(lambda self: in_room))
    bot = SimpleNamespace(mode=mode)
    msg = Message("!queue", frm=SimpleNamespace(person="alice"))
    assert on_standby(bot, msg) is expected


def test_the_refusal_names_the_agent_rooms():
    assert refusal(["agents:#support", "agents:#vip"]) == (
        "This instance of the support bot is standing by; another one answers the agents: "
        "write your commands in agents:#support, agents:#vip."
    )
