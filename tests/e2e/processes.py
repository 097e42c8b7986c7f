"""Starting the assistant's servers as subprocesses for end-to-end tests.

:class:`ServerGroup` starts servers one after the other, each logging to a file
and waited for until its health URL answers, and stops them all at the end.
:func:`assistant_environment` is what the action server needs to answer
deterministically (a fresh SQLite database, VADER sentiment, an always-open
office).
"""

import os
import subprocess
from pathlib import Path
from typing import Dict, List, Mapping

from tests.e2e.helpers import RASA, ROOT, wait_until_up


def assistant_environment(directory: Path, **extra: str) -> Dict[str, str]:
    """The environment for the servers: a new SQLite database in ``directory`` and ``extra``.

    Sentiment comes from VADER (the model directory is empty) so that
    escalation is deterministic, and the office is always open so that replies
    do not depend on when the tests run.
    """
    no_model = directory / "no-sentiment-model"
    no_model.mkdir(exist_ok=True)
    return {
        **os.environ,
        "ASSISTANT_DATABASE_URL": f"sqlite:///{directory / 'assistant.db'}",
        "ASSISTANT_SENTIMENT_MODEL_DIR": str(no_model),
        "HANDOFF_OFFICE_HOURS": "24/7",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        **extra,
    }


def action_server_command(port: int) -> List[str]:
    """``rasa run actions`` for the project's actions on ``port``."""
    return [RASA, "run", "actions", "--actions", "actions", "--port", str(port)]


def rasa_server_command(
    model: Path, endpoints: Path, credentials: Path, port: int, *extra: str
) -> List[str]:
    """``rasa run --enable-api`` with the model, endpoints and credentials on ``port``."""
    return [
        RASA,
        "run",
        "--model",
        str(model),
        "--endpoints",
        str(endpoints),
        "--credentials",
        str(credentials),
        "--port",
        str(port),
        "--enable-api",
        *extra,
    ]


class ServerGroup:
    """Servers started in order and stopped together.

    Args:
        directory: Where each server's ``<name>.log`` goes.
        env: The environment of every server.
    """

    def __init__(self, directory: Path, env: Mapping[str, str]) -> None:
        self.directory = directory
        self.env = dict(env)
        self.processes: List[subprocess.Popen] = []

    def start(self, name: str, command: List[str], health_url: str, seconds: int) -> None:
        """Start ``command`` from the project root; return once ``health_url`` answers 200.

        Raises:
            RuntimeError: If it exits or does not answer within ``seconds`` (with its log).
        """
        log = self.directory / f"{name}.log"
        process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=log.open("w"), stderr=subprocess.STDOUT
        )
        self.processes.append(process)
        wait_until_up(health_url, process, log, seconds)

    def log(self, name: str) -> str:
        """The log of server ``name`` so far."""
        return (self.directory / f"{name}.log").read_text(errors="replace")

    def stop(self) -> None:
        """Terminate every server (kill one that does not stop within 20 s)."""
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=20)
        self.processes.clear()
