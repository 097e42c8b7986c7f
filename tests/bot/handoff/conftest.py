"""Fixtures for the handoff tests: SQLite and PostgreSQL databases, a clock, stores."""

import asyncio
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable, Iterator, List, Optional

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from actions.db import Database
from actions.settings import Settings
from bot.handoff.api import SERVICES
from bot.handoff.app import create_app
from bot.handoff.auth import AgentAccounts
from bot.handoff.settings import HandoffSettings
from bot.handoff.store import HandoffStore
from tests.bot.handoff.support import PASSWORD, SETTINGS, Clock, FakeRasaGateway, Service


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


@pytest_asyncio.fixture
async def start_service() -> AsyncIterator[Callable[..., Awaitable[Service]]]:
    """Starts handoff services on test servers; all are stopped afterwards."""
    clients: List[TestClient] = []

    async def start(
        database: Database,
        *,
        gateway: Optional[FakeRasaGateway] = None,
        settings: HandoffSettings = SETTINGS,
    ) -> Service:
        gateway = gateway if gateway is not None else FakeRasaGateway()
        client = TestClient(TestServer(create_app(database, settings, gateway)))
        await client.start_server()
        clients.append(client)
        await asyncio.wait_for(client.server.app[SERVICES].hub.ready.wait(), 10)
        return Service(client, gateway)

    yield start
    for client in clients:
        await client.close()


@pytest.fixture
def agents(database: Database) -> AgentAccounts:
    """Accounts "dana" (Dana) and "bob" (Bob) in the SQLite database."""
    accounts = AgentAccounts(database, token_ttl_s=SETTINGS.token_ttl_s)
    accounts.create_agent("dana", "Dana", PASSWORD)
    accounts.create_agent("bob", "Bob", PASSWORD)
    return accounts


@pytest.fixture
def live_store(database: Database) -> HandoffStore:
    """The store as the action server uses it: same database, real clock."""
    return HandoffStore(database, settings=SETTINGS)
