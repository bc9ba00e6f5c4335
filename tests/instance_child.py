"""An instance in a process of its own, for the tests that kill one for real.

``python -m tests.instance_child URL BOUND [GROUP ...]`` runs an election (and, given groups,
a group assignment) and prints what happens as JSON lines on stdout, each with the
``time.monotonic()`` of the moment (one clock for every process on the machine):
``{"event": "id", "id": ...}`` first, then ``active``, ``inactive``, ``groups`` (``added``,
``removed``), and ``act`` every 20 ms while :meth:`Election.is_active` allows acting.
"""

from __future__ import annotations

import json
import sys
import threading
import time

from errbot_instances.assignment import GroupAssignment
from errbot_instances.election import Election
from errbot_instances.postgres import Liveness

_print_lock = threading.Lock()


def say(event: str, t: float | None = None, **fields) -> None:
    line = json.dumps({"event": event, "t": time.monotonic() if t is None else t, **fields})
    with _print_lock:
        print(line, flush=True)


def main(url: str, bound: str, *groups: str) -> None:
    election = Election(
        url,
        on_active=lambda: say("active"),
        on_inactive=lambda why: say("inactive", why=why),
        liveness=Liveness(float(bound)),
    )
    say("id", id=election.id)
    election.start()
    if groups:
        GroupAssignment(
            election,
            lambda added, removed: say("groups", added=sorted(added), removed=sorted(removed)),
            groups=groups,
        ).start()
    while True:
        t = time.monotonic()  # taken before the check: an act is allowed as of then
        if election.is_active():
            say("act", t)
        time.sleep(0.02)


if __name__ == "__main__":
    main(*sys.argv[1:])
