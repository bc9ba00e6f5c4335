"""Which instance is active toward the agents: the one holding a PostgreSQL advisory lock.

Every instance keeps one dedicated session on which it beats its heart (its ``instances``
row) every :attr:`Liveness.heartbeat` seconds; a standby also tries for the lock each time.
The lock is a session lock, so the server drops it when the holder's session ends: at once for
a killed process (its socket closes), within :attr:`Liveness.server_release` for a dead machine,
a cut network or a frozen process. The holder stops acting on the first failed heartbeat, and
at the latest :attr:`Liveness.fence` seconds after its last confirmed one, which is before the
server can let the lock go; so two instances never act at the same moment. A graceful stop
stops acting, then releases the lock at once; it starts with :meth:`Election.step_down`, which
hands the role over while the rest of the process (its networks, its channel groups) stops.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from errbot_instances.losses import took_over_active
from errbot_instances.postgres import (
    Liveness,
    close_quietly,
    connect,
    first_line,
    is_postgresql,
    lock_key,
)
from errbot_instances.registry import ACTIVE, STANDBY, Me, forget, heartbeat, others_alive
from errbot_instances.schema import ensure_schema

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

ACTIVE_KEY = lock_key("errbot-instances:active")
NEVER = float("-inf")
STOPPING = "this instance is stopping"


OnActive = Callable[[], None]
OnInactive = Callable[[str], None]


class _Watched:
    """The watchers of an election: ``on_active()`` when this instance becomes the active one,
    ``on_inactive(why)`` when it must stop acting. For each watcher the two alternate and
    never overlap; they run on the election's threads (or on the thread calling ``stop`` or
    :meth:`watch`). A callback that raises is logged."""

    def __init__(self) -> None:
        self._transition = threading.RLock()  # callbacks one at a time, state with them
        self._watchers: list[tuple[OnActive, OnInactive]] = []
        self._acting = False

    def watch(
        self, on_active: OnActive = lambda: None, on_inactive: OnInactive = lambda why: None
    ) -> Callable[[], None]:
        """Add a watcher (told at once if this instance is active already); returns the
        function that removes it."""
        pair = (on_active, on_inactive)
        with self._transition:
            self._watchers.append(pair)
            if self._acting:
                call_safely("An instance callback", on_active)

        def unwatch() -> None:
            with self._transition:
                if pair in self._watchers:
                    self._watchers.remove(pair)

        return unwatch

    def _became_active(self) -> None:
        with self._transition:
            self._acting = True
            for on_active, _ in list(self._watchers):
                call_safely("An instance callback", on_active)

    def _became_inactive(self, why: str) -> None:
        with self._transition:
            self._acting = False
            for _, on_inactive in list(self._watchers):
                call_safely("An instance callback", on_inactive, why)


def call_safely(what: str, callback: Callable[..., None], *args: object) -> None:
    """Call a watcher's ``callback``: one that fails is logged (as ``what``), and the instance
    goes on telling the others."""
    try:
        callback(*args)
    except Exception:
        log.exception("%s failed.", what)


class Election(_Watched):
    """This instance's part in choosing the active one (see the module docstring); its
    watchers are told when it becomes active and when it must stop acting (the connection
    failed, its heartbeat went unconfirmed, or it is stopping)."""

    def __init__(
        self,
        url: str,
        *,
        on_active: OnActive = lambda: None,
        on_inactive: OnInactive = lambda why: None,
        liveness: Liveness | None = None,
        me: Me | None = None,
    ) -> None:
        super().__init__()
        self.url = url
        self.me = me or Me()
        self.liveness = liveness or Liveness()
        self.watch(on_active, on_inactive)
        self._holding = False
        self._reconnect = False  # set when fenced: the session is not to be trusted
        self._confirmed = NEVER  # monotonic time the last confirmed heartbeat was sent
        self._stopping = threading.Event()
        self._stepping_down = False  # a graceful stop began: never take the role again
        self._released = threading.Event()  # stepped down: the row says so, the lock is free
        self._wake = threading.Event()  # beat now rather than at the next heartbeat
        self._heard = threading.Event()  # a heartbeat was confirmed: the row is there
        self._threads = [
            threading.Thread(target=self._beat_loop, name="instance-heartbeat", daemon=True),
            threading.Thread(target=self._watch_loop, name="instance-watchdog", daemon=True),
        ]

    @property
    def id(self) -> str:
        return self.me.id

    def start(self) -> Election:
        for thread in self._threads:
            thread.start()
        return self

    def step_down(self, timeout: float | None = None) -> bool:
        """A graceful stop has begun: give the active role up at once to another live instance
        (stop acting, mark this row standing by, then release the lock, in that order, so that
        the next one takes over at its next heartbeat and counts nothing lost), and never take
        it again. The heart goes on beating until :meth:`stop`, so the channel groups stay held
        until their own hand-over. Kept while no other instance is alive to take over (the
        role is then given up at :meth:`stop`). Returns whether the role is free of this one."""
        with self._transition:
            if self._stepping_down:
                return self._released.is_set()
        if self.is_active() and not self._others_alive():
            log.info("This instance (%s) stops with nobody to hand over to.", self.id)
            return False
        with self._transition:
            self._stepping_down = True
            if self._holding:
                self._holding = False
                log.info("This instance (%s) hands the active role over.", self.id)
                self._became_inactive(STOPPING)
        self._wake.set()
        return self._released.wait(self.liveness.fence if timeout is None else timeout)

    def stop(self, timeout: float | None = None) -> None:
        """Stop acting, then release the lock and remove this instance's row."""
        self._stopping.set()
        self._wake.set()
        self._lose(STOPPING)
        for thread in self._threads:
            if thread.is_alive():
                thread.join(self.liveness.bound if timeout is None else timeout)

    def is_active(self) -> bool:
        """Whether this instance may act toward the agents at this moment."""
        return self._holding and not self._fenced()

    def wait_heard(self, timeout: float) -> bool:
        """Wait until this instance's row is in the table (its first confirmed heartbeat), so
        that the others count it alive from then on; whether it is."""
        return self._heard.wait(timeout)

    def confirmed_at(self) -> float:
        """When (``time.monotonic()``) the last heartbeat the database confirmed was sent:
        the others count this instance alive until :attr:`Liveness.stale` after it."""
        return self._confirmed

    # ------------------------------------------------------------------ threads

    def _beat_loop(self) -> None:
        connection: psycopg.Connection | None = None
        while not self._stopping.is_set():
            try:
                if connection is None:
                    connection = connect(self.url, self.liveness)
                    ensure_schema(connection)
                if self._stepping_down and not self._released.is_set():
                    self._hand_over(connection)
                self._beat(connection)
            except Exception as problem:  # any failure means: not confirmed
                self._lose(f"the database connection failed ({first_line(problem)})")
                connection = self._drop(connection)
            if self._reconnect and not self._stopping.is_set():
                connection = self._drop(connection)
            self._wake.wait(self.liveness.heartbeat)
            self._wake.clear()
        self._leave(connection)

    def _watch_loop(self) -> None:
        while not self._stopping.wait(self.liveness.heartbeat / 2):
            if self._holding and self._fenced():
                self._lose(f"no heartbeat confirmed for {self.liveness.fence:g} s")

    def _beat(self, connection: psycopg.Connection) -> None:
        sent = time.monotonic()
        holding = self._holding
        if not holding and not self._stepping_down:
            holding = bool(
                connection.execute("SELECT pg_try_advisory_lock(%s)", (ACTIVE_KEY,)).fetchone()[0]
            )
        if holding and not self._holding:
            with connection.transaction():
                took_over_active(connection, self.me)
                heartbeat(connection, self.me, ACTIVE)
        else:
            heartbeat(connection, self.me, ACTIVE if holding else STANDBY)
        with self._transition:
            if self._stopping.is_set() or self._reconnect:
                return  # fenced or stopping meanwhile: this session no longer counts
            if self._stepping_down and holding:
                return  # stepped down meanwhile: the next beat hands over
            self._confirmed = sent
            self._heard.set()
            if holding and not self._holding:
                self._holding = True
                log.info("This instance (%s) is now the active one.", self.id)
                self._became_active()

    def _hand_over(self, connection: psycopg.Connection) -> None:
        """Stepping down: the row first (whoever takes over next must not count this one
        lost), then the lock."""
        heartbeat(connection, self.me, STANDBY)
        connection.execute("SELECT pg_advisory_unlock_all()")
        log.info("This instance (%s) released the active role.", self.id)
        self._released.set()

    def _others_alive(self) -> bool:
        """Whether another instance is alive to take the role over (yes if unsure)."""
        try:
            with connect(self.url, self.liveness) as connection:
                return others_alive(connection, self.id, self.liveness.stale)
        except Exception as problem:
            log.info("Could not count the other instances (%s).", first_line(problem))
            return True

    def _lose(self, why: str) -> None:
        with self._transition:
            if not self._holding:
                return
            self._holding = False
            self._reconnect = True
            log.warning("This instance (%s) stops acting: %s.", self.id, why)
            self._became_inactive(why)

    def _drop(self, connection: psycopg.Connection | None) -> None:
        """Close the session (freeing the lock if the server still holds it for us)."""
        close_quietly(connection)
        with self._transition:
            self._reconnect = False

    def _leave(self, connection: psycopg.Connection | None) -> None:
        if connection is None:
            return
        try:  # the row first: whoever takes over next must not count this one lost
            forget(connection, self.id)
            connection.execute("SELECT pg_advisory_unlock_all()")
        except Exception as problem:  # the server will forget us all the same
            log.info("Leaving cleanly failed (%s): the others will notice.", first_line(problem))
        close_quietly(connection)

    def _fenced(self) -> bool:
        return time.monotonic() - self._confirmed > self.liveness.fence


class Alone(_Watched):
    """The election where there is only ever one instance (SQLite, which :mod:`.sole` keeps to
    one bot): active from :meth:`start` to :meth:`stop`, with the same interface."""

    def __init__(
        self,
        *,
        on_active: OnActive = lambda: None,
        on_inactive: OnInactive = lambda why: None,
        me: Me | None = None,
    ) -> None:
        super().__init__()
        self.me = me or Me()
        self.watch(on_active, on_inactive)

    @property
    def id(self) -> str:
        return self.me.id

    def start(self) -> Alone:
        with self._transition:
            if not self._acting:
                self._became_active()
        return self

    def step_down(self, timeout: float | None = None) -> bool:
        """Nobody else can take over on SQLite: the one bot acts until :meth:`stop`."""
        return False

    def stop(self, timeout: float | None = None) -> None:
        with self._transition:
            if self._acting:
                self._became_inactive(STOPPING)

    def is_active(self) -> bool:
        return self._acting

    def wait_heard(self, timeout: float) -> bool:
        return True

    def confirmed_at(self) -> float:
        return time.monotonic()


def elect(
    url: str,
    *,
    on_active: OnActive = lambda: None,
    on_inactive: OnInactive = lambda why: None,
    liveness: Liveness | None = None,
    me: Me | None = None,
) -> Election | Alone:
    """An election among the instances on ``url``: a real one on PostgreSQL, :class:`Alone`
    on any other database."""
    if is_postgresql(url):
        return Election(url, on_active=on_active, on_inactive=on_inactive, liveness=liveness, me=me)
    return Alone(on_active=on_active, on_inactive=on_inactive, me=me)
