"""What a bot standing by has to tell the admins about its intake is told once, by the active
bot: two PubNub bots in this process sharing the channel groups (``PUBNUB_SHARE_GROUPS``)
through a real PostgreSQL server, customers and the admin on the local PubNub server (official
SDK). A customer message the converter cannot read, in each bot's group: the admin hears of
the standby's from the active bot, naming the standby, and of the active one's as before.

The two bots name the database by two URLs (one with an ``application_name``): in one process,
one URL is one instance.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from errbot_instances import process
from errbot_instances.postgres import conninfo
from errbot_pubnub.emulator import PubNubEmulator
from tests.botrunner import running_bot, wait_for
from tests.delivery_fixtures import ADMIN_CHANNEL, SUPPORT, Customers, Recording, bot_config
from tests.test_pubnub_shared_groups import each_group_subscribed_once

psycopg = pytest.importorskip("psycopg", reason="the postgresql extra (psycopg) is not installed")

GROUPS = ("g1", "g2")
UNREADABLE = "COULD NOT BE DELIVERED"


def warnings_about(server: PubNubEmulator, what: str) -> list[str]:
    """What the bots told the admin (in capitals: the app's converter shouts its replies)."""
    return [
        str(m.message.get("reply", ""))
        for m in server.published(ADMIN_CHANNEL)
        if m.publisher == SUPPORT
        and isinstance(m.message, dict)
        and what in str(m.message.get("reply", ""))
    ]


@pytest.fixture
def customers(pubnub_server: PubNubEmulator) -> Iterator[Customers]:
    made = Customers(pubnub_server)
    for group in GROUPS:
        made.join("pia", group=group, channel=f"{group}-pia")
    made.join("admin", channel=ADMIN_CHANNEL)
    yield made
    made.stop()


def config(folder: Path, server: PubNubEmulator, url: str) -> object:
    return bot_config(
        folder,
        server,
        folder / "record.jsonl",
        PUBNUB_CHANNEL_GROUP=list(GROUPS),
        PUBNUB_DELIVERY_DB_URL=url,
        PUBNUB_SHARE_GROUPS=True,
        PUBNUB_MESSAGE_CONVERTER="tests.pubnub_converters.ShoutingConverter",
        INSTANCES_TAKEOVER_SECONDS=3.0,
    )


def holdings(url: str) -> dict[str, tuple[str, str]]:
    """Each instance's id: (its role, the group it holds)."""
    with psycopg.connect(conninfo(url)) as connection:
        try:
            rows = connection.execute(
                "SELECT i.id, i.role, g.name FROM instances i"
                " JOIN instance_groups g ON g.holder = i.id AND g.target = i.id"
            ).fetchall()
        except psycopg.errors.UndefinedTable:  # not created yet
            return {}
    return {instance: (role, group) for instance, role, group in rows}


def test_a_standbys_intake_warning_is_told_once_by_the_active_bot(
    tmp_path, pubnub_server, customers, postgres_database
):
    standby_url = f"{postgres_database}?application_name=standby"
    active_id, standby_id = process.me(postgres_database).id, process.me(standby_url).id
    with running_bot("PubNub", config(tmp_path / "a", pubnub_server, postgres_database)):
        wait_for(lambda: holdings(postgres_database).get(active_id, ("",))[0] == "active")
        with running_bot("PubNub", config(tmp_path / "b", pubnub_server, standby_url)):
            wait_for(lambda: len(holdings(postgres_database)) == 2, timeout=30)
            wait_for(lambda: each_group_subscribed_once(pubnub_server, GROUPS))
            held = holdings(postgres_database)
            assert held[standby_id][0] == "standby"
            standby_group, active_group = held[standby_id][1], held[active_id][1]

            customers.say_raw("pia", {"text": "unreadable here"}, channel=f"{standby_group}-pia")
            wait_for(lambda: warnings_about(pubnub_server, UNREADABLE))
            customers.say_raw("pia", {"text": "and there"}, channel=f"{active_group}-pia")
            wait_for(lambda: len(warnings_about(pubnub_server, UNREADABLE)) == 2)
    told = warnings_about(pubnub_server, UNREADABLE)
    host, pid = socket.gethostname(), process.me(standby_url).pid
    assert len(told) == 2, told
    from_standby, from_active = told
    assert from_standby.startswith(
        f"Instance {standby_id} on {host} (pid {pid}): A message from pia in PubNub channel "
        f"{standby_group}-pia ".upper()
    )
    assert from_active.startswith(
        f"A message from pia in PubNub channel {active_group}-pia ".upper()
    )
    assert Recording(tmp_path / "a" / "record.jsonl").texts() == []
