"""What the bots sharing one delivery database published, so each knows the others' as its own.

Bots that share the channel groups (``PUBNUB_SHARE_GROUPS``) publish under one support user id:
a reply one of them publishes comes back to whichever bot takes that customer's channel in,
which would otherwise count it as a message posing as support (see ``errbot_pubnub.inbound``).
Each bot writes what it publishes in the shared ``pubnub_published`` table; a message under the
support user id that a bot did not publish itself is looked up there, waiting a moment for the
publisher to write it (the echo can come back before the publisher's write).
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import Engine, text

from errbot_common.database import lock_schema

log = logging.getLogger(__name__)

WAIT_SECONDS = 2.0  # how long an unknown publication is looked for before counting as foreign
LOOK_EVERY = 0.05
KEEP_DAYS = 2
PRUNE_EVERY = 1000  # publications between two prunings

_CREATE = text(
    "CREATE TABLE IF NOT EXISTS pubnub_published ("
    " channel text NOT NULL, timetoken bigint NOT NULL,"
    " published_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
    " PRIMARY KEY (channel, timetoken))"
)
_ADD = text(
    "INSERT INTO pubnub_published (channel, timetoken) VALUES (:channel, :timetoken)"
    " ON CONFLICT DO NOTHING"
)
_HAS = text("SELECT 1 FROM pubnub_published WHERE channel = :channel AND timetoken = :timetoken")
_PRUNE = text(
    "DELETE FROM pubnub_published"
    " WHERE published_at < clock_timestamp() - make_interval(days => :days)"
)


class SharedPublications:
    """The publications of every bot on a PostgreSQL delivery database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._count = 0
        self._lock = threading.Lock()
        with engine.begin() as connection:
            lock_schema(connection)  # bots starting together would each create the table
            connection.execute(_CREATE)

    def add(self, channel: str, timetoken: int) -> None:
        """This bot published ``timetoken`` in ``channel`` (a failure is logged: the others
        then report the echo as posing, which says more than losing it)."""
        with self._lock:
            self._count += 1
            prune = self._count % PRUNE_EVERY == 0
        try:
            with self._engine.begin() as connection:
                connection.execute(_ADD, {"channel": channel, "timetoken": timetoken})
                if prune:
                    connection.execute(_PRUNE, {"days": KEEP_DAYS})
        except Exception as exc:
            log.warning("Could not share a publication in %s: %s", channel, exc)

    def has(self, channel: str, timetoken: int, wait: float = WAIT_SECONDS) -> bool:
        """Whether one of the bots published ``timetoken`` in ``channel``."""
        deadline = time.monotonic() + wait
        while True:
            try:
                with self._engine.connect() as connection:
                    found = connection.execute(
                        _HAS, {"channel": channel, "timetoken": timetoken}
                    ).first()
            except Exception as exc:
                log.warning("Could not look up a publication in %s: %s", channel, exc)
                return False
            if found is not None:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(LOOK_EVERY)
