"""Locust file of the load benchmark: customers holding multi-turn REST conversations.

Runs inside ``.venv-load`` (Locust's dependencies conflict with Rasa's pins),
started by ``python -m bot.loadtest``; it imports only Locust, the standard
library and the sibling module ``flows`` (Locust puts this folder on the path).

Environment:
    LOADTEST_FLOWS: ``project`` or ``stock`` (which conversations to hold).
    LOADTEST_THINK_MIN_S, LOADTEST_THINK_MAX_S: think time between a reply and
        the next message; both 0 for the saturated run.
    LOADTEST_SAMPLES: JSON-lines file every request is written to at the end.
"""

import json
import os
import random
import time
import uuid
from typing import Any, Dict, List

from flows import FLOWS, SAMPLE_ORDER_IDS, render  # type: ignore[import-not-found]
from locust import FastHttpUser, events, task

_FLOWS = FLOWS[os.environ.get("LOADTEST_FLOWS", "project")]
_THINK_MIN_S = float(os.environ.get("LOADTEST_THINK_MIN_S", "0"))
_THINK_MAX_S = float(os.environ.get("LOADTEST_THINK_MAX_S", "0"))
_SAMPLES: List[Dict[str, Any]] = []


def _think() -> float:
    return random.uniform(_THINK_MIN_S, _THINK_MAX_S) if _THINK_MAX_S > 0 else 0.0


class Customer(FastHttpUser):
    """Holds one conversation after another, each with a fresh sender id."""

    wait_time = staticmethod(_think)
    network_timeout = 120.0
    connection_timeout = 10.0

    @task
    def conversation(self) -> None:
        """Send one flow, message after message, waiting for each reply."""
        flow = random.choices(_FLOWS, weights=[f.weight for f in _FLOWS])[0]
        sender = f"load-{uuid.uuid4().hex[:16]}"
        order_id = random.choice(SAMPLE_ORDER_IDS)
        for index, step in enumerate(flow.steps):
            if index:
                pause = _think()
                if pause:
                    self._sleep(pause)
            started = time.time()
            began = time.perf_counter()
            error = ""
            with self.client.post(
                "/webhooks/rest/webhook",
                json={"sender": sender, "message": render(step, order_id)},
                name=f"{flow.name}:{index}",
                catch_response=True,
            ) as response:
                elapsed_ms = (time.perf_counter() - began) * 1000
                error = _problem(response, step.expect_reply)
                if error:
                    response.failure(error)
                else:
                    response.success()
            _SAMPLES.append(
                {
                    "flow": flow.name,
                    "step": index,
                    "start": started,
                    "ms": round(elapsed_ms, 3),
                    "error": error,
                }
            )
            if error:
                return  # the rest of this conversation would not make sense

    def _sleep(self, seconds: float) -> None:
        import gevent

        gevent.sleep(seconds)


def _problem(response: Any, expect_reply: bool) -> str:
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    try:
        body = response.json()
    except ValueError:
        return "reply is not JSON"
    if not isinstance(body, list):
        return "reply is not a list"
    if expect_reply and not body:
        return "no reply"
    return ""


@events.test_stop.add_listener
def _write_samples(**_kwargs: Any) -> None:
    path = os.environ.get("LOADTEST_SAMPLES")
    if not path:
        return
    with open(path, "w", encoding="utf-8") as out:
        for sample in _SAMPLES:
            out.write(json.dumps(sample) + "\n")
