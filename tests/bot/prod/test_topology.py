"""The production processes and the Rasa configuration files they are given."""

import re
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from rasa.core.channels.channel import InputChannel
from rasa.core.lock_store import LockStore
from rasa.core.run import create_http_input_channels
from rasa.utils.endpoints import read_endpoint_config

from bot.prod.channels import ProductionRestInput, ProductionSocketIOInput
from bot.prod.lock_store import AtomicRedisLockStore
from bot.prod.settings import ProductionSettings
from bot.prod.topology import (
    CREDENTIALS_PATH,
    ENDPOINTS_PATH,
    build_services,
    child_environment,
)

SETTINGS = ProductionSettings(
    rasa_auth_token="token-123",
    public_port=7005,
    actions_proxy_port=7055,
    rasa_ports=(7006, 7007),
    actions_ports=(7056, 7057),
    rasa_model=Path("/models/m.tar.gz"),
    tracker_db_password="pw",
    run_dir=Path("/run/prod"),
    log_dir=Path("/log/prod"),
)


def test_children_get_every_variable_the_endpoints_file_expands() -> None:
    env = child_environment(SETTINGS, {"PATH": "/bin", "HANDOFF_RASA_TOKEN": "stale"})
    assert env == {
        "PATH": "/bin",
        "RASA_ACTION_ENDPOINT_URL": "http://127.0.0.1:7055/webhook",
        "RASA_TRACKER_DB_HOST": "127.0.0.1",
        "RASA_TRACKER_DB_PORT": "5432",
        "RASA_TRACKER_DB_NAME": "rasa",
        "RASA_TRACKER_DB_USER": "postgres",
        "RASA_TRACKER_DB_PASSWORD": "pw",
        "SQL_POOL_SIZE": "5",
        "SQL_MAX_OVERFLOW": "10",
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": "6379",
        "REDIS_DB": "1",
        "REDIS_PASSWORD": "",
        "REDIS_KEY_PREFIX": "support",
        "TICKET_LOCK_LIFETIME": "60",
        "RABBITMQ_HOST": "127.0.0.1",
        "RABBITMQ_PORT": "5672",
        "RABBITMQ_USERNAME": "guest",
        "RABBITMQ_PASSWORD": "guest",
        "RABBITMQ_QUEUE": "rasa_events",
        "RABBITMQ_EXCHANGE": "rasa-exchange",
        "RABBITMQ_MAX_HELD_EVENTS": "20000",
        "CHANNEL_RATE_REDIS_URL": "redis://127.0.0.1:6379/1",
        "HANDOFF_RASA_URL": "http://127.0.0.1:7005",
        "HANDOFF_RASA_TOKEN": "token-123",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "TF_INTRA_OP_PARALLELISM_THREADS": "1",
        "TF_INTER_OP_PARALLELISM_THREADS": "1",
    }
    lines = [line for line in ENDPOINTS_PATH.read_text().splitlines() if not line.startswith("#")]
    expanded = set(re.findall(r"\$\{([A-Z_]+)\}", "\n".join(lines)))
    assert len(expanded) == 18
    assert expanded <= set(env)


def test_the_rate_buckets_go_to_the_deployments_redis_unless_another_is_named() -> None:
    with_password = replace(SETTINGS, redis_password="p@ss/word", redis_db=3)
    env = child_environment(with_password, {})
    assert env["CHANNEL_RATE_REDIS_URL"] == "redis://:p%40ss%2Fword@127.0.0.1:6379/3"
    named = {"CHANNEL_RATE_REDIS_URL": "redis://cache.internal:6380/0"}
    assert (
        child_environment(SETTINGS, named)["CHANNEL_RATE_REDIS_URL"]
        == named["CHANNEL_RATE_REDIS_URL"]
    )


def test_rasa_expands_the_endpoints_template(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in child_environment(SETTINGS, {}).items():
        monkeypatch.setenv(name, value)
    action = read_endpoint_config(str(ENDPOINTS_PATH), "action_endpoint")
    tracker = read_endpoint_config(str(ENDPOINTS_PATH), "tracker_store")
    lock = read_endpoint_config(str(ENDPOINTS_PATH), "lock_store")
    broker = read_endpoint_config(str(ENDPOINTS_PATH), "event_broker")
    assert action is not None and action.url == "http://127.0.0.1:7055/webhook"
    assert action.kwargs == {"enable_selective_domain": True}
    assert (
        tracker is not None
        and tracker.type == "bot.prod.tracker_store.SingleReadSQLTrackerStore"
        and tracker.url == "127.0.0.1"
    )
    assert tracker.kwargs == {
        "dialect": "postgresql",
        "port": "5432",
        "db": "rasa",
        "username": "postgres",
        "password": "pw",
    }
    assert (
        lock is not None
        and lock.type == "bot.prod.lock_store.AtomicRedisLockStore"
        and lock.url == "127.0.0.1"
    )
    assert lock.kwargs == {"port": "6379", "db": "1", "password": "", "key_prefix": "support"}
    store = LockStore.create(lock)  # as Rasa creates it; connects on first use only
    assert isinstance(store, AtomicRedisLockStore)
    assert store.key_prefix == "support:lock:"
    assert store.red.connection_pool.connection_kwargs["port"] == 6379
    assert (
        broker is not None
        and broker.type == "bot.prod.event_broker.LeanPikaEventBroker"
        and broker.url == "127.0.0.1"
    )
    assert broker.kwargs == {
        "port": "5672",
        "username": "guest",
        "password": "guest",
        "exchange_name": "rasa-exchange",
        "max_held_events": "20000",
        "queues": ["rasa_events"],
    }


def test_the_production_credentials_load_the_production_channels() -> None:
    channels = create_http_input_channels(None, str(CREDENTIALS_PATH))
    assert [type(channel) for channel in channels] == [
        ProductionRestInput,
        ProductionSocketIOInput,
    ]
    assert [channel.name() for channel in channels] == ["rest", "socketio"]
    socketio = channels[1]
    assert isinstance(socketio, InputChannel)
    assert (socketio.user_message_evt, socketio.bot_message_evt) == ("user_uttered", "bot_uttered")


def test_services_in_start_order_with_their_health_checks() -> None:
    env = {"X": "1"}
    services = build_services(SETTINGS, 7077, env, Path("/run/prod/nginx.conf"), python="/py")
    assert [(s.name, s.health_url) for s in services] == [
        ("nginx", "http://127.0.0.1:7005/lb/health"),
        ("actions-1", "http://127.0.0.1:7056/health"),
        ("actions-2", "http://127.0.0.1:7057/health"),
        ("handoff", "http://127.0.0.1:7077/health"),
        ("rasa-1", "http://127.0.0.1:7006/"),
        ("rasa-2", "http://127.0.0.1:7007/"),
    ]
    assert all(service.env == env for service in services)
    by_name = {service.name: service.argv for service in services}
    assert by_name["nginx"] == (
        "nginx",
        "-p",
        "/run/prod",
        "-c",
        "/run/prod/nginx.conf",
        "-e",
        "/log/prod/nginx-error.log",
    )
    assert by_name["actions-2"] == (
        "/py", "-m", "rasa", "run", "actions", "--actions", "actions", "--port", "7057"
    )  # fmt: skip
    assert by_name["handoff"] == ("/py", "-m", "bot.handoff", "serve", "--port", "7077")
    assert by_name["rasa-1"] == (
        "/py", "-m", "rasa", "run", "--model", "/models/m.tar.gz",
        "--endpoints", str(ENDPOINTS_PATH), "--credentials", str(CREDENTIALS_PATH),
        "--interface", "127.0.0.1", "--port", "7006", "--cors", "*",
        "--enable-api", "--auth-token", "token-123",
    )  # fmt: skip


def test_the_default_interpreter_is_this_one() -> None:
    services = build_services(SETTINGS, 7077, {}, Path("/n.conf"))
    assert services[1].argv[0] == sys.executable
