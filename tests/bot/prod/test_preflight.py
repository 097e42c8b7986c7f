"""Checks before production mode starts, against the local PostgreSQL, Redis and RabbitMQ.

Each test that needs a local service skips, saying why, when it is not running.
"""

import os
import socket
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bot.prod.preflight import (
    check_model,
    check_project_database_url,
    check_rabbitmq,
    check_redis,
    ensure_database,
    preflight,
    rabbitmq_url,
    tracker_store_url,
)
from bot.prod.settings import ProductionSettings

POSTGRES_URL = os.environ.get(
    "ACTIONS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def database_name() -> Iterator[str]:
    """A database name nobody uses; the database is dropped afterwards if created."""
    admin = create_engine(
        make_url(POSTGRES_URL).set(database="postgres"),
        future=True,
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 3},
    )
    try:
        admin.connect().close()
    except OperationalError as exc:
        admin.dispose()
        pytest.skip(f"no PostgreSQL server reachable at {POSTGRES_URL}: {exc.orig}")
    name = f"prod_preflight_{uuid.uuid4().hex[:12]}"
    try:
        yield name
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def exists(name: str) -> bool:
    engine = create_engine(POSTGRES_URL, future=True)
    try:
        with engine.connect() as connection:
            query = text("SELECT count(*) FROM pg_database WHERE datname = :n")
            return connection.execute(query, {"n": name}).scalar_one() == 1
    finally:
        engine.dispose()


def test_the_project_database_must_be_postgresql() -> None:
    assert check_project_database_url("postgresql://u@db:5432/assistant") is None
    assert check_project_database_url("postgresql+psycopg2://u@db/assistant") is None
    assert check_project_database_url("sqlite:////tmp/a.db") == (
        "ASSISTANT_DATABASE_URL must be a PostgreSQL URL in production mode "
        "(postgresql://user:password@host:5432/assistant), got a sqlite URL"
    )
    assert check_project_database_url("not a url") == (
        "ASSISTANT_DATABASE_URL is not a database URL: 'not a url'"
    )


def test_the_tracker_store_and_broker_urls() -> None:
    settings = ProductionSettings(
        rasa_auth_token="t",
        tracker_db_host="db",
        tracker_db_port=6432,
        tracker_db_name="trackers",
        tracker_db_user="rasa",
        tracker_db_password="p@ss",
        rabbitmq_host="mq",
        rabbitmq_username="u",
        rabbitmq_password="p w",
    )
    assert tracker_store_url(settings).render_as_string(hide_password=False) == (
        "postgresql+psycopg2://rasa:p%40ss@db:6432/trackers"
    )
    assert rabbitmq_url(settings) == "amqp://u:p%20w@mq:5672"
    url = "amqps://x:y@mq.example.com:5671/vhost"
    assert rabbitmq_url(ProductionSettings(rasa_auth_token="t", rabbitmq_host=url)) == url


def test_a_missing_database_is_created_once(database_name: str) -> None:
    url = make_url(POSTGRES_URL).set(database=database_name)
    assert ensure_database(url, create=False) == (
        f"database '{database_name}' does not exist on 127.0.0.1:5432 (PROD_CREATE_DATABASES=false)"
    )
    assert not exists(database_name)
    assert ensure_database(url, create=True) is None
    assert exists(database_name)
    assert ensure_database(url, create=True) is None


def test_an_unreachable_postgresql_is_reported() -> None:
    port = closed_port()
    problem = ensure_database(make_url(f"postgresql://postgres@127.0.0.1:{port}/x"), create=True)
    assert problem is not None
    assert problem.startswith(f"PostgreSQL at 127.0.0.1:{port} (database 'x'): ")
    assert "refused" in problem


def test_redis_and_rabbitmq_problems_name_the_address() -> None:
    port = closed_port()
    settings = ProductionSettings(rasa_auth_token="t", redis_port=port, rabbitmq_port=port)
    redis_problem = check_redis(settings)
    assert redis_problem is not None and redis_problem.startswith(f"Redis at 127.0.0.1:{port}: ")
    rabbit_problem = check_rabbitmq(settings)
    assert rabbit_problem is not None
    assert rabbit_problem.startswith(f"RabbitMQ at 127.0.0.1:{port}: ")


@pytest.mark.skipif(not listening(6379), reason="no Redis on 127.0.0.1:6379")
def test_the_local_redis_answers() -> None:
    assert check_redis(ProductionSettings(rasa_auth_token="t")) is None


@pytest.mark.skipif(not listening(5672), reason="no RabbitMQ on 127.0.0.1:5672")
def test_the_local_rabbitmq_answers() -> None:
    assert check_rabbitmq(ProductionSettings(rasa_auth_token="t")) is None
    wrong = ProductionSettings(rasa_auth_token="t", rabbitmq_password="not-guest")
    problem = check_rabbitmq(wrong)
    assert problem is not None and problem.startswith("RabbitMQ at 127.0.0.1:5672: ")


def test_a_model_file_or_a_folder_with_one_is_needed(tmp_path: Path) -> None:
    assert check_model(tmp_path) == (
        f"no trained model at {tmp_path} (RASA_MODEL); run 'make train' first"
    )
    (tmp_path / "20250314-model.tar.gz").write_bytes(b"")
    assert check_model(tmp_path) is None
    assert check_model(tmp_path / "20250314-model.tar.gz") is None


def test_preflight_lists_every_problem(tmp_path: Path) -> None:
    port = closed_port()
    settings = ProductionSettings(
        rasa_auth_token="t",
        rasa_model=tmp_path,
        tracker_db_port=port,
        redis_port=port,
        rabbitmq_port=port,
    )
    problems = preflight(settings, "sqlite:///x.db")
    assert [problem.split(" ")[0] for problem in problems] == [
        "no",
        "ASSISTANT_DATABASE_URL",
        "PostgreSQL",
        "Redis",
        "RabbitMQ",
    ]
