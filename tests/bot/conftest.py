"""Fixtures shared by the tests of bot/."""

from typing import Any, Dict

import pytest

from tests.bot.small_ted import train_small_ted


@pytest.fixture(scope="session")
def small_ted(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Any]:
    """A small CachedTEDPolicy model (tests/bot/small_ted.py), trained once per session."""
    return train_small_ted(tmp_path_factory.mktemp("small-ted"))
