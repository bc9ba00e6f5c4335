"""One instance per process and database, whoever in the process asks for it.

The Support plugin (on ``SUPPORT_DB_URL``) and the PubNub backend (on
``PUBNUB_DELIVERY_DB_URL``) of one bot are one instance: one row, one heartbeat, one candidate
for the active role. Two elections in one process would compete with each other, and the
plugin's could stand by for ever behind the backend's. So each asks :func:`join` for the
process's election on its database and watches it; the first join starts it, the last
:func:`leave` stops it (releasing the lock at once). When the process begins a graceful stop,
:func:`stopping` hands the active role over before anything else stops.
"""

from __future__ import annotations

import logging
import threading

from errbot_instances.election import Alone, Election, elect
from errbot_instances.postgres import Liveness
from errbot_instances.registry import Me

log = logging.getLogger(__name__)
_lock = threading.Lock()
_joined: dict[str, tuple[Election | Alone, int]] = {}
_identities: dict[str, Me] = {}


def me(url: str) -> Me:
    """This process as the instances on ``url`` know it, the same before, during and after
    :func:`join` (the Support plugin names it on the deliveries it records)."""
    with _lock:
        return _identities.setdefault(url, Me())


def join(url: str, liveness: Liveness | None = None) -> Election | Alone:
    """This process's election among the instances on ``url`` (started if it was not yet,
    with ``liveness``: the first join's counts). Give the same URL everywhere in the process:
    it is what tells databases apart."""
    with _lock:
        election, joined = _joined.get(url, (None, 0))
        if election is None:
            election = elect(url, liveness=liveness, me=_identities.setdefault(url, Me())).start()
        elif isinstance(election, Election) and liveness not in (None, election.liveness):
            log.warning(
                "This instance keeps the takeover bound it started with (%g s), not %g s.",
                election.liveness.bound,
                liveness.bound,
            )
        _joined[url] = (election, joined + 1)
        return election


def leave(election: Election | Alone) -> None:
    """Give up one :func:`join`; the last one stops the election."""
    with _lock:
        for url, (joined_election, joined) in list(_joined.items()):
            if joined_election is not election:
                continue
            if joined > 1:
                _joined[url] = (election, joined - 1)
                return
            del _joined[url]
            break
        else:
            return
    election.stop()


def stopping(url: str) -> None:
    """This process has begun a graceful stop (SIGTERM, SIGINT): its instance on ``url``, if
    it joined one, hands the active role over at once, while its networks and channel groups
    stop, rather than when its plugins are deactivated last (what it takes in meanwhile is in
    the shared store, for the next active instance)."""
    with _lock:
        election, _ = _joined.get(url, (None, 0))
    if election is None:
        return
    try:
        election.step_down()
    except Exception:  # the others take over when this one's heartbeat stops
        log.exception("Handing the active role over failed.")
