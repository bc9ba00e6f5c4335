"""The backend's own database: what it has handled, where to resume, what it could not deliver.

One SQLite file in ``BOT_DATA_DIR`` by default (any SQLAlchemy URL SQLite or PostgreSQL
understands works too), created on first use. SQLite runs in WAL mode with ``synchronous =
NORMAL``: a committed transaction survives the process being killed (only a power cut can take
the last few back, and what it takes back is merely delivered again and deduplicated
downstream), while a commit costs no disk flush, which keeps acknowledgements cheap.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    delete,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from errbot_common.database import DELIVERY_DATABASE, lock_schema, open_engine
from errbot_pubnub.settings import PubNubConfigurationError

log = logging.getLogger(__name__)

SCHEMA_VERSION = "1"
RESUME_POINT = "resume_point"  # the timetoken channels without a cursor are caught up from
#: The resume point of one channel group (``resume_point:<group>``), kept when the instances
#: share the groups: a group taken over resumes where its last holder's catch-up ended.
GROUP_RESUME_POINT = RESUME_POINT + ":"

metadata = MetaData()

#: The newest acknowledged timetoken of each channel: catch-up resumes after it.
cursors = Table(
    "pubnub_channel_cursor",
    metadata,
    Column("channel", String, primary_key=True),
    Column("timetoken", BigInteger, nullable=False),
)

#: The most recently acknowledged messages, newest ids last: repeats among them are dropped.
recent_deliveries = Table(
    "pubnub_recent_delivery",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String, nullable=False),
    Column("timetoken", BigInteger, nullable=False),
    UniqueConstraint("channel", "timetoken", name="uq_pubnub_recent_delivery"),
)

#: Named values: the schema version and the resume point.
delivery_state = Table(
    "pubnub_delivery_state",
    metadata,
    Column("name", String, primary_key=True),
    Column("value", String, nullable=False),
)

#: Messages that could not be delivered, kept until replayed or pushed out by newer ones.
dead_letters = Table(
    "pubnub_dead_letter",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String, nullable=False),
    Column("timetoken", BigInteger, nullable=False),
    Column("publisher", String),
    Column("subscription", String),
    Column("payload", Text, nullable=False),  # JSON
    Column("meta", Text),  # JSON
    Column("reason", Text, nullable=False),
    Column("recorded_at", String, nullable=False),  # ISO 8601, UTC
)


@dataclass(frozen=True)
class DeliveryState:
    """What a starting backend reads back: cursors, the recent window, the resume point."""

    cursors: dict[str, int]
    recent: list[tuple[str, int]]
    resume_point: int | None
    group_resume_points: dict[str, int] = field(default_factory=dict)


def default_url(data_dir: str | Path, subscribe_key: str) -> str:
    """One file per keyset: two PubNub networks of one bot must not share cursors."""
    safe_key = "".join(c if c.isalnum() or c in "-_" else "_" for c in subscribe_key)
    return f"sqlite:///{Path(data_dir) / f'pubnub-delivery-{safe_key}.sqlite'}"


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=repr)


class DeliveryDatabase:
    """The engine and the few statements the backend needs; safe to use from any thread."""

    def __init__(self, url: str) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise PubNubConfigurationError(
                f"PUBNUB_DELIVERY_DB_URL {url!r} is not a database URL: {exc}."
            ) from None
        self.dialect = parsed.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise PubNubConfigurationError(
                f"PUBNUB_DELIVERY_DB_URL {url!r} must be an SQLite or PostgreSQL URL."
            )
        self.url = url
        try:
            self.engine = open_engine(parsed, DELIVERY_DATABASE)
            with self.engine.begin() as connection:
                lock_schema(connection)
                metadata.create_all(connection)
                self._set_state(connection, "schema_version", SCHEMA_VERSION)
        except (SQLAlchemyError, OSError) as exc:
            raise PubNubConfigurationError(
                f"PUBNUB_DELIVERY_DB_URL {url!r} cannot be opened: {exc.__class__.__name__}: "
                f"{_first_line(exc)}."
            ) from None
        # Built once: the writer runs them every few milliseconds.
        self._remember = self._insert(recent_deliveries).on_conflict_do_nothing()
        upsert = self._insert(cursors)
        self._advance = upsert.on_conflict_do_update(
            index_elements=[cursors.c.channel],
            set_={"timetoken": upsert.excluded.timetoken},
            where=upsert.excluded.timetoken > cursors.c.timetoken,
        )
        newest = select(func.max(recent_deliveries.c.id)).scalar_subquery()
        self._prune = delete(recent_deliveries).where(
            recent_deliveries.c.id <= newest - bindparam("keep")
        )

    def _insert(self, table: Table) -> Any:
        dialect = sqlite if self.dialect == "sqlite" else postgresql
        return dialect.insert(table)

    def _set_state(self, connection: Any, name: str, value: str) -> None:
        statement = self._insert(delivery_state).values(name=name, value=value)
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=[delivery_state.c.name], set_={"value": value}
            )
        )

    def load(self, window: int) -> DeliveryState:
        with self.engine.connect() as connection:
            rows = connection.execute(select(cursors.c.channel, cursors.c.timetoken))
            found = {channel: int(timetoken) for channel, timetoken in rows}
            recent = connection.execute(
                select(recent_deliveries.c.channel, recent_deliveries.c.timetoken)
                .order_by(recent_deliveries.c.id.desc())
                .limit(window)
            ).all()
            points = connection.execute(
                select(delivery_state.c.name, delivery_state.c.value).where(
                    delivery_state.c.name.startswith(RESUME_POINT, autoescape=True)
                )
            ).all()
        by_name = {name: int(value) for name, value in points}
        return DeliveryState(
            cursors=found,
            recent=[(channel, int(tt)) for channel, tt in reversed(recent)],
            resume_point=by_name.get(RESUME_POINT),
            group_resume_points={
                name[len(GROUP_RESUME_POINT) :]: value
                for name, value in by_name.items()
                if name.startswith(GROUP_RESUME_POINT)
            },
        )

    def record_acknowledgements(
        self,
        handled: Iterable[tuple[str, int]],
        resume_point: int | None,
        keep: int,
        group_resume_points: dict[str, int] | None = None,
    ) -> None:
        """One transaction: the recent window, every channel's newest cursor, the resume point
        (and those of channel groups).

        ``keep`` is how many recent rows to keep; older ones are pruned in the same go.
        """
        handled = list(handled)
        newest: dict[str, int] = {}
        for channel, timetoken in handled:
            if timetoken > newest.get(channel, -1):
                newest[channel] = timetoken
        with self.engine.begin() as connection:
            if handled:
                connection.execute(
                    self._remember, [{"channel": c, "timetoken": tt} for c, tt in handled]
                )
                connection.execute(
                    self._advance, [{"channel": c, "timetoken": tt} for c, tt in newest.items()]
                )
                connection.execute(self._prune, {"keep": keep})
            if resume_point is not None:
                self._set_state(connection, RESUME_POINT, str(resume_point))
            for group, point in sorted((group_resume_points or {}).items()):
                self._set_state(connection, GROUP_RESUME_POINT + group, str(point))

    def close(self) -> None:
        self.engine.dispose()


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
