"""Checks before production mode starts: stores reachable, databases present, model there.

Each check returns a sentence saying what is wrong (None when fine), so that
``python -m bot.prod check`` can list every problem at once instead of
failing on the first.
"""

import asyncio
import shutil
from pathlib import Path
from typing import List, Optional
from urllib.parse import quote

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from bot.prod.settings import ProductionSettings

_CONNECT_TIMEOUT_S = 5


def tracker_store_url(settings: ProductionSettings) -> URL:
    """Return the SQLAlchemy URL of Rasa's tracker store database."""
    return URL.create(
        "postgresql+psycopg2",
        username=settings.tracker_db_user,
        password=settings.tracker_db_password or None,
        host=settings.tracker_db_host,
        port=settings.tracker_db_port,
        database=settings.tracker_db_name,
    )


def check_project_database_url(database_url: str) -> Optional[str]:
    """Production mode shares the project database between processes and machines.

    Args:
        database_url: ``ASSISTANT_DATABASE_URL``.

    Returns:
        A problem, or None for a PostgreSQL URL.
    """
    try:
        backend = make_url(database_url).get_backend_name()
    except ArgumentError:
        return f"ASSISTANT_DATABASE_URL is not a database URL: {database_url!r}"
    if backend != "postgresql":
        return (
            "ASSISTANT_DATABASE_URL must be a PostgreSQL URL in production mode "
            f"(postgresql://user:password@host:5432/assistant), got a {backend} URL"
        )
    return None


def ensure_database(url: URL, create: bool) -> Optional[str]:
    """Check that a PostgreSQL database exists, creating it when allowed.

    Args:
        url: The database's URL.
        create: Whether to create it when missing (needs the CREATEDB right).

    Returns:
        A problem, or None when the database is there.
    """
    name = url.database or ""
    server = url.set(database="postgres")
    engine = create_engine(
        server,
        future=True,
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": _CONNECT_TIMEOUT_S},
    )
    where = f"{url.host}:{url.port or 5432}"
    try:
        with engine.connect() as connection:
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
            if exists:
                return None
            if not create:
                return f"database {name!r} does not exist on {where} (PROD_CREATE_DATABASES=false)"
            quoted = engine.dialect.identifier_preparer.quote_identifier(name)
            connection.execute(text(f"CREATE DATABASE {quoted}"))
            return None
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip()
        return f"PostgreSQL at {where} (database {name!r}): {reason}"
    finally:
        engine.dispose()


def check_redis(settings: ProductionSettings) -> Optional[str]:
    """Return a problem if the lock store's Redis does not answer a PING."""
    import redis

    client = redis.StrictRedis(
        host=settings.redis_host,
        port=settings.redis_port,
        db=settings.redis_db,
        password=settings.redis_password or None,
        socket_timeout=_CONNECT_TIMEOUT_S,
        socket_connect_timeout=_CONNECT_TIMEOUT_S,
    )
    try:
        client.ping()
        return None
    except redis.RedisError as exc:
        return f"Redis at {settings.redis_host}:{settings.redis_port}: {exc}"
    finally:
        client.close()


def rabbitmq_url(settings: ProductionSettings) -> str:
    """Return the AMQP URL of the event broker, as Rasa builds it."""
    if "://" in settings.rabbitmq_host:
        return settings.rabbitmq_host
    username = quote(settings.rabbitmq_username, safe="")
    password = quote(settings.rabbitmq_password, safe="")
    return f"amqp://{username}:{password}@{settings.rabbitmq_host}:{settings.rabbitmq_port}"


def check_rabbitmq(settings: ProductionSettings) -> Optional[str]:
    """Return a problem if the event broker's RabbitMQ refuses a connection."""
    import aio_pika

    async def connect() -> None:
        connection = await aio_pika.connect(rabbitmq_url(settings), timeout=_CONNECT_TIMEOUT_S)
        await connection.close()

    try:
        asyncio.run(connect())
        return None
    except (aio_pika.exceptions.AMQPError, OSError, asyncio.TimeoutError) as exc:
        where = f"{settings.rabbitmq_host}:{settings.rabbitmq_port}"
        return f"RabbitMQ at {where}: {exc.__class__.__name__}: {exc}"


def check_model(model: Path) -> Optional[str]:
    """Return a problem if ``RASA_MODEL`` is neither a model file nor a folder holding one."""
    if model.is_file():
        return None
    if model.is_dir() and any(model.glob("*.tar.gz")):
        return None
    return f"no trained model at {model} (RASA_MODEL); run 'make train' first"


def check_nginx() -> Optional[str]:
    """Return a problem if nginx is not installed."""
    if shutil.which("nginx"):
        return None
    return "nginx is not installed; run 'make setup' (apt-get install -y nginx)"


def preflight(settings: ProductionSettings, database_url: str) -> List[str]:
    """Run every check; create the databases when allowed.

    Args:
        settings: The production settings.
        database_url: The project database (``ASSISTANT_DATABASE_URL``).

    Returns:
        The problems found; empty when production mode can start.
    """
    problems = [check_nginx(), check_model(settings.rasa_model)]
    url_problem = check_project_database_url(database_url)
    problems.append(url_problem)
    if url_problem is None:
        problems.append(ensure_database(make_url(database_url), settings.create_databases))
    problems.append(ensure_database(tracker_store_url(settings), settings.create_databases))
    problems.append(check_redis(settings))
    problems.append(check_rabbitmq(settings))
    return [problem for problem in problems if problem]
