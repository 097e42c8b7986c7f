"""Drives production mode for the tests: ``python -m bot.prod run`` as a subprocess.

The supervisor is the one ``make run-prod`` uses; the tests kill its children
by the pids it writes and watch it bring them back.
"""

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, TypeVar

import requests

from tests.e2e.helpers import ROOT

T = TypeVar("T")


def eventually(probe: Callable[[], Optional[T]], what: str, seconds: float = 30) -> T:
    """Poll ``probe`` until it returns something other than None."""
    deadline = time.monotonic() + seconds
    while True:
        result = probe()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.25)


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


@dataclass(frozen=True)
class Reply:
    """What the REST webhook answered."""

    status: int
    texts: Tuple[str, ...]
    body: Any


class ProductionTopology:
    """The running topology: URLs, pids, logs, and what the tests do to it."""

    def __init__(self, env: Dict[str, str], run_dir: Path, log_dir: Path) -> None:
        self.env = env
        self.run_dir = run_dir
        self.log_dir = log_dir
        self.token = env["RASA_AUTH_TOKEN"]
        self.public_url = f"http://127.0.0.1:{env['PROD_PUBLIC_PORT']}"
        self.rasa_urls = [f"http://127.0.0.1:{p}" for p in env["PROD_RASA_PORTS"].split(",")]
        self.actions_urls = [f"http://127.0.0.1:{p}" for p in env["PROD_ACTIONS_PORTS"].split(",")]
        self.handoff_url = f"http://127.0.0.1:{env['HANDOFF_PORT']}"
        self.process: Optional[subprocess.Popen] = None

    # Starting and stopping ------------------------------------------------

    def start(self, seconds: float) -> None:
        output = (self.log_dir.parent / "supervisor.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.prod", "run"],
            cwd=ROOT,
            env=self.env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        output.close()
        try:
            eventually(
                lambda: True if self._all_healthy() else self._fail_if_exited(),
                "the production topology to start",
                seconds,
            )
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def _fail_if_exited(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"bot.prod exited with {self.process.returncode}:\n{self.log()}")
        return None

    def log(self, name: str = "supervisor", lines: int = 40) -> str:
        path = (
            self.log_dir.parent / "supervisor.log"
            if name == "supervisor"
            else (self.log_dir / f"{name}.log")
        )
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # Health ----------------------------------------------------------------

    def health_urls(self) -> Dict[str, str]:
        urls = {"nginx": f"{self.public_url}/lb/health", "handoff": f"{self.handoff_url}/health"}
        for number, url in enumerate(self.rasa_urls, start=1):
            urls[f"rasa-{number}"] = f"{url}/"
        for number, url in enumerate(self.actions_urls, start=1):
            urls[f"actions-{number}"] = f"{url}/health"
        return urls

    def _all_healthy(self) -> bool:
        return all(answers(url) for url in self.health_urls().values())

    def wait_healthy(self, seconds: float = 300) -> None:
        """Wait until every process answers (after a test killed some)."""
        eventually(
            lambda: True if self._all_healthy() else self._fail_if_exited(),
            "every process of the topology to be healthy",
            seconds,
        )

    # Processes -------------------------------------------------------------

    def pid(self, name: str) -> Optional[int]:
        try:
            return int((self.run_dir / "pids" / f"{name}.pid").read_text())
        except (OSError, ValueError):
            return None

    def kill(self, name: str) -> int:
        """``kill -9`` a process; returns once its port no longer answers."""
        pid = self.pid(name)
        assert pid is not None, f"{name} has no pid file"
        os.kill(pid, signal.SIGKILL)
        url = self.health_urls()[name]
        eventually(lambda: True if not answers(url) else None, f"{name} to be gone", 10)
        return pid

    def wait_restarted(self, name: str, old_pid: int, seconds: float = 300) -> int:
        """Wait until the supervisor started a new process and it answers."""
        url = self.health_urls()[name]

        def restarted() -> Optional[int]:
            pid = self.pid(name)
            if pid is not None and pid != old_pid and answers(url):
                return pid
            return self._fail_if_exited()

        return eventually(restarted, f"{name} to be restarted", seconds)

    # Talking to it ---------------------------------------------------------

    def say(self, sender: str, text: str, base_url: Optional[str] = None) -> Reply:
        """Send a customer message over REST (through nginx unless told otherwise)."""
        response = requests.post(
            f"{base_url or self.public_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": text},
            timeout=120,
        )
        body = response.json()
        texts = tuple(m.get("text", "") for m in body) if isinstance(body, list) else ()
        return Reply(response.status_code, texts, body)

    def tracker(self, sender: str, base_url: Optional[str] = None) -> Dict[str, Any]:
        response = requests.get(
            f"{base_url or self.public_url}/conversations/{sender}/tracker",
            params={"token": self.token},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def user_texts(self, sender: str) -> List[str]:
        return [e["text"] for e in self.tracker(sender)["events"] if e["event"] == "user"]

    def access_log_upstreams(self) -> List[str]:
        """The upstreams nginx tried for every REST webhook request it logged so far."""
        path = self.log_dir / "nginx-access.log"
        upstreams = []
        for line in path.read_text().splitlines():
            if '"POST /webhooks/rest/webhook ' in line:
                # "a:1" or, when nginx tried several, "a:1, b:2".
                upstreams.append(line.split(" upstream=")[1].split(" upstream_status=")[0])
        return upstreams
