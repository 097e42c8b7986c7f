"""Fixtures for end-to-end tests: live servers on the session's trained model.

The model (``trained_model``, in ``tests/conftest.py``) is trained once per
session. Set ``SUPPORT_TEST_MODEL`` to the path of an existing ``.tar.gz``
model to skip training while iterating locally.
"""

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterator, Optional

import pytest
import yaml

from tests.e2e.helpers import ROOT, free_port, wait_until_up
from tests.e2e.processes import (
    ServerGroup,
    action_server_command,
    assistant_environment,
    rasa_server_command,
)

AGENT_USERNAME = "dana"
AGENT_PASSWORD = "e2e agent password 42"


@pytest.fixture(scope="session")
def servers(
    trained_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Dict[str, str]]:
    """The action server, a Rasa server and the handoff service on free ports.

    They share a fresh SQLite database, in :func:`assistant_environment` (VADER
    sentiment, an always-open office).
    """
    tmp = tmp_path_factory.mktemp("servers")
    actions_port, rasa_port, handoff_port = free_port(), free_port(), free_port()
    env = assistant_environment(
        tmp,
        HANDOFF_RASA_URL=f"http://127.0.0.1:{rasa_port}",
        HANDOFF_POLL_INTERVAL_MS="200",
        HANDOFF_RETRY_MAX_S="2",
        HANDOFF_AGENT_PASSWORD=AGENT_PASSWORD,
    )
    database_url = env["ASSISTANT_DATABASE_URL"]
    endpoints = tmp / "endpoints.yml"
    # The project's action endpoint (its selective domain included), on this port.
    action_endpoint = yaml.safe_load((ROOT / "endpoints.yml").read_text())["action_endpoint"]
    action_endpoint["url"] = f"http://127.0.0.1:{actions_port}/webhook"
    endpoints.write_text(yaml.safe_dump({"action_endpoint": action_endpoint}))
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot.handoff",
            "create-agent",
            AGENT_USERNAME,
            "--display-name",
            "Dana",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert created.returncode == 0, created.stdout + created.stderr
    group = ServerGroup(tmp, env)
    try:
        group.start(
            "actions",
            action_server_command(actions_port),
            f"http://127.0.0.1:{actions_port}/health",
            90,
        )
        group.start(
            "handoff",
            [
                sys.executable,
                "-m",
                "bot.handoff",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(handoff_port),
            ],
            f"http://127.0.0.1:{handoff_port}/health",
            60,
        )
        group.start(
            "rasa",
            rasa_server_command(trained_model, endpoints, ROOT / "credentials.yml", rasa_port),
            f"http://127.0.0.1:{rasa_port}/",
            300,
        )
        yield {
            "rasa": f"http://127.0.0.1:{rasa_port}",
            "handoff": f"http://127.0.0.1:{handoff_port}",
            "database_url": database_url,
            "agent_username": AGENT_USERNAME,
            "agent_password": AGENT_PASSWORD,
        }
    finally:
        group.stop()


class WidgetServer:
    """``python -m bot.web serve`` relaying to the session's Rasa; a test may stop and restart it.

    Args:
        rasa_url: The Rasa server to relay to.
        log: Where the server's output goes (appended across restarts).
    """

    def __init__(self, rasa_url: str, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._rasa_url = rasa_url
        self._log = log
        self._process: Optional[subprocess.Popen] = None

    def start(self) -> None:
        """Start it on its port and wait until it answers (and reaches Rasa)."""
        env = {**os.environ, "WEB_RASA_URL": self._rasa_url}
        command = [sys.executable, "-m", "bot.web", "serve", "--host", "127.0.0.1"]
        self._process = subprocess.Popen(
            [*command, "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=self._log.open("a"),
            stderr=subprocess.STDOUT,
        )
        wait_until_up(f"{self.url}/health", self._process, self._log, 60)

    def kill(self) -> None:
        """Stop it at once, as a crash or a lost network would: open connections just drop."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=20)
            self._process = None


@pytest.fixture
def widget_server(servers: Dict[str, str], tmp_path: Path) -> Iterator[WidgetServer]:
    """The web widget server (page, rasa-webchat, relay) in front of the session's Rasa."""
    server = WidgetServer(servers["rasa"], tmp_path / "widget.log")
    server.start()
    try:
        yield server
    finally:
        server.kill()
