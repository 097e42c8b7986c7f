"""Helpers of the console's browser test: a fake Rasa, the real service, escalations."""

import asyncio
import contextlib
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List

from aiohttp import web

from bot.handoff.payloads import (
    HandoffRequest,
    RecommendedProduct,
    SentimentPoint,
    TranscriptLine,
)
from tests.e2e.helpers import ROOT, free_port, wait_until_up

PASSWORD = "correct horse battery"
AGENTS = (("dana", "Dana Agent"), ("bob", "Bob Builder"))
HOSTILE = '<script>window.__xss = 1</script><img src=x onerror="window.__xss=2">'


@dataclass(frozen=True)
class RasaCall:
    """One ``POST /conversations/{id}/tracker/events`` the fake Rasa received."""

    path: str
    query: Dict[str, str]
    events: List[Dict[str, Any]]


class FakeRasa:
    """Rasa's tracker-events endpoint on a free port, in a thread of its own."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.calls: List[RasaCall] = []
        self._changed = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    async def _append_events(self, request: web.Request) -> web.Response:
        events = await request.json()
        with self._changed:
            self.calls.append(RasaCall(request.path, dict(request.query), events))
            self._changed.notify_all()
        return web.json_response({"sender_id": request.match_info["conversation_id"]})

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/conversations/{conversation_id}/tracker/events", self._append_events)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def wait_for_calls(self, count: int, timeout: float = 10.0) -> List[RasaCall]:
        """Return the calls once there are at least ``count``, or fail."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.calls) >= count, timeout):
                raise AssertionError(f"Rasa got {len(self.calls)} calls, expected {count}")
            return list(self.calls)


@dataclass(frozen=True)
class RunningService:
    """The handoff service started by :func:`running_service`."""

    url: str
    database_url: str
    process: "subprocess.Popen[bytes]"


def point(label: str, score: float, text: str, minutes_ago: int) -> SentimentPoint:
    at = datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
    return SentimentPoint(label=label, score=score, text=text, at=at)


def escalation(conversation_id: str, text: str = HOSTILE) -> HandoffRequest:
    now = datetime.now(timezone.utc)
    return HandoffRequest(
        conversation_id=conversation_id,
        channel="rest",
        reason="strong_negative",
        sentiment_trail=(
            point("neutral", -0.12, "where is my kettle?", 3),
            point("negative", -0.91, text, 1),
        ),
        recent_intents=("order_status", "complaint"),
        transcript=(
            TranscriptLine("customer", "where is my kettle?", now - timedelta(minutes=3)),
            TranscriptLine(
                "bot", "Order 1042 left our warehouse on Monday.", now - timedelta(minutes=3)
            ),
            TranscriptLine("customer", text, now - timedelta(minutes=1)),
        ),
        recommended=(
            RecommendedProduct("KTL-1200", "Steel kettle 1.7 l", 29.9, "EUR"),
            RecommendedProduct("MUG-0042", "Stoneware mug"),
        ),
    )


@contextlib.contextmanager
def running_service(directory: Path, rasa_url: str) -> Iterator[RunningService]:
    """Run ``python -m bot.handoff serve`` on a free port over a new SQLite database.

    The agents of :data:`AGENTS` are created first with ``create-agent``, all
    with :data:`PASSWORD`. The service's output goes to ``handoff.log``.
    """
    database_url = f"sqlite:///{directory / 'handoff.db'}"
    env = {
        **os.environ,
        "ASSISTANT_DATABASE_URL": database_url,
        "ASSISTANT_SEED_SAMPLE_DATA": "false",
        "HANDOFF_RASA_URL": rasa_url,
        "HANDOFF_POLL_INTERVAL_MS": "100",
        "HANDOFF_RETRY_MAX_S": "1",
        "HANDOFF_AGENT_PASSWORD": PASSWORD,
    }
    for username, name in AGENTS:
        created = subprocess.run(
            [sys.executable, "-m", "bot.handoff", "create-agent", username, "--display-name", name],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert created.returncode == 0, created.stderr
    port = free_port()
    log = directory / "handoff.log"
    command = [sys.executable, "-m", "bot.handoff", "serve", "--host", "127.0.0.1"]
    with log.open("w") as output:
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health", process, log, 60)
        yield RunningService(f"http://127.0.0.1:{port}", database_url, process)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
