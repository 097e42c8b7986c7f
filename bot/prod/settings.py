"""Settings of production mode, read from the environment in one place.

Production mode (``make run-prod``) runs several Rasa instances and action
servers behind nginx over PostgreSQL, Redis and RabbitMQ. Every variable of the
topology and of the shared stores is read here, with a type and a default. The
project database (``ASSISTANT_DATABASE_URL``) is read by :mod:`actions.settings`
and the handoff service's ``HANDOFF_*`` variables by :mod:`bot.handoff.settings`.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Tuple
from urllib.parse import quote

from actions.settings import (
    MAX_PORT,
    PROJECT_ROOT,
    _get_bool,
    _get_int,
    _get_path,
    _get_port,
    _get_str,
)

MAX_HELD_EVENTS = 20_000
"""Default of ``RABBITMQ_MAX_HELD_EVENTS``, and of the event broker's ``max_held_events``."""


@dataclass(frozen=True)
class ProductionSettings:
    """Typed settings of the production topology.

    Attributes:
        rasa_auth_token: Token Rasa's HTTP API requires (``rasa run
            --auth-token``); the handoff service sends it. ``RASA_AUTH_TOKEN``;
            required.
        listen_host: Interface nginx listens on for customers and the API.
            ``PROD_LISTEN_HOST``; "0.0.0.0".
        public_port: nginx's port for the channels and Rasa's HTTP API.
            ``PROD_PUBLIC_PORT``; 5005.
        actions_proxy_port: nginx's port (on 127.0.0.1) through which Rasa
            calls the action servers. ``PROD_ACTIONS_PROXY_PORT``; 5055.
        rasa_ports: One Rasa instance per port, on 127.0.0.1.
            ``PROD_RASA_PORTS``; "5006,5007".
        actions_ports: One action server per port, on 127.0.0.1.
            ``PROD_ACTIONS_PORTS``; "5056,5057".
        rasa_model: A model file, or a folder whose newest model is used.
            ``RASA_MODEL``; "models".
        tracker_db_host: PostgreSQL host of Rasa's tracker store.
            ``RASA_TRACKER_DB_HOST``; "127.0.0.1".
        tracker_db_port: Its port. ``RASA_TRACKER_DB_PORT``; 5432.
        tracker_db_name: Its database. ``RASA_TRACKER_DB_NAME``; "rasa".
        tracker_db_user: Its user. ``RASA_TRACKER_DB_USER``; "postgres".
        tracker_db_password: Its password. ``RASA_TRACKER_DB_PASSWORD``; empty.
        sql_pool_size: Connections each Rasa instance keeps open to the
            tracker store (Rasa reads ``SQL_POOL_SIZE``); 5.
        sql_max_overflow: Connections each instance may open beyond the pool
            (Rasa reads ``SQL_MAX_OVERFLOW``); 10.
        redis_host: Redis of the lock store. ``REDIS_HOST``; "127.0.0.1".
        redis_port: Its port. ``REDIS_PORT``; 6379.
        redis_db: Its database number. ``REDIS_DB``; 1.
        redis_password: Its password. ``REDIS_PASSWORD``; empty (none).
        redis_key_prefix: Prefix of the lock keys, alphanumeric, so that
            several assistants can share one Redis. ``REDIS_KEY_PREFIX``;
            "support".
        lock_lifetime_s: Seconds a conversation's lock lives when the instance
            holding it dies (Rasa reads ``TICKET_LOCK_LIFETIME``); 60.
        rabbitmq_host: RabbitMQ of the event broker (a host, or an
            ``amqp(s)://`` URL). ``RABBITMQ_HOST``; "127.0.0.1".
        rabbitmq_port: Its port. ``RABBITMQ_PORT``; 5672.
        rabbitmq_username: ``RABBITMQ_USERNAME``; "guest".
        rabbitmq_password: ``RABBITMQ_PASSWORD``; "guest".
        rabbitmq_queue: The durable queue the events go to.
            ``RABBITMQ_QUEUE``; "rasa_events".
        rabbitmq_exchange: The fanout exchange the queue is bound to.
            ``RABBITMQ_EXCHANGE``; "rasa-exchange".
        rabbitmq_max_held_events: Events each Rasa instance holds in memory at
            most while they wait to be published (more are dropped, logged,
            and kept by the tracker store; bot/prod/event_broker.py).
            ``RABBITMQ_MAX_HELD_EVENTS``; 20000.
        run_dir: Generated configuration, pid files and nginx's temporary
            files. ``PROD_RUN_DIR``; ".data/prod".
        log_dir: One log file per process. ``PROD_LOG_DIR``; "logs/prod".
        start_timeout_s: Seconds a process may take to answer its health check
            at start (Rasa loads the model). ``PROD_START_TIMEOUT_S``; 300.
        restart_max_s: Longest pause before restarting a process that died
            (1, 2, 4 ... seconds up to this). ``PROD_RESTART_MAX_S``; 30.
        create_databases: Whether the tracker store's and the project's
            PostgreSQL databases are created when missing.
            ``PROD_CREATE_DATABASES``; true.
    """

    rasa_auth_token: str
    listen_host: str = "0.0.0.0"
    public_port: int = 5005
    actions_proxy_port: int = 5055
    rasa_ports: Tuple[int, ...] = (5006, 5007)
    actions_ports: Tuple[int, ...] = (5056, 5057)
    rasa_model: Path = PROJECT_ROOT / "models"
    tracker_db_host: str = "127.0.0.1"
    tracker_db_port: int = 5432
    tracker_db_name: str = "rasa"
    tracker_db_user: str = "postgres"
    tracker_db_password: str = ""
    sql_pool_size: int = 5
    sql_max_overflow: int = 10
    redis_host: str = "127.0.0.1"
    redis_port: int = 6379
    redis_db: int = 1
    redis_password: str = ""
    redis_key_prefix: str = "support"
    lock_lifetime_s: int = 60
    rabbitmq_host: str = "127.0.0.1"
    rabbitmq_port: int = 5672
    rabbitmq_username: str = "guest"
    rabbitmq_password: str = "guest"
    rabbitmq_queue: str = "rasa_events"
    rabbitmq_exchange: str = "rasa-exchange"
    rabbitmq_max_held_events: int = MAX_HELD_EVENTS
    run_dir: Path = PROJECT_ROOT / ".data" / "prod"
    log_dir: Path = PROJECT_ROOT / "logs" / "prod"
    start_timeout_s: int = 300
    restart_max_s: int = 30
    create_databases: bool = True

    def __post_init__(self) -> None:
        if not self.rasa_auth_token:
            raise ValueError(
                "RASA_AUTH_TOKEN must be set in production mode: Rasa's HTTP API requires it"
            )
        if not self.rasa_ports or not self.actions_ports:
            raise ValueError("PROD_RASA_PORTS and PROD_ACTIONS_PORTS need at least one port each")
        ports = [
            self.public_port,
            self.actions_proxy_port,
            *self.rasa_ports,
            *self.actions_ports,
        ]
        if len(set(ports)) != len(ports):
            raise ValueError(f"the production ports must all differ, got {ports}")
        if not self.redis_key_prefix.isalnum():
            raise ValueError(
                f"REDIS_KEY_PREFIX must be letters and digits, got {self.redis_key_prefix!r}"
            )

    @property
    def connect_host(self) -> str:
        """The address local processes use to reach nginx's public port."""
        if self.listen_host in {"0.0.0.0", "::", "*", ""}:
            return "127.0.0.1"
        return self.listen_host

    @property
    def redis_url(self) -> str:
        """The Redis of the lock store as a URL (for the channels' shared rate limits)."""
        password = f":{quote(self.redis_password, safe='')}@" if self.redis_password else ""
        return f"redis://{password}{self.redis_host}:{self.redis_port}/{self.redis_db}"

    @property
    def public_url(self) -> str:
        """Base URL of nginx's public port (channels and Rasa's HTTP API)."""
        return f"http://{self.connect_host}:{self.public_port}"

    @property
    def action_endpoint_url(self) -> str:
        """The URL Rasa posts actions to: nginx in front of the action servers."""
        return f"http://127.0.0.1:{self.actions_proxy_port}/webhook"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "ProductionSettings":
        """Build settings from environment variables.

        Args:
            environ: The environment to read; ``os.environ`` by default.

        Returns:
            The parsed settings.

        Raises:
            ValueError: If a variable is missing or has a value of the wrong type.
        """
        return cls(
            rasa_auth_token=_get_str(environ, "RASA_AUTH_TOKEN") or "",
            listen_host=_get_str(environ, "PROD_LISTEN_HOST") or "0.0.0.0",
            public_port=_get_port(environ, "PROD_PUBLIC_PORT", 5005),
            actions_proxy_port=_get_port(environ, "PROD_ACTIONS_PROXY_PORT", 5055),
            rasa_ports=_get_ports(environ, "PROD_RASA_PORTS", (5006, 5007)),
            actions_ports=_get_ports(environ, "PROD_ACTIONS_PORTS", (5056, 5057)),
            rasa_model=_get_path(environ, "RASA_MODEL", PROJECT_ROOT / "models"),
            tracker_db_host=_get_str(environ, "RASA_TRACKER_DB_HOST") or "127.0.0.1",
            tracker_db_port=_get_port(environ, "RASA_TRACKER_DB_PORT", 5432),
            tracker_db_name=_get_str(environ, "RASA_TRACKER_DB_NAME") or "rasa",
            tracker_db_user=_get_str(environ, "RASA_TRACKER_DB_USER") or "postgres",
            tracker_db_password=environ.get("RASA_TRACKER_DB_PASSWORD", ""),
            sql_pool_size=_get_int(environ, "SQL_POOL_SIZE", 5, minimum=1),
            sql_max_overflow=_get_int(environ, "SQL_MAX_OVERFLOW", 10, minimum=0),
            redis_host=_get_str(environ, "REDIS_HOST") or "127.0.0.1",
            redis_port=_get_port(environ, "REDIS_PORT", 6379),
            redis_db=_get_int(environ, "REDIS_DB", 1, minimum=0),
            redis_password=environ.get("REDIS_PASSWORD", ""),
            redis_key_prefix=_get_str(environ, "REDIS_KEY_PREFIX") or "support",
            lock_lifetime_s=_get_int(environ, "TICKET_LOCK_LIFETIME", 60, minimum=1),
            rabbitmq_host=_get_str(environ, "RABBITMQ_HOST") or "127.0.0.1",
            rabbitmq_port=_get_port(environ, "RABBITMQ_PORT", 5672),
            rabbitmq_username=_get_str(environ, "RABBITMQ_USERNAME") or "guest",
            rabbitmq_password=environ.get("RABBITMQ_PASSWORD", "guest"),
            rabbitmq_queue=_get_str(environ, "RABBITMQ_QUEUE") or "rasa_events",
            rabbitmq_exchange=_get_str(environ, "RABBITMQ_EXCHANGE") or "rasa-exchange",
            rabbitmq_max_held_events=_get_int(
                environ, "RABBITMQ_MAX_HELD_EVENTS", MAX_HELD_EVENTS, minimum=1
            ),
            run_dir=_get_path(environ, "PROD_RUN_DIR", PROJECT_ROOT / ".data" / "prod"),
            log_dir=_get_path(environ, "PROD_LOG_DIR", PROJECT_ROOT / "logs" / "prod"),
            start_timeout_s=_get_int(environ, "PROD_START_TIMEOUT_S", 300, minimum=10),
            restart_max_s=_get_int(environ, "PROD_RESTART_MAX_S", 30, minimum=1),
            create_databases=_get_bool(environ, "PROD_CREATE_DATABASES", True),
        )


def _get_ports(environ: Mapping[str, str], name: str, default: Tuple[int, ...]) -> Tuple[int, ...]:
    raw = _get_str(environ, name)
    if raw is None:
        return default
    ports = []
    for part in raw.split(","):
        try:
            port = int(part.strip())
        except ValueError as exc:
            raise ValueError(f"{name} must be comma-separated ports, got {raw!r}") from exc
        if not 1 <= port <= MAX_PORT:
            raise ValueError(f"{name} must hold ports from 1 to {MAX_PORT}, got {port}")
        ports.append(port)
    if len(set(ports)) != len(ports):
        raise ValueError(f"{name} lists a port twice: {raw!r}")
    return tuple(ports)
