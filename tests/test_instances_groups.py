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
from errbot_instances.status import describe, instances, unheld
from errbot_instances.unheld import NO_INSTANCE
from errbot_support.instances_status import instances_report
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
    # 50 groups over 4: 10 each, what one PubNub subscriber holds; the last 10 go to nobody.
    assert Counter(after.values()) == {**dict.fromkeys(four, 10), None: 10}
    assert [g for g in GROUPS if after[g] is None] == list(GROUPS[40:])
    moved = {g for g in GROUPS if first[g] != after[g]}
    assert {g for g in GROUPS if first[g] == "i4"} <= moved
    assert len(moved) < len(GROUPS) / 2  # mostly the leaver's, not a reshuffle
    assert targets(["g"], []) == {"g": None}
    many = [f"support-{n}" for n in range(1, 51)]  # in natural order: support-9 before -10
    assert [g for g, i in targets(many, four).items() if i is None] == many[40:]


def test_each_rebalance_step_gives_no_instance_more_than_ten_groups():
    """Instances coming and going one by one: at no step does any instance hold or take in
    more than 10 groups (an instance takes in a group once it both holds it and is meant to)."""
    groups: dict[str, Holding] = dict.fromkeys(GROUPS, Holding(None, None))
    live: set[str] = set()

    def step() -> None:
        changed = rebalance(groups, live)
        groups.update(changed)
        for instance in live:  # each live instance hands over what it should no longer hold
            taking = [g for g, h in groups.items() if h.holder == h.target == instance]
            assert len(taking) <= 10
            for name, h in groups.items():
                if h.holder == instance and h.target != instance:
                    groups[name] = Holding(h.target, h.target)
        assert max(Counter(h.holder for h in groups.values() if h.holder).values()) <= 10

    for n in range(6):
        live.add(f"i{n}")
        step()
        step()
        held = [h.holder for h in groups.values() if h.holder]
        assert len(held) == min(10 * len(live), len(GROUPS))
    for n in (2, 0, 5):  # leaving: their groups go to the others, as far as they have room
        live.discard(f"i{n}")
        step()
        step()
        assert sum(1 for h in groups.values() if h.holder) == min(10 * len(live), len(GROUPS))
    three = dict.fromkeys(["g1", "g2", "g3"], Holding(None, None))
    assert rebalance(three, {"a"}, capacity=2) == {"g1": Holding("a", "a"), "g2": Holding("a", "a")}


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
        taking = sum(who in holders for holders in held.values())
        assert taking <= 10, f"{who} takes in {taking} groups, more than one subscriber may"
    return held


def unheld_sentences(url: str) -> list[str]:
    """What the admins are told of groups no instance takes in, oldest first."""
    with connect(url, Liveness(BOUND)) as connection:
        rows = connection.execute(
            "SELECT said FROM instance_losses WHERE instance = %s ORDER BY seq", (NO_INSTANCE,)
        ).fetchall()
    return [said for (said,) in rows]


def told_once_of_the_unheld_groups(url: str) -> None:
    """After the kill (4 left) and the stop (3 left): the admins were told once, in one
    sentence each time, of the groups left to nobody, and the status lists them."""
    told = unheld_sentences(url)
    assert told[-2:] == [
        "Channel groups support-40 ... support-49 (10 groups) have no instance to take them "
        "in: each instance takes in at most 10; start another instance.",
        "Channel groups support-30 ... support-39 (10 groups) have no instance to take them "
        "in: each instance takes in at most 10; start another instance.",
    ]
    assert len(told) <= 5  # before them, at the first start as the instances joined
    assert unheld(url) == list(GROUPS[30:])
    assert describe(instances(url), unheld(url))[-1] == (
        "no instance takes in " + ", ".join(GROUPS[30:]) + ": each takes in at most 10 "
        "groups; start another instance"
    )


def one_holder_each(events: Events, expected: set[str]) -> bool:
    """Every group the instances ``expected`` can hold (10 each) is held by exactly one of
    them, as the hashing says, and the others by nobody."""
    held = holdings(events)
    wanted = targets(GROUPS, expected)
    return all(held[g] == ({wanted[g]} if wanted[g] else set()) for g in GROUPS)


def test_five_instances_share_100000_channels_and_take_a_killed_ones_groups(postgres_database):
    events = Events()
    here = [Instance(postgres_database, events, f"here-{n}") for n in range(4)]
    child = None
    try:
        names = {i.name for i in here}
        within(BOUND * 2, lambda: one_holder_each(events, names))

        child = ChildInstance(postgres_database, BOUND, events, GROUPS)
        five = {*names, child.id}
        # Four hold 40 groups, 10 each; the last 10 wait, unheld, for another instance.
        held = holdings(events)
        assert Counter(next(iter(held[g]), None) for g in GROUPS) == {
            **dict.fromkeys(names, 10),
            None: 10,
        }
        assert unheld(postgres_database) == list(GROUPS[40:])

        # The newcomer takes the 10 unheld and its share, handed over by the live holders.
        within(BOUND * 2, lambda: one_holder_each(events, five))
        assert unheld(postgres_database) == []
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
        told_once_of_the_unheld_groups(postgres_database)
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


def test_a_failing_group_callback_is_logged_and_the_instance_goes_on(tmp_path, caplog):
    calls = []

    def on_change(added: set[str], removed: set[str]) -> None:
        calls.append((added, removed))
        raise RuntimeError("the subscriber is gone")

    alone = elect(f"sqlite:///{tmp_path / 'support.sqlite'}").start()
    every = share(alone, on_change, groups=["a"]).start()
    every.add_groups(["b"])
    assert every.my_groups() == {"a", "b"}
    assert calls == [({"a"}, set()), ({"b"}, set())]
    failures = [r for r in caplog.records if r.getMessage() == "A channel group callback failed."]
    assert [str(r.exc_info[1]) for r in failures] == ["the subscriber is gone"] * 2


def test_groups_beyond_ten_per_instance_wait_unheld_told_once_and_shown_in_the_status(
    postgres_database,
):
    liveness = Liveness(2.0)
    twelve = [f"g{n}" for n in range(1, 13)]
    solo = Election(postgres_database, liveness=liveness, me=Me(id="solo")).start()
    mine = GroupAssignment(solo, lambda added, removed: None, groups=twelve).start()
    other = other_groups = None
    try:
        wait_for(lambda: len(mine.my_groups()) == 10)
        assert mine.my_groups() == set(twelve[:10])
        wait_for(lambda: unheld(postgres_database, liveness) == ["g11", "g12"])
        time.sleep(3 * liveness.heartbeat)  # several syncs: still told once
        assert unheld_sentences(postgres_database) == [
            "Channel groups g11 and g12 have no instance to take them in: each instance takes "
            "in at most 10; start another instance."
        ]
        report = instances_report(postgres_database, "solo", liveness, active=True)
        assert report.splitlines()[0] == "Instances on this database (this one: solo, active):"
        assert report.splitlines()[-1] == (
            "- no instance takes in g11, g12: each takes in at most 10 groups; "
            "start another instance"
        )

        other = Election(postgres_database, liveness=liveness, me=Me(id="other")).start()
        other_groups = GroupAssignment(other, lambda added, removed: None).start()
        wait_for(lambda: len(mine.my_groups()) == len(other_groups.my_groups()) == 6)
        assert mine.my_groups() | other_groups.my_groups() == set(twelve)
        wait_for(lambda: unheld(postgres_database, liveness) == [])
        report = instances_report(postgres_database, "solo", liveness, active=True)
        assert "no instance takes in" not in report
        assert len(unheld_sentences(postgres_database)) == 1
    finally:
        for assignment in (other_groups, mine):
            if assignment is not None:
                assignment.stop()
        for election in (other, solo):
            if election is not None:
                election.stop()
    # "other" stopping first leaves g11 and g12 to nobody again: told again; "solo", the last
    # to stop, tells nobody (the next instance to start takes every group in).
    assert unheld_sentences(postgres_database) == 2 * [
        "Channel groups g11 and g12 have no instance to take them in: each instance takes "
        "in at most 10; start another instance."
    ]
