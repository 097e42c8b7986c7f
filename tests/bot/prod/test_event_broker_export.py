"""Events the broker dropped for want of room are published again by the ``rasa export`` it logs.

Real PostgreSQL (the production tracker store) and RabbitMQ; skips, saying why,
when either is not running.
"""

import asyncio
import json
import time
from pathlib import Path
from typing import Dict

import pytest
import structlog.testing
import yaml
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import TrackerStore
from rasa.core.utils import read_endpoints_from_path
from rasa.shared.core.events import ActionExecuted
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.engine import make_url

from tests.bot.prod.test_event_broker import (  # noqa: F401 - names: the fixture
    names,
    rabbitmq_running,
    read_queue,
    received,
)
from tests.e2e.helpers import run_rasa

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not rabbitmq_running(), reason="no RabbitMQ on 127.0.0.1:5672 (see README, production mode)"
    ),
]


def endpoints_file(postgres_url: str, queue: Dict[str, str], path: Path) -> Path:
    url = make_url(postgres_url)
    path.write_text(
        yaml.safe_dump(
            {
                "tracker_store": {
                    "type": "bot.prod.tracker_store.SingleReadSQLTrackerStore",
                    "dialect": "postgresql",
                    "url": url.host,
                    "port": url.port or 5432,
                    "db": url.database,
                    "username": url.username,
                    "password": url.password or "",
                },
                "event_broker": {
                    "type": "bot.prod.event_broker.LeanPikaEventBroker",
                    "url": "127.0.0.1",
                    "username": "guest",
                    "password": "guest",
                    "queues": [queue["queue"]],
                    "exchange_name": queue["exchange"],
                    "max_held_events": 3,
                },
            }
        )
    )
    return path


@pytest.mark.asyncio
async def test_the_logged_export_publishes_exactly_the_dropped_events(
    postgres_url: str,
    names: Dict[str, str],  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    path = endpoints_file(postgres_url, names, tmp_path / "endpoints.yml")
    endpoints = read_endpoints_from_path(path)
    broker = await EventBroker.create(endpoints.event_broker)
    store = TrackerStore.create(endpoints.tracker_store, event_broker=broker)
    start = time.time()
    tracker = DialogueStateTracker("ana", slots=[])
    for i in range(10):
        tracker.update(ActionExecuted(f"step-{i}", timestamp=start + i))

    with structlog.testing.capture_logs() as logs:
        await store.save(tracker)  # ten events at once: three published, seven dropped
        await broker.close()
    summary = [entry for entry in logs if entry["event"] == "pika.events.dropped"][-1]
    assert summary["dropped"] == 7
    assert await received(names) == ["step-0", "step-1", "step-2"]

    export = await asyncio.to_thread(
        run_rasa,
        [
            "export",
            "--endpoints",
            str(path),
            "--minimum-timestamp",
            str(summary["minimum_timestamp"]),
            "--maximum-timestamp",
            str(summary["maximum_timestamp"]),
        ],
        300,
    )
    assert export.returncode == 0, export.stdout[-3000:] + export.stderr[-3000:]
    exported = [json.loads(message.body) for message in await read_queue(names)]
    assert [(body["sender_id"], body["name"]) for body in exported] == [
        ("ana", f"step-{i}") for i in range(3, 10)
    ]
