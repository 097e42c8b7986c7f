"""The processes of production mode: what runs, with which arguments and environment.

nginx, one action server per ``PROD_ACTIONS_PORTS`` entry, one Rasa instance
per ``PROD_RASA_PORTS`` entry and exactly one handoff service (it delivers an
outbox; a second instance would deliver every line twice).
"""

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

from actions.settings import PROJECT_ROOT
from bot.prod.settings import ProductionSettings

ENDPOINTS_PATH = PROJECT_ROOT / "deploy" / "endpoints.prod.yml"
CREDENTIALS_PATH = PROJECT_ROOT / "deploy" / "credentials.prod.yml"


@dataclass(frozen=True)
class ServiceSpec:
    """One supervised process.

    Attributes:
        name: Unique name, also of its log and pid files (``rasa-1``).
        argv: The command line.
        health_url: Answers 200 once the process is ready; None to count it
            ready as soon as it runs.
        env: Its environment.
    """

    name: str
    argv: Tuple[str, ...]
    health_url: Optional[str]
    env: Mapping[str, str] = field(default_factory=dict)


def child_environment(settings: ProductionSettings, base: Mapping[str, str]) -> Dict[str, str]:
    """Return the environment of every process: ``base`` plus the derived variables.

    It holds every variable deploy/endpoints.prod.yml expands, with the
    settings' values (so their defaults apply), the pool and lock settings
    Rasa reads itself, and the handoff service's way to Rasa (through nginx,
    with the API token). The channels' rate buckets go to the deployment's
    Redis unless ``CHANNEL_RATE_REDIS_URL`` names another.

    Args:
        settings: The production settings.
        base: The supervisor's own environment.

    Returns:
        The environment.
    """
    env = dict(base)
    env.update(
        {
            "RASA_ACTION_ENDPOINT_URL": settings.action_endpoint_url,
            "RASA_TRACKER_DB_HOST": settings.tracker_db_host,
            "RASA_TRACKER_DB_PORT": str(settings.tracker_db_port),
            "RASA_TRACKER_DB_NAME": settings.tracker_db_name,
            "RASA_TRACKER_DB_USER": settings.tracker_db_user,
            "RASA_TRACKER_DB_PASSWORD": settings.tracker_db_password,
            "SQL_POOL_SIZE": str(settings.sql_pool_size),
            "SQL_MAX_OVERFLOW": str(settings.sql_max_overflow),
            "REDIS_HOST": settings.redis_host,
            "REDIS_PORT": str(settings.redis_port),
            "REDIS_DB": str(settings.redis_db),
            "REDIS_PASSWORD": settings.redis_password,
            "REDIS_KEY_PREFIX": settings.redis_key_prefix,
            "TICKET_LOCK_LIFETIME": str(settings.lock_lifetime_s),
            "RABBITMQ_HOST": settings.rabbitmq_host,
            "RABBITMQ_PORT": str(settings.rabbitmq_port),
            "RABBITMQ_USERNAME": settings.rabbitmq_username,
            "RABBITMQ_PASSWORD": settings.rabbitmq_password,
            "RABBITMQ_QUEUE": settings.rabbitmq_queue,
            "RABBITMQ_EXCHANGE": settings.rabbitmq_exchange,
            "RABBITMQ_MAX_HELD_EVENTS": str(settings.rabbitmq_max_held_events),
            "CHANNEL_RATE_REDIS_URL": base.get("CHANNEL_RATE_REDIS_URL") or settings.redis_url,
            "HANDOFF_RASA_URL": settings.public_url,
            "HANDOFF_RASA_TOKEN": settings.rasa_auth_token,
            "TF_CPP_MIN_LOG_LEVEL": base.get("TF_CPP_MIN_LOG_LEVEL", "2"),
            # One compute thread per process: torch and TensorFlow otherwise start
            # one per core in every process, and four processes on two cores spent
            # 185 ms of CPU per message instead of 53 (docs/benchmarks.md, "Load").
            "OMP_NUM_THREADS": base.get("OMP_NUM_THREADS", "1"),
            "MKL_NUM_THREADS": base.get("MKL_NUM_THREADS", "1"),
            "TF_INTRA_OP_PARALLELISM_THREADS": base.get("TF_INTRA_OP_PARALLELISM_THREADS", "1"),
            "TF_INTER_OP_PARALLELISM_THREADS": base.get("TF_INTER_OP_PARALLELISM_THREADS", "1"),
        }
    )
    return env


def build_services(
    settings: ProductionSettings,
    handoff_port: int,
    env: Mapping[str, str],
    nginx_config: Path,
    python: str = sys.executable,
    nginx: str = "nginx",
) -> List[ServiceSpec]:
    """List the processes of the topology in start order.

    Args:
        settings: The production settings.
        handoff_port: The handoff service's port (``HANDOFF_PORT``).
        env: Every process's environment (see :func:`child_environment`).
        nginx_config: The rendered nginx configuration.
        python: The interpreter that runs Rasa, rasa-sdk and the handoff service.
        nginx: The nginx executable.

    Returns:
        nginx, the action servers, the handoff service, the Rasa instances.
    """
    services = [
        ServiceSpec(
            name="nginx",
            argv=(
                nginx,
                "-p",
                str(settings.run_dir),
                "-c",
                str(nginx_config),
                "-e",
                str(settings.log_dir / "nginx-error.log"),
            ),
            health_url=f"{settings.public_url}/lb/health",
            env=env,
        )
    ]
    for number, port in enumerate(settings.actions_ports, start=1):
        services.append(
            ServiceSpec(
                name=f"actions-{number}",
                argv=(python, "-m", "rasa", "run", "actions", "--actions", "actions")
                + ("--port", str(port)),
                health_url=f"http://127.0.0.1:{port}/health",
                env=env,
            )
        )
    services.append(
        ServiceSpec(
            name="handoff",
            argv=(python, "-m", "bot.handoff", "serve", "--port", str(handoff_port)),
            health_url=f"http://127.0.0.1:{handoff_port}/health",
            env=env,
        )
    )
    for number, port in enumerate(settings.rasa_ports, start=1):
        services.append(
            ServiceSpec(
                name=f"rasa-{number}",
                argv=(
                    python,
                    "-m",
                    "rasa",
                    "run",
                    "--model",
                    str(settings.rasa_model),
                    "--endpoints",
                    str(ENDPOINTS_PATH),
                    "--credentials",
                    str(CREDENTIALS_PATH),
                    "--interface",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--cors",
                    "*",
                    "--enable-api",
                    "--auth-token",
                    settings.rasa_auth_token,
                ),
                health_url=f"http://127.0.0.1:{port}/",
                env=env,
            )
        )
    return services
