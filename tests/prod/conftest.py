"""Fixtures for the production-mode tests: the whole topology, started once per session.

Two Rasa instances and two action servers behind nginx, the handoff service,
on a private PostgreSQL and Redis (tests/prod/services.py) and the machine's
RabbitMQ with a queue and exchange of their own. The model is the one
tests/e2e trains (or ``SUPPORT_TEST_MODEL``). Sentiment comes from VADER and
the office is always open, so that replies are deterministic.
"""

import asyncio
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Dict, Iterator, Tuple

import pytest

from bot.prod.preflight import check_rabbitmq, rabbitmq_url
from bot.prod.settings import ProductionSettings
from tests.e2e.helpers import ROOT, free_port
from tests.prod.services import PrivatePostgres, PrivateRedis
from tests.prod.topology import ProductionTopology

AGENT_USERNAME = "dana"
AGENT_PASSWORD = "prod agent password 42"
TOKEN = f"prod-test-{uuid.uuid4().hex}"
RUN_ID = uuid.uuid4().hex[:10]
RABBITMQ_QUEUE = f"prod_test_{RUN_ID}"
RABBITMQ_EXCHANGE = f"prod-test-{RUN_ID}"
# A lock left by a killed instance expires after this; shorter than the default
# 60 s to keep the test short, far longer than any turn here takes.
LOCK_LIFETIME_S = 20


@pytest.fixture(scope="session")
def stores() -> Iterator[Tuple[PrivatePostgres, PrivateRedis]]:
    """A private PostgreSQL and Redis, removed at the end of the session."""
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed (make setup installs it)")
    problem = check_rabbitmq(ProductionSettings(rasa_auth_token="x"))
    if problem:
        pytest.skip(f"no RabbitMQ with guest/guest on 127.0.0.1:5672: {problem}")
    postgres = PrivatePostgres()
    redis = PrivateRedis()
    try:
        postgres.start()
        redis.start()
        yield postgres, redis
    finally:
        postgres.remove()
        redis.remove()


def _environment(
    model: Path, postgres: PrivatePostgres, redis: PrivateRedis, tmp: Path
) -> Dict[str, str]:
    (tmp / "no-sentiment-model").mkdir()
    return {
        **os.environ,
        "RASA_AUTH_TOKEN": TOKEN,
        "RASA_MODEL": str(model),
        "PROD_LISTEN_HOST": "127.0.0.1",
        "PROD_PUBLIC_PORT": str(free_port()),
        "PROD_ACTIONS_PROXY_PORT": str(free_port()),
        "PROD_RASA_PORTS": f"{free_port()},{free_port()}",
        "PROD_ACTIONS_PORTS": f"{free_port()},{free_port()}",
        "HANDOFF_PORT": str(free_port()),
        "PROD_RUN_DIR": str(tmp / "run"),
        "PROD_LOG_DIR": str(tmp / "logs"),
        "PROD_RESTART_MAX_S": "2",
        "TICKET_LOCK_LIFETIME": str(LOCK_LIFETIME_S),
        "ASSISTANT_DATABASE_URL": postgres.url("assistant"),
        "RASA_TRACKER_DB_PORT": str(postgres.port),
        "RASA_TRACKER_DB_NAME": "rasa",
        "REDIS_PORT": str(redis.port),
        "RABBITMQ_QUEUE": RABBITMQ_QUEUE,
        "RABBITMQ_EXCHANGE": RABBITMQ_EXCHANGE,
        "ASSISTANT_SENTIMENT_MODEL_DIR": str(tmp / "no-sentiment-model"),
        "HANDOFF_OFFICE_HOURS": "24/7",
        "HANDOFF_POLL_INTERVAL_MS": "200",
        "HANDOFF_RETRY_MAX_S": "2",
        "HANDOFF_AGENT_PASSWORD": AGENT_PASSWORD,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        # The tests poll the inbox and resend on purpose; the per-sender limits
        # of bot/channels/limits.py have tests of their own.
        "CHANNEL_RATE_PER_MINUTE": "0",
        "CHANNEL_INBOX_RATE_PER_MINUTE": "0",
    }


def _run(args: list, env: Dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


async def _delete_rabbitmq_objects() -> None:
    import aio_pika

    connection = await aio_pika.connect(rabbitmq_url(ProductionSettings(rasa_auth_token="x")))
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(RABBITMQ_QUEUE)
        await channel.exchange_delete(RABBITMQ_EXCHANGE)


@pytest.fixture(scope="session")
def topology(
    trained_model: Path,
    stores: Tuple[PrivatePostgres, PrivateRedis],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ProductionTopology]:
    """Production mode, started by ``python -m bot.prod run`` like ``make run-prod``."""
    postgres, redis = stores
    tmp = tmp_path_factory.mktemp("prod")
    env = _environment(trained_model, postgres, redis, tmp)
    # What run_prod.sh does before starting: check and create the databases,
    # migrate and seed (the catalogue without embeddings: no test here recommends).
    _run(["-m", "bot.prod", "check"], env)
    _run(["-m", "actions.db", "seed"], env)
    _run(
        ["-m", "bot.handoff", "create-agent", AGENT_USERNAME, "--display-name", "Dana"],
        env,
    )
    running = ProductionTopology(env, tmp / "run", tmp / "logs")
    running.start(seconds=600)
    try:
        yield running
    finally:
        running.stop()
        try:
            asyncio.run(_delete_rabbitmq_objects())
        except Exception as exc:  # cleanup only; the queue is named per run
            print(f"could not delete the test queue {RABBITMQ_QUEUE}: {exc!r}")


@pytest.fixture
def prod(topology: ProductionTopology) -> ProductionTopology:
    """The topology with every process answering (a previous test may have killed some)."""
    topology.wait_healthy(seconds=300)
    return topology
