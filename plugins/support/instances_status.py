"""The instances part of ``!support status``: which bots share the database, which one faces
the agents, the channel groups each takes in, when each was last heard from."""

from __future__ import annotations

from errbot_instances.postgres import Liveness, first_line, is_postgresql
from errbot_instances.status import describe, instances, unheld


def instances_report(url: str, me: str | None, liveness: Liveness, *, active: bool) -> str:
    """The lines about the instances on ``url``; ``me``: this instance's id."""
    if not is_postgresql(url):
        return "Instances: this bot alone (an SQLite database serves one bot)."
    role = "active" if active else "standing by"
    try:
        found = instances(url, liveness)
        waiting = unheld(url, liveness)
    except Exception as exc:  # the database is down: say so, the rest of the status stands
        why = first_line(exc)
        return f"Instances: this one ({me}, {role}); the others cannot be listed ({why})."
    lines = [f"Instances on this database (this one: {me}, {role}):"]
    lines += [f"- {line}" for line in describe(found, waiting)]
    return "\n".join(lines)
