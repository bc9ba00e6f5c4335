"""Which instance takes in which channel group, kept in PostgreSQL.

Each instance syncs every :attr:`Liveness.heartbeat` seconds, in one transaction under an
advisory lock (so syncs never interleave): it forgets the instances unheard for
:attr:`Liveness.stale` seconds, computes the owner of every group over the live instances
(:mod:`errbot_instances.rendezvous`, at most 10 groups each, what one PubNub subscriber may
hold; groups beyond wait for another instance, :mod:`errbot_instances.unheld`) and writes what
changed. A group held by a gone instance goes straight to its new owner; a group held by a live
instance is handed over by that instance, which stops taking it in first. An instance takes a
group in only once the database says it holds it, and stops when its own heartbeat has gone
unconfirmed for :attr:`Liveness.fence` seconds, before the others count it gone: so a group is
never taken in by two instances at the same moment.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from errbot_instances.election import Alone, Election, call_safely
from errbot_instances.losses import shared_out
from errbot_instances.postgres import close_quietly, connect, first_line, lock_key
from errbot_instances.registry import forget_stale, set_intake, taking_groups
from errbot_instances.rendezvous import Holding, rebalance
from errbot_instances.schema import ensure_schema
from errbot_instances.unheld import tell_newly_unheld

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

GROUPS_KEY = lock_key("errbot-instances:groups")
NEVER = float("-inf")
GROUP_CALLBACK = "A channel group callback"

#: ``on_change(added, removed)``: start taking in ``added``; stop taking in ``removed``, and
#: be done with it on return (the group is handed over right after).
OnChange = Callable[[frozenset[str], frozenset[str]], None]
#: ``on_lost(instances)``: these instances (id, host, pid) went silent and were forgotten.
OnLost = Callable[[list[tuple[str, str, int]]], None]


class GroupAssignment:
    """This instance's share of the channel groups, beside its :class:`Election` (whose
    heartbeat says that this instance is alive)."""

    def __init__(
        self,
        election: Election,
        on_change: OnChange,
        *,
        groups: Iterable[str] = (),
        on_lost: OnLost = lambda instances: None,
    ) -> None:
        self._election = election
        self._liveness = election.liveness
        self._on_change = on_change
        self._on_lost = on_lost
        self._new_groups = set(groups)
        self._mine: frozenset[str] = frozenset()
        self._confirmed = NEVER
        self._changing = threading.RLock()
        self._stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._sync_loop, name="instance-groups", daemon=True),
            threading.Thread(target=self._watch_loop, name="instance-groups-watch", daemon=True),
        ]

    @property
    def id(self) -> str:
        return self._election.id

    def start(self) -> GroupAssignment:
        for thread in self._threads:
            thread.start()
        return self

    def add_groups(self, names: Iterable[str]) -> None:
        """Groups to share out from the next sync on (a group already known stays as it is)."""
        with self._changing:
            self._new_groups.update(names)

    def my_groups(self) -> frozenset[str]:
        """The groups this instance takes in at this moment."""
        return frozenset() if self._fenced() else self._mine

    def stop(self, timeout: float | None = None) -> None:
        """Stop taking groups in and hand them to the other live instances at once."""
        self._stopping.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(self._liveness.bound if timeout is None else timeout)
        self._keep(frozenset())
        try:
            with connect(self._election.url, self._liveness) as connection:
                self._sync(connection, leaving=True)
        except Exception as problem:  # the others take them when we go stale
            log.warning("Handing the channel groups over failed (%s).", first_line(problem))

    # ------------------------------------------------------------------ threads

    def _sync_loop(self) -> None:
        connection: psycopg.Connection | None = None
        while not self._stopping.is_set():
            if self._fenced():
                self._keep(frozenset())
            try:
                if connection is None:
                    connection = connect(self._election.url, self._liveness)
                    ensure_schema(connection)
                self._sync(connection)
            except Exception as problem:  # retried at the next beat
                log.warning("Syncing the channel groups failed (%s).", first_line(problem))
                close_quietly(connection)
                connection = None
            self._stopping.wait(self._liveness.heartbeat)
        close_quietly(connection)

    def _watch_loop(self) -> None:
        while not self._stopping.wait(self._liveness.heartbeat / 2):
            if self._mine and self._fenced():
                log.warning("This instance (%s) stops taking its channel groups in.", self.id)
                self._keep(frozenset())

    def _sync(self, connection: psycopg.Connection, *, leaving: bool = False) -> None:
        me, sent = self.id, time.monotonic()
        with self._changing:
            new_groups, self._new_groups = self._new_groups, set()
        try:
            with connection.transaction():
                connection.execute("SELECT pg_advisory_xact_lock(%s)", (GROUPS_KEY,))
                made = (
                    connection.execute(
                        "INSERT INTO instance_groups (name) SELECT unnest(%s::text[])"
                        " ON CONFLICT DO NOTHING RETURNING name",
                        (sorted(new_groups),),
                    ).fetchall()
                    if new_groups
                    else []
                )
                set_intake(connection, me, not leaving)
                lost = forget_stale(connection, self._liveness.stale)
                live = taking_groups(connection)
                groups = {
                    name: Holding(holder, target)
                    for name, holder, target in connection.execute(
                        "SELECT name, holder, target FROM instance_groups"
                    )
                }
                changed = rebalance(groups, live)
                shared_out(connection, lost, groups, changed)
                after = {**groups, **changed}
                tell_newly_unheld(connection, groups, after, {m for (m,) in made}, live)
                if changed:
                    connection.cursor().executemany(
                        "UPDATE instance_groups SET holder = %s, target = %s,"
                        " since = CASE WHEN holder IS DISTINCT FROM %s"
                        " THEN clock_timestamp() ELSE since END WHERE name = %s",
                        [(h.holder, h.target, h.holder, name) for name, h in changed.items()],
                    )
        except BaseException:
            with self._changing:
                self._new_groups |= new_groups
            raise
        if lost:
            call_safely(GROUP_CALLBACK, self._on_lost, [i for i in lost if i[0] != me])
        if leaving:
            return
        self._confirmed = sent
        groups.update(changed)
        held = {name for name, h in groups.items() if h.holder == me}
        mine = {name for name in held if groups[name].target == me}
        self._keep(frozenset() if me not in live or self._fenced() else frozenset(mine))
        handing_over = sorted(held - mine)
        if handing_over:
            connection.execute(
                "UPDATE instance_groups SET holder = target, since = clock_timestamp()"
                " WHERE name = ANY(%s) AND holder = %s",
                (handing_over, me),
            )

    def _keep(self, groups: frozenset[str]) -> None:
        """Take in exactly ``groups`` from now on: what is dropped is dropped before return."""
        with self._changing:
            added, removed = groups - self._mine, self._mine - groups
            if not (added or removed):
                return
            self._mine = groups
            call_safely(GROUP_CALLBACK, self._on_change, added, removed)

    def _fenced(self) -> bool:
        """Whether this instance may count itself gone in the others' eyes by now."""
        last = min(self._confirmed, self._election.confirmed_at())
        return time.monotonic() - last > self._liveness.fence


class AllGroups:
    """The assignment where there is only ever one instance (SQLite): it holds every group,
    from :meth:`start` to :meth:`stop`, with the same interface as :class:`GroupAssignment`."""

    def __init__(self, on_change: OnChange, *, groups: Iterable[str] = ()) -> None:
        self._on_change = on_change
        self._groups = frozenset(groups)
        self._mine: frozenset[str] = frozenset()
        self._changing = threading.Lock()

    def start(self) -> AllGroups:
        self._keep(self._groups)
        return self

    def add_groups(self, names: Iterable[str]) -> None:
        with self._changing:
            self._groups |= frozenset(names)
            started = bool(self._mine)
        if started:
            self._keep(self._groups)

    def my_groups(self) -> frozenset[str]:
        return self._mine

    def stop(self, timeout: float | None = None) -> None:
        self._keep(frozenset())

    def _keep(self, groups: frozenset[str]) -> None:
        with self._changing:
            added, removed = groups - self._mine, self._mine - groups
            self._mine = groups
        if added or removed:
            call_safely(GROUP_CALLBACK, self._on_change, added, removed)


def share(
    election: Election | Alone,
    on_change: OnChange,
    *,
    groups: Iterable[str] = (),
    on_lost: OnLost = lambda instances: None,
) -> GroupAssignment | AllGroups:
    """This instance's share of ``groups``: a :class:`GroupAssignment` beside a PostgreSQL
    :class:`Election`, every group (:class:`AllGroups`) for the one instance on SQLite."""
    if isinstance(election, Alone):
        return AllGroups(on_change, groups=groups)
    return GroupAssignment(election, on_change, groups=groups, on_lost=on_lost)
