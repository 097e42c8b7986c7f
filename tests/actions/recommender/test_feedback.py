from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from actions.db import Base, Database, DatabaseUnavailable, alembic_config
from actions.recommender.feedback import FeedbackRepository, latest_votes
from actions.recommender.payloads import FeedbackEvent, Vote
from actions.settings import Settings
from tests.actions.recommender.support import empty_database

T0 = datetime(2025, 3, 14, 10, 0, tzinfo=timezone.utc)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = empty_database(tmp_path / "feedback.db")
    yield db
    db.dispose()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def test_votes_are_recorded_and_read_back_per_conversation(database: Database) -> None:
    repository = FeedbackRepository(database, clock=Clock())

    first = repository.record_vote("conv-1", "HP-1", Vote.UP, "noise cancelling headphones")
    repository.record_vote("conv-2", "HP-2", Vote.DOWN)
    repository.record_vote("conv-1", "HP-3", Vote.DOWN)

    events = repository.for_conversation("conv-1")
    assert events == [
        first,
        FeedbackEvent("conv-1", "HP-3", Vote.DOWN, T0 + timedelta(seconds=3), None),
    ]
    assert first == FeedbackEvent(
        "conv-1", "HP-1", Vote.UP, T0 + timedelta(seconds=1), "noise cancelling headphones"
    )
    assert events[0].created_at.tzinfo is not None
    assert repository.for_conversation("nobody") == []


def test_bad_votes_are_refused(database: Database) -> None:
    repository = FeedbackRepository(database)

    with pytest.raises(ValueError, match="conversation"):
        repository.record(FeedbackEvent("", "HP-1", Vote.UP, T0))
    with pytest.raises(ValueError, match="SKU"):
        repository.record(FeedbackEvent("conv", "X" * 33, Vote.UP, T0))
    with pytest.raises(ValueError):
        repository.record(FeedbackEvent("conv", "HP-1", "meh", T0))  # type: ignore[arg-type]
    database.ensure_ready()
    with database.engine.begin() as connection, pytest.raises(IntegrityError):
        connection.execute(
            text(
                "INSERT INTO recommendation_feedback (conversation_id, sku, vote, created_at) "
                "VALUES ('c', 'HP-1', 'meh', '2025-03-14 10:00:00')"
            )
        )


def test_long_need_texts_are_cut(database: Database) -> None:
    repository = FeedbackRepository(database)

    repository.record(FeedbackEvent("conv", "HP-1", Vote.UP, T0, "x" * 5000))

    assert len(repository.for_conversation("conv")[0].need_text or "") == 2000


def test_only_the_latest_vote_per_product_counts() -> None:
    events = [
        FeedbackEvent("c", "HP-1", Vote.UP, T0),
        FeedbackEvent("c", "HP-2", Vote.DOWN, T0),
        FeedbackEvent("c", "HP-1", Vote.DOWN, T0),
    ]

    assert latest_votes(events) == {"HP-2": Vote.DOWN, "HP-1": Vote.DOWN}
    assert list(latest_votes(events)) == ["HP-2", "HP-1"]


def test_an_unreachable_database_is_reported() -> None:
    unreachable = Settings(database_url="postgresql://postgres@127.0.0.1:1/shop?connect_timeout=2")
    repository = FeedbackRepository(Database(unreachable))

    with pytest.raises(DatabaseUnavailable):
        repository.for_conversation("conv")


def test_migration_0003_matches_the_model_and_downgrades(database: Database) -> None:
    database.migrate()
    head = ScriptDirectory.from_config(
        alembic_config(database.settings.database_url)
    ).get_current_head()
    with database.engine.connect() as connection:
        assert "recommendation_feedback" in inspect(connection).get_table_names()
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        # Later migrations (other features) may follow 0003; the database is at the head.
        assert version == head and head >= "0003"
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []

    with database.engine.begin() as connection:
        config = alembic_config(database.settings.database_url)
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
    tables = inspect(database.engine).get_table_names()
    assert "recommendation_feedback" not in tables and "products" in tables
