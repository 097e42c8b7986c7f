"""Shared test options and fixtures.

Slow tests (real models, servers) run only with ``--slow``. ``trained_model``
is the session's Rasa model, trained once for every test directory that needs
it (set ``SUPPORT_TEST_MODEL`` to an existing ``.tar.gz`` to skip training).
"""

import os
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from tests.e2e.helpers import run_rasa

# Property tests draw the same examples on every run of the suite (CI must not
# fail on a draw it has never seen before); HYPOTHESIS_PROFILE=explore draws new
# ones on every run, to look for bugs.
hypothesis_settings.register_profile("repeatable", derandomize=True)
hypothesis_settings.register_profile("explore", derandomize=False)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--slow", action="store_true", default=False, help="also run tests marked slow"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --slow (make test)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    existing = os.environ.get("SUPPORT_TEST_MODEL")
    if existing:
        return Path(existing)
    out = tmp_path_factory.mktemp("models")
    result = run_rasa(
        [
            "train",
            "--config",
            "config.yml",
            "--domain",
            "domain.yml",
            "--data",
            "bot/data",
            "--out",
            str(out),
        ]
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    models = sorted(out.glob("*.tar.gz"))
    assert len(models) == 1
    return models[0]
