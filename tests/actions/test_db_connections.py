"""Engines of the project database: round trips recorded on the wire to a real PostgreSQL."""

import time
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import create_engine, select, text

from actions.db import Database
from actions.db_connections import create_project_engine, ping_when_idle, reading_engine
from actions.orders import OrderRepository
from actions.settings import Settings
from tests.actions.conftest import fixed_clock
from tests.pg_statements import StatementRecorder


@pytest.fixture
def recorded(postgres_url: str) -> Iterator[tuple]:
    """A seeded project database, reached through a statement recorder."""
    recorder = StatementRecorder.in_front_of(postgres_url)
    database = Database(Settings(database_url=recorder.proxied(postgres_url)), clock=fixed_clock)
    database.prepare(seed=True)
    try:
        yield database, recorder
    finally:
        database.dispose()
        recorder.close()


def test_a_read_is_one_round_trip_and_a_write_keeps_its_transaction(recorded: tuple) -> None:
    database, recorder = recorded
    orders = OrderRepository(database)
    assert orders.count() > 0  # connects, and connections stay warm
    recorder.clear()

    assert orders.count() > 0
    assert len(recorder.statements) == 1  # no BEGIN, ROLLBACK, SELECT 1
    assert recorder.statements[0].startswith("SELECT count(*)")

    recorder.clear()
    with database.transaction("a test write") as session:
        session.execute(text("SELECT 1 AS written"))
    # After an autocommit read psycopg2 names the isolation level it restores.
    begin, *rest = recorder.statements
    assert begin in ("BEGIN", "BEGIN ISOLATION LEVEL READ COMMITTED")
    assert rest == ["SELECT 1 AS written", "COMMIT"]


def test_an_idle_connection_is_pinged_and_a_dead_one_replaced(postgres_url: str) -> None:
    recorder = StatementRecorder.in_front_of(postgres_url)
    engine = ping_when_idle(create_engine(recorder.proxied(postgres_url), future=True), idle_s=0.2)
    try:
        with engine.connect() as connection:
            connection.execute(select(1))
        recorder.clear()
        with engine.connect() as connection:  # back in the pool a moment ago: no ping
            connection.execute(text("SELECT 2"))
        assert recorder.statements == ["BEGIN", "SELECT 2", "ROLLBACK"]

        time.sleep(0.3)
        recorder.clear()
        with engine.connect() as connection:
            connection.execute(text("SELECT 3"))
        assert recorder.statements == ["SELECT 1", "BEGIN", "SELECT 3", "ROLLBACK"]

        recorder.drop_connections()  # the database restarts
        time.sleep(0.3)
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 4")).scalar_one() == 4
    finally:
        engine.dispose()
        recorder.close()


def test_ping_when_idle_refuses_a_negative_idle_time() -> None:
    with pytest.raises(ValueError, match="idle_s must not be negative"):
        ping_when_idle(create_engine("sqlite://"), idle_s=-1)


def test_sqlite_reads_keep_their_transactions(tmp_path: Path) -> None:
    engine = create_project_engine(f"sqlite:///{tmp_path / 'db' / 'assistant.db'}")
    assert reading_engine(engine) is engine
    assert (tmp_path / "db").is_dir()
    memory = create_project_engine("sqlite://")
    assert reading_engine(memory) is memory
