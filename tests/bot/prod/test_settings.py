"""Production settings: defaults, parsing and refusals, from a given environment."""

from pathlib import Path

import pytest

from actions.settings import PROJECT_ROOT
from bot.prod.settings import ProductionSettings

TOKEN = {"RASA_AUTH_TOKEN": "a-long-enough-token"}


def test_defaults_are_the_local_services() -> None:
    settings = ProductionSettings.from_env(TOKEN)
    assert settings == ProductionSettings(rasa_auth_token="a-long-enough-token")
    assert (settings.public_port, settings.actions_proxy_port) == (5005, 5055)
    assert (settings.rasa_ports, settings.actions_ports) == ((5006, 5007), (5056, 5057))
    assert settings.rasa_model == PROJECT_ROOT / "models"
    assert (settings.tracker_db_host, settings.tracker_db_port, settings.tracker_db_name) == (
        "127.0.0.1",
        5432,
        "rasa",
    )
    assert (settings.redis_host, settings.redis_port, settings.redis_db) == ("127.0.0.1", 6379, 1)
    assert (settings.rabbitmq_username, settings.rabbitmq_password) == ("guest", "guest")
    assert settings.run_dir == PROJECT_ROOT / ".data" / "prod"
    assert settings.public_url == "http://127.0.0.1:5005"
    assert settings.action_endpoint_url == "http://127.0.0.1:5055/webhook"


def test_every_variable_is_read() -> None:
    settings = ProductionSettings.from_env(
        {
            "RASA_AUTH_TOKEN": " secret-token ",
            "PROD_LISTEN_HOST": "10.0.0.5",
            "PROD_PUBLIC_PORT": "8000",
            "PROD_ACTIONS_PROXY_PORT": "8001",
            "PROD_RASA_PORTS": "8010, 8011,8012",
            "PROD_ACTIONS_PORTS": "8020",
            "RASA_MODEL": "/srv/models/current.tar.gz",
            "RASA_TRACKER_DB_HOST": "db.internal",
            "RASA_TRACKER_DB_PORT": "6432",
            "RASA_TRACKER_DB_NAME": "trackers",
            "RASA_TRACKER_DB_USER": "rasa",
            "RASA_TRACKER_DB_PASSWORD": "p@ss word",
            "SQL_POOL_SIZE": "3",
            "SQL_MAX_OVERFLOW": "0",
            "REDIS_HOST": "redis.internal",
            "REDIS_PORT": "6380",
            "REDIS_DB": "0",
            "REDIS_PASSWORD": "r3dis",
            "REDIS_KEY_PREFIX": "shop2",
            "TICKET_LOCK_LIFETIME": "30",
            "RABBITMQ_HOST": "amqps://user:pw@mq.internal/vhost",
            "RABBITMQ_PORT": "5671",
            "RABBITMQ_USERNAME": "rasa",
            "RABBITMQ_PASSWORD": "",
            "RABBITMQ_QUEUE": "analytics",
            "RABBITMQ_EXCHANGE": "events",
            "RABBITMQ_MAX_HELD_EVENTS": "5000",
            "PROD_RUN_DIR": "run/prod",
            "PROD_LOG_DIR": "/var/log/assistant",
            "PROD_START_TIMEOUT_S": "600",
            "PROD_RESTART_MAX_S": "10",
            "PROD_CREATE_DATABASES": "no",
        }
    )
    assert settings == ProductionSettings(
        rasa_auth_token="secret-token",
        listen_host="10.0.0.5",
        public_port=8000,
        actions_proxy_port=8001,
        rasa_ports=(8010, 8011, 8012),
        actions_ports=(8020,),
        rasa_model=Path("/srv/models/current.tar.gz"),
        tracker_db_host="db.internal",
        tracker_db_port=6432,
        tracker_db_name="trackers",
        tracker_db_user="rasa",
        tracker_db_password="p@ss word",
        sql_pool_size=3,
        sql_max_overflow=0,
        redis_host="redis.internal",
        redis_port=6380,
        redis_db=0,
        redis_password="r3dis",
        redis_key_prefix="shop2",
        lock_lifetime_s=30,
        rabbitmq_host="amqps://user:pw@mq.internal/vhost",
        rabbitmq_port=5671,
        rabbitmq_username="rasa",
        rabbitmq_password="",
        rabbitmq_queue="analytics",
        rabbitmq_exchange="events",
        rabbitmq_max_held_events=5000,
        run_dir=PROJECT_ROOT / "run" / "prod",
        log_dir=Path("/var/log/assistant"),
        start_timeout_s=600,
        restart_max_s=10,
        create_databases=False,
    )
    assert settings.public_url == "http://10.0.0.5:8000"


def test_the_api_token_is_required() -> None:
    with pytest.raises(ValueError, match="RASA_AUTH_TOKEN must be set in production mode"):
        ProductionSettings.from_env({"RASA_AUTH_TOKEN": "  "})


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"PROD_PUBLIC_PORT": "70000"}, "PROD_PUBLIC_PORT must be at most 65535, got 70000"),
        ({"PROD_RASA_PORTS": "5006,x"}, "PROD_RASA_PORTS must be comma-separated ports"),
        ({"PROD_RASA_PORTS": "5006,5006"}, "PROD_RASA_PORTS lists a port twice"),
        ({"PROD_ACTIONS_PORTS": "0"}, "PROD_ACTIONS_PORTS must hold ports from 1 to 65535"),
        ({"PROD_RASA_PORTS": "5005"}, "the production ports must all differ"),
        ({"REDIS_KEY_PREFIX": "my-shop"}, "REDIS_KEY_PREFIX must be letters and digits"),
        ({"REDIS_DB": "-1"}, "REDIS_DB must be at least 0, got -1"),
        ({"RABBITMQ_MAX_HELD_EVENTS": "0"}, "RABBITMQ_MAX_HELD_EVENTS must be at least 1, got 0"),
        ({"TICKET_LOCK_LIFETIME": "soon"}, "TICKET_LOCK_LIFETIME must be an integer"),
        ({"PROD_CREATE_DATABASES": "maybe"}, "PROD_CREATE_DATABASES must be a boolean"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(environ: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ProductionSettings.from_env({**TOKEN, **environ})
