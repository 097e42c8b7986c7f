"""Fixtures for end-to-end tests: a model trained by ``rasa train`` and live servers.

The model is trained once per session. Set ``SUPPORT_TEST_MODEL`` to the path of
an existing ``.tar.gz`` model to skip training while iterating locally.
"""

import os
import subprocess
from pathlib import Path
from typing import Dict, Iterator

import pytest

from tests.e2e.helpers import RASA, ROOT, free_port, run_rasa, wait_until_up


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


@pytest.fixture(scope="session")
def servers(
    trained_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Dict[str, str]]:
    """An action server and a Rasa server on free ports with a fresh SQLite database."""
    tmp = tmp_path_factory.mktemp("servers")
    database_url = f"sqlite:///{tmp / 'assistant.db'}"
    env = {**os.environ, "ASSISTANT_DATABASE_URL": database_url, "TF_CPP_MIN_LOG_LEVEL": "3"}
    actions_port, rasa_port = free_port(), free_port()
    endpoints = tmp / "endpoints.yml"
    endpoints.write_text(f'action_endpoint:\n  url: "http://127.0.0.1:{actions_port}/webhook"\n')
    processes = []
    try:
        actions_log = tmp / "actions.log"
        processes.append(
            subprocess.Popen(
                [RASA, "run", "actions", "--actions", "actions", "--port", str(actions_port)],
                cwd=ROOT,
                env=env,
                stdout=actions_log.open("w"),
                stderr=subprocess.STDOUT,
            )
        )
        wait_until_up(f"http://127.0.0.1:{actions_port}/health", processes[0], actions_log, 90)
        rasa_log = tmp / "rasa.log"
        processes.append(
            subprocess.Popen(
                [
                    RASA,
                    "run",
                    "--model",
                    str(trained_model),
                    "--endpoints",
                    str(endpoints),
                    "--credentials",
                    "credentials.yml",
                    "--port",
                    str(rasa_port),
                ],
                cwd=ROOT,
                env=env,
                stdout=rasa_log.open("w"),
                stderr=subprocess.STDOUT,
            )
        )
        wait_until_up(f"http://127.0.0.1:{rasa_port}/", processes[1], rasa_log, 300)
        yield {"rasa": f"http://127.0.0.1:{rasa_port}", "database_url": database_url}
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
