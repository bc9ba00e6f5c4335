"""Bots started together on one fresh PostgreSQL database create their tables one after the
other: two concurrent ``CREATE TABLE IF NOT EXISTS`` of one name collide in PostgreSQL's
catalog, and the loser's backend would not start. Each creator waits for the schema lock."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import create_engine, inspect

from errbot_common.database import lock_schema
from errbot_pubnub.shared_publications import SharedPublications

pytest.importorskip("psycopg", reason="the postgresql extra (psycopg) is not installed")


def waits_for_the_schema_lock(url: str, create: Callable[[], object], table: str) -> None:
    holder = create_engine(url)
    done = threading.Event()
    failures: list[BaseException] = []

    def run() -> None:
        try:
            create()
        except BaseException as failure:  # reported by the test
            failures.append(failure)
        done.set()

    try:
        with holder.begin() as connection:
            lock_schema(connection)
            creator = threading.Thread(target=run, daemon=True)
            creator.start()
            # While another bot holds the lock, the table is not created.
            assert not done.wait(1.0), "the table was created while another bot held the lock"
        assert done.wait(30), "the table was not created once the lock was released"
        assert not failures, failures
        assert table in inspect(holder).get_table_names()
    finally:
        holder.dispose()


def test_the_shared_publications_table_is_created_under_the_schema_lock(postgres_database):
    engine = create_engine(postgres_database)
    try:
        waits_for_the_schema_lock(
            postgres_database, lambda: SharedPublications(engine), "pubnub_published"
        )
    finally:
        engine.dispose()


def test_bots_starting_together_all_get_their_shared_publications_table(postgres_database):
    engine = create_engine(postgres_database, pool_size=8)
    barrier = threading.Barrier(6)
    failures: list[BaseException] = []

    def start() -> None:
        barrier.wait()
        try:
            SharedPublications(engine)
        except BaseException as failure:
            failures.append(failure)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    engine.dispose()
    assert failures == []
