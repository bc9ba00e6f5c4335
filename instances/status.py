"""What the instances on one database are doing, for ``!support status`` and for admins."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from errbot_instances.postgres import Liveness, connect
from errbot_instances.registry import ACTIVE, STANDBY
from errbot_instances.rendezvous import GROUPS_PER_SUBSCRIBER, natural

_INSTANCES = """
    SELECT i.id, i.host, i.pid, i.role, i.started_at, i.heard_at,
           i.heard_at > clock_timestamp() - make_interval(secs => %s) AS live,
           coalesce(array_agg(g.name ORDER BY g.name) FILTER (WHERE g.name IS NOT NULL), '{}'),
           clock_timestamp()
    FROM instances i LEFT JOIN instance_groups g ON g.holder = i.id
    GROUP BY i.id ORDER BY i.started_at, i.id
"""


@dataclass(frozen=True)
class InstanceState:
    id: str
    host: str
    pid: int
    role: str  # "active", "standby" or "lost" (unheard too long to be counted alive)
    groups: tuple[str, ...]  # the channel groups it holds
    started_at: datetime
    heard_at: datetime
    heard_ago: timedelta  # by the database server's clock, as ``heard_at``


def instances(url: str, liveness: Liveness | None = None) -> list[InstanceState]:
    """The instances known on ``url`` (a PostgreSQL database), oldest first."""
    liveness = liveness or Liveness()
    with connect(url, liveness) as connection:
        exists = connection.execute("SELECT to_regclass('instance_groups') IS NOT NULL")
        if not exists.fetchone()[0]:
            return []
        rows = connection.execute(_INSTANCES, (liveness.stale,)).fetchall()
    return [
        InstanceState(
            id=id_,
            host=host,
            pid=pid,
            role=(role if role in (ACTIVE, STANDBY) else "lost") if live else "lost",
            groups=tuple(groups),
            started_at=started_at,
            heard_at=heard_at,
            heard_ago=max(now - heard_at, timedelta(0)),
        )
        for id_, host, pid, role, started_at, heard_at, live, groups, now in rows
    ]


def unheld(url: str, liveness: Liveness | None = None) -> list[str]:
    """The channel groups no instance takes in (more than the instances can hold), in order."""
    liveness = liveness or Liveness()
    with connect(url, liveness) as connection:
        exists = connection.execute("SELECT to_regclass('instance_groups') IS NOT NULL")
        if not exists.fetchone()[0]:
            return []
        rows = connection.execute(
            "SELECT name FROM instance_groups WHERE holder IS NULL AND target IS NULL"
        ).fetchall()
    return sorted((name for (name,) in rows), key=natural)


def describe(states: list[InstanceState], waiting: Sequence[str] = ()) -> list[str]:
    """One line per instance, e.g. ``3f9a0c1e on web-2 (pid 4120): active, groups
    support-1, support-2; heard 0.4 s ago``; then one about the groups ``waiting`` for an
    instance to take them in, if any."""
    if not states:
        return ["No instances are registered on this database."]
    lines = []
    for state in states:
        groups = ", ".join(state.groups) if state.groups else "none"
        label = "group" if len(state.groups) == 1 else "groups"
        lines.append(
            f"{state.id} on {state.host} (pid {state.pid}): {state.role}, {label} {groups}; "
            f"heard {state.heard_ago.total_seconds():.1f} s ago"
        )
    if waiting:
        lines.append(
            f"no instance takes in {', '.join(waiting)}: each takes in at most "
            f"{GROUPS_PER_SUBSCRIBER} groups; start another instance"
        )
    return lines
