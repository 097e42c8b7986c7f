"""Fixtures shared by the tests of bot/."""

from typing import Any, Dict, Iterator

import pytest
from sanic import Sanic

from tests.actions.conftest import postgres_url  # noqa: F401 - shared fixture
from tests.bot.small_ted import train_small_ted
from tests.prod.services import PrivateRedis


@pytest.fixture(autouse=True)
def sanic_test_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    # Sanic rewrites some of its own methods at the first start of a server;
    # test mode keeps the originals so that one process can start many servers.
    monkeypatch.setattr(Sanic, "test_mode", True)


@pytest.fixture(scope="session")
def small_ted(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Any]:
    """A small CachedTEDPolicy model (tests/bot/small_ted.py), trained once per session."""
    return train_small_ted(tmp_path_factory.mktemp("small-ted"))


@pytest.fixture(scope="module")
def private_redis() -> Iterator[PrivateRedis]:
    """A throwaway Redis of the test module's own, removed afterwards."""
    private = PrivateRedis()
    private.start()
    try:
        yield private
    finally:
        private.remove()
