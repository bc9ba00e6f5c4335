"""The tables the instances share: who is there, who takes in which channel group, who was
lost, and what the ones standing by have for the admins.

Created on first use, under a transaction-level advisory lock so that instances starting
together do not race on ``CREATE TABLE``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from errbot_instances.postgres import lock_key

if TYPE_CHECKING:
    import psycopg

SCHEMA_KEY = lock_key("errbot-instances:schema")

STATEMENTS = (
    # One row per running instance; ``heard_at`` is the server's clock at its last heartbeat,
    # so instances never compare their own clocks. ``intake``: it takes channel
    # groups (set by its group assignment, never by its heartbeat).
    """CREATE TABLE IF NOT EXISTS instances (
        id text PRIMARY KEY,
        host text NOT NULL,
        pid integer NOT NULL,
        role text NOT NULL,
        intake boolean NOT NULL DEFAULT false,
        started_at timestamptz NOT NULL,
        heard_at timestamptz NOT NULL
    )""",
    # One row per channel group: ``holder`` takes it in now, ``target`` should; they differ
    # while a live holder hands the group over.
    """CREATE TABLE IF NOT EXISTS instance_groups (
        name text PRIMARY KEY,
        holder text,
        target text,
        since timestamptz
    )""",
    # One sentence per instance lost without a word and who took its work over, until the
    # active instance has told the admins (``told``).
    """CREATE TABLE IF NOT EXISTS instance_losses (
        seq bigserial PRIMARY KEY,
        instance text NOT NULL,
        said text NOT NULL,
        at timestamptz NOT NULL DEFAULT clock_timestamp(),
        told boolean NOT NULL DEFAULT false
    )""",
    # What an instance standing by has to tell the admins, until the active instance has
    # (``told``): see :mod:`.handed_notices`.
    """CREATE TABLE IF NOT EXISTS instance_notices (
        seq bigserial PRIMARY KEY,
        instance text NOT NULL,
        said text NOT NULL,
        at timestamptz NOT NULL DEFAULT clock_timestamp(),
        told boolean NOT NULL DEFAULT false
    )""",
)


def ensure_schema(connection: psycopg.Connection) -> None:
    """Create the tables if they are not there yet."""
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_KEY,))
        for statement in STATEMENTS:
            connection.execute(statement)
