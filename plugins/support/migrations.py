"""Creates the schema on a new database and upgrades an older one, step by step.

A new database gets the current tables at once. An existing one records its version in
``support_schema_version``; each upgrade step moves it one version forward inside the same
transaction as the version bump, so an interrupted upgrade is retried from where it stood.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, insert, inspect, select, text, update

from errbot_instances.postgres import lock_key
from errbot_support.tables import metadata, relay_notices, reminders, schema_version

SCHEMA_VERSION = 7
SCHEMA_LOCK = lock_key("errbot-support:schema")


@dataclass(frozen=True)
class Upgrade:
    """Moves a database from ``version - 1`` to ``version``."""

    version: int
    description: str
    apply: Callable[[Connection], None]


def _add_rating(connection: Connection) -> None:
    connection.execute(text("ALTER TABLE support_conversations ADD COLUMN rating INTEGER"))


def _add_agent_room(connection: Connection) -> None:
    connection.execute(text("ALTER TABLE support_conversations ADD COLUMN agent_room VARCHAR(512)"))


def _add_customer_details(connection: Connection) -> None:
    connection.execute(text("ALTER TABLE support_conversations ADD COLUMN customer_details JSON"))


def _add_thread_key(connection: Connection) -> None:
    connection.execute(text("ALTER TABLE support_conversations ADD COLUMN thread_key VARCHAR(64)"))
    connection.execute(
        text("CREATE INDEX ix_support_conversations_thread ON support_conversations (thread_key)")
    )


def _add_relay_notices(connection: Connection) -> None:
    relay_notices.create(connection, checkfirst=True)  # with its index


def _add_senders_and_reminders(connection: Connection) -> None:
    connection.execute(text("ALTER TABLE support_entries ADD COLUMN sender VARCHAR(64)"))
    reminders.create(connection, checkfirst=True)


# Ordered upgrade steps, appended whenever the tables change.
UPGRADES: tuple[Upgrade, ...] = (
    Upgrade(2, "conversations keep the customer's rating", _add_rating),
    Upgrade(3, "conversations keep the agent room serving them", _add_agent_room),
    Upgrade(
        4, "conversations keep what the customer's network said of them", _add_customer_details
    ),
    Upgrade(5, "conversations keep their thread in the agent room", _add_thread_key),
    Upgrade(6, "the relays' notices are kept until posted", _add_relay_notices),
    Upgrade(
        7,
        "deliveries name the instance sending them; reminders are kept",
        _add_senders_and_reminders,
    ),
)


class SchemaError(Exception):
    """The database cannot be used by this version of the plugin."""


def current_version(connection: Connection) -> int | None:
    """The schema version of the database, or None when it holds no support tables yet."""
    if not inspect(connection).has_table(schema_version.name):
        return None
    return connection.execute(select(schema_version.c.version)).scalar_one_or_none()


def migrate(
    engine: Engine,
    *,
    upgrades: Sequence[Upgrade] = UPGRADES,
    latest: int = SCHEMA_VERSION,
) -> int:
    """Bring the database to ``latest`` and return the version it started from (0 if new)."""
    with engine.begin() as connection:
        _one_at_a_time(connection)
        found = current_version(connection)
        if found is None:
            metadata.create_all(connection)
            connection.execute(insert(schema_version).values(version=latest))
            return 0
        if found > latest:
            raise SchemaError(
                f"the database schema is at version {found}, newer than version {latest} "
                "that this plugin knows: upgrade errbot-pubnub-support"
            )
    for step in sorted(upgrades, key=lambda u: u.version):
        if found < step.version <= latest:
            with engine.begin() as connection:
                _one_at_a_time(connection)
                if current_version(connection) != step.version - 1:
                    continue  # another process applied it meanwhile
                step.apply(connection)
                connection.execute(update(schema_version).values(version=step.version))
    return found


def _one_at_a_time(connection: Connection) -> None:
    """On PostgreSQL, bots starting together create or upgrade the tables one after the other
    (two concurrent ``CREATE TABLE`` of one name collide in the catalog): a lock held until the
    transaction ends."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
