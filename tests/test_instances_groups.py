"""Channel groups shared out among instances through a real PostgreSQL server.

The big scenario: 100,000 customer channels in groups of 2,000 (50 groups), five instances
(four in this process, one in a process of its own that is killed with SIGKILL). Every group
is held by exactly one instance, a killed instance's groups are taken within the 10 s bound,
and, replaying what every instance did in time order, no group is ever held by two at once.
"""

from __future__ import annotations

import re
import socket
import time
from collections import Counter, defaultdict

from errbot_instances.assignment import AllGroups, GroupAssignment, share
from errbot_instances.election import Election, elect
from errbot_instances.postgres import Liveness, connect
from errbot_instances.registry import Me
from errbot_instances.rendezvous import Holding, rebalance, targets
from errbot_instances.status import describe, instances
from tests.botrunner import wait_for
from tests.instance_fixtures import ChildInstance, Events, within

BOUND = 10.0
CHANNELS = 100_000
GROUP_SIZE = 2_000
GROUPS = tuple(f"support-{n:02d}" for n in range(CHANNELS // GROUP_SIZE))


def group_of(channel: int) -> str:
    """The group a customer channel was put in (by the app server, in production)."""
    return GROUPS[channel // GROUP_SIZE]


# ---------------------------------------------------------------------- the hashing alone


def test_every_instance_computes_the_same_targets_each_taking_an_equal_share():
    five = [f"i{n}" for n in range(5)]
    first = targets(GROUPS, five)
    assert first == targets(reversed(GROUPS), list(reversed(five)))
    assert Counter(first.values()) == dict.fromkeys(five, 10)
    four = five[:4]
    after = targets(GROUPS, four)
    assert set(after.values()) == set(four)
    assert max(Counter(after.values()).values()) == 13  # 50 groups over 4: at most 13 each
    moved = {g for g in GROUPS if first[g] != after[g]}
    assert {g for g in GROUPS if first[g] == "i4"} <= moved
    assert len(moved) < len(GROUPS) / 2  # mostly the leaver's, not a reshuffle
    assert targets(["g"], []) == {"g": None}


def test_a_live_holder_keeps_its_group_until_it_hands_it_over_a_gone_ones_move_at_once():
    groups = {"g1": Holding("a", "a"), "g2": Holding("b", "b"), "g3": Holding(None, None)}
    live = {"a", "c"}
    wanted = targets(groups, live)
    changed = rebalance(groups, live)
    assert changed["g2"] == Holding(wanted["g2"], wanted["g2"])  # b is gone
    assert changed["g3"] == Holding(wanted["g3"], wanted["g3"])  # nobody held it
    if wanted["g1"] == "c":
        assert changed["g1"] == Holding("a", "c")  # a hands it over itself
    else:
        assert "g1" not in changed
    assert rebalance({"g": Holding("a", "a")}, set()) == {"g": Holding(None, None)}


# ---------------------------------------------------------------------- on PostgreSQL


class Instance:
    """An election and a group assignment in this process, recording into ``events``."""

    def __init__(self, url: str, events: Events, name: str) -> None:
        self.name = name
        self.events = events
        self.election = Election(url, liveness=Liveness(BOUND), me=Me(id=name)).start()
        self.groups = GroupAssignment(
            self.election,
            self._changed,
            groups=GROUPS,
            on_lost=lambda lost: events.add(name, "lost", instances=lost),
        ).start()

    def _changed(self, added: frozenset[str], removed: frozenset[str]) -> None:
        self.events.add(self.name, "groups", added=sorted(added), removed=sorted(removed))

    def stop(self) -> None:
        self.groups.stop()
        self.election.stop()


def holdings(events: Events, until: float | None = None) -> dict[str, set[str]]:
    """Who holds each group after replaying ``events`` (up to ``until``); fails the moment a
    group would be held by two instances."""
    held: dict[str, set[str]] = defaultdict(set)
    for t, who, event, said in events.sorted():
        if until is not None and t > until:
            break
        if event == "killed":
            for holders in held.values():
                holders.discard(who)
        if event != "groups":
            continue
        for group in said["removed"]:
            held[group].discard(who)
        for group in said["added"]:
            assert not held[group], f"{group} taken by {who} while {held[group]} held it"
            held[group].add(who)
    return held


def one_holder_each(events: Events, expected: set[str]) -> bool:
    held = holdings(events)
    return (
        all(len(held[g]) == 1 for g in GROUPS) and {next(iter(held[g])) for g in GROUPS} <= expected
    )


def test_five_instances_share_100000_channels_and_take_a_killed_ones_groups(postgres_database):
    events = Events()
    here = [Instance(postgres_database, events, f"here-{n}") for n in range(4)]
    child = None
    try:
        names = {i.name for i in here}
        within(BOUND * 2, lambda: one_holder_each(events, names))

        child = ChildInstance(postgres_database, BOUND, events, GROUPS)
        five = {*names, child.id}
        # The newcomer takes its share, handed over by the live holders.
        within(
            BOUND * 2,
            lambda: (
                one_holder_each(events, five)
                and {next(iter(h)) for h in holdings(events).values()} == five
            ),
        )
        held = holdings(events)
        assert {g: next(iter(held[g])) for g in GROUPS} == targets(GROUPS, five)
        assert Counter(next(iter(held[g])) for g in GROUPS) == dict.fromkeys(five, 10)
        # Every customer channel is heard by exactly one instance.
        listeners = Counter(len(held[group_of(channel)]) for channel in range(CHANNELS))
        assert listeners == {1: CHANNELS}
        for instance in here:
            assert instance.groups.my_groups() == {g for g in GROUPS if held[g] == {instance.name}}
        shown = {s.id: s for s in instances(postgres_database)}
        assert set(shown) == five
        assert {g for s in shown.values() for g in s.groups} == set(GROUPS)
        assert sum(s.role == "active" for s in shown.values()) == 1
        assert len(describe(list(shown.values()))) == 5

        theirs = {g for g in GROUPS if held[g] == {child.id}}
        assert theirs
        killed = child.kill()
        events.add(child.id, "killed", killed)
        taken = within(BOUND, lambda: one_holder_each(events, names))
        assert taken - killed <= BOUND
        # Whoever noticed first was told who was lost (for the admins).
        lost = [said["instances"] for _, who, event, said in events.sorted() if event == "lost"]
        assert lost == [[(child.id, socket.gethostname(), child.process.pid)]]
        [(joined, _), *_] = events.of(child.id, "groups")
        taken_over = [
            t
            for t, who, event, said in events.sorted()
            if event == "groups" and who != child.id and t > joined and theirs & {*said["added"]}
        ]
        assert taken_over
        assert min(taken_over) > killed  # nobody took its groups while it was alive

        # A graceful stop hands over at once (within a few heartbeats).
        leaving = here.pop()
        stopped = time.monotonic()
        leaving.stop()
        names.discard(leaving.name)
        taken = within(BOUND, lambda: one_holder_each(events, names))
        assert taken - stopped < BOUND / 2
    finally:
        if child is not None:
            child.close()
        for instance in here:
            instance.stop()
    holdings(events)  # replays the whole run: never two holders of one group at once


def test_a_group_added_later_is_shared_out_and_status_shows_lost_instances(postgres_database):
    liveness = Liveness(2.0)
    election = Election(postgres_database, liveness=liveness, me=Me(id="solo")).start()
    seen: list[frozenset[str]] = []
    groups = GroupAssignment(election, lambda added, removed: seen.append(added), groups=["g1"])
    groups.start()
    try:
        wait_for(lambda: groups.my_groups() == {"g1"})
        groups.add_groups(["g2"])
        wait_for(lambda: groups.my_groups() == {"g1", "g2"})
        with connect(postgres_database, liveness) as connection:  # a row left by a dead one
            connection.execute(
                "INSERT INTO instances (id, host, pid, role, started_at, heard_at)"
                " VALUES ('gone', 'old-host', 7, 'active', now(), now() - interval '1 hour')"
            )
        states = instances(postgres_database, liveness)
        lost = [s for s in states if s.id == "gone"]
        assert [(s.role, s.host, s.pid) for s in lost] == [("lost", "old-host", 7)]
        assert [(s.role, s.groups) for s in states if s.id == "solo"] == [("active", ("g1", "g2"))]
        lines = dict(zip([s.id for s in states], describe(states), strict=True))
        host = re.escape(socket.gethostname())
        assert re.fullmatch(
            rf"solo on {host} \(pid \d+\): active, groups g1, g2; heard \d+\.\d s ago",
            lines["solo"],
        )
        assert re.fullmatch(
            r"gone on old-host \(pid 7\): lost, groups none; heard 3\d{3}\.\d s ago",
            lines["gone"],
        )
        # The next sync forgets it.
        wait_for(lambda: "gone" not in {s.id for s in instances(postgres_database, liveness)})
    finally:
        groups.stop()
        election.stop()
    assert instances(postgres_database, liveness) == []
    assert describe([]) == ["No instances are registered on this database."]


def test_on_sqlite_the_one_instance_holds_every_group(tmp_path, postgres_database):
    changes = []
    alone = elect(f"sqlite:///{tmp_path / 'support.sqlite'}").start()
    every = share(alone, lambda added, removed: changes.append((added, removed)), groups=["a"])
    assert isinstance(every, AllGroups) and every.my_groups() == set()
    every.start()
    every.add_groups(["b"])
    assert every.my_groups() == {"a", "b"}
    every.stop()
    assert changes == [({"a"}, set()), ({"b"}, set()), (set(), {"a", "b"})]
    election = Election(postgres_database)
    assert isinstance(share(election, lambda *_: None), GroupAssignment)
