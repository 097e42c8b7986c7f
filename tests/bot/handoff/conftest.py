"""Fixtures for the handoff tests: SQLite and PostgreSQL databases, a clock, stores."""

from pathlib import Path
from typing import Iterator

import pytest

from actions.db import Database
from actions.settings import Settings
from bot.handoff.auth import AgentAccounts
from bot.handoff.store import HandoffStore
from tests.actions.conftest import postgres_url  # noqa: F401 - shared fixture
from tests.bot.handoff.support import SETTINGS, Clock


def empty_database(url: str) -> Database:
    """A database that migrates on first use and seeds nothing."""
    return Database(Settings(database_url=url), seeders=[])


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    database = empty_database(f"sqlite:///{tmp_path / 'handoff.db'}")
    yield database
    database.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """The same tests on a SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'handoff.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    database = empty_database(url)
    yield database
    database.dispose()


@pytest.fixture
def store(any_database: Database, clock: Clock) -> HandoffStore:
    return HandoffStore(any_database, settings=SETTINGS, clock=clock)


@pytest.fixture
def accounts(any_database: Database, clock: Clock) -> AgentAccounts:
    return AgentAccounts(any_database, token_ttl_s=SETTINGS.token_ttl_s, clock=clock)
