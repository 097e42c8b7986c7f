import asyncio
import os
import subprocess
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import List

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

import actions.catalogue_store  # noqa: F401 - registers the models on Base
import actions.orders  # noqa: F401 - registers the models on Base
import actions.recommender.feedback  # noqa: F401 - registers the models on Base
import bot.handoff.models  # noqa: F401 - registers the models on Base
from actions.db import Base, Database, DatabaseUnavailable
from actions.orders import OrderRepository
from actions.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SEED_PRODUCTS = sum(
    1 for line in (PROJECT_ROOT / "actions" / "data" / "catalogue.jsonl").open() if line.strip()
)


class SeederSpy:
    """A seeder that only counts its calls (thread-safe)."""

    def __init__(self) -> None:
        self.calls: List[datetime] = []
        self._lock = threading.Lock()

    def __call__(self, session: Session, now: datetime) -> int:
        with self._lock:
            self.calls.append(now)
        return 0


def run_cli(database_url: str, *args: str) -> "subprocess.Popen[str]":
    env = {**os.environ, "ASSISTANT_DATABASE_URL": database_url}
    return subprocess.Popen(
        [sys.executable, "-m", "actions.db", *args],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_migrations_create_the_schema_from_scratch(database: Database, settings: Settings) -> None:
    database.migrate()

    with database.engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        drift = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert tables == {
        "alembic_version",
        "orders",
        "order_items",
        "products",
        "recommendation_feedback",
        "handoff_agents",
        "handoff_agent_tokens",
        "handoff_tickets",
        "handoff_messages",
        "handoff_events",
        "handoff_cursors",
    }
    assert version == "0004"
    assert drift == [], "the models and the migrations disagree"


def test_the_database_directory_is_created(database: Database, settings: Settings) -> None:
    database_file = Path(make_url(settings.database_url).database or "")
    assert not database_file.parent.exists()

    database.ensure_ready()

    assert database_file.is_file()


def test_migrations_downgrade_and_upgrade_again(database: Database) -> None:
    from alembic import command

    from actions.db import alembic_config

    database.migrate()
    with database.engine.begin() as connection:
        config = alembic_config(database.settings.database_url)
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(database.engine).get_table_names()) == {"alembic_version"}

    database.migrate()
    assert "orders" in inspect(database.engine).get_table_names()


def test_first_use_seeds_an_empty_database_with_the_sample_orders(
    repository: OrderRepository,
) -> None:
    assert repository.count() == 20
    assert repository.get("ORD-104233") is not None


def test_seeding_runs_once_per_process_even_from_many_threads(settings: Settings) -> None:
    spy = SeederSpy()
    database = Database(settings, seeders=[spy])
    threads = [threading.Thread(target=database.ensure_ready) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    database.ensure_ready()
    database.dispose()

    assert len(spy.calls) == 1


def test_a_database_with_orders_is_not_seeded_again(settings: Settings, now: datetime) -> None:
    first = Database(settings, clock=lambda: now)
    # 20 sample orders and the 342 products of the seed catalogue.
    assert first.prepare(seed=True) == 20 + SEED_PRODUCTS
    first.dispose()

    # A later process (a new Database) finds the orders and adds none.
    second = Database(settings)
    assert second.prepare(seed=True) == 0
    assert OrderRepository(second).count() == 20
    second.dispose()


def test_seeding_can_be_switched_off(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'a.db'}", seed_sample_data=False)
    database = Database(settings)

    assert OrderRepository(database).count() == 0
    assert OrderRepository(database).get("ORD-104233") is None
    database.dispose()


def test_two_processes_starting_together_seed_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared' / 'assistant.db'}"

    processes = [run_cli(url, "seed"), run_cli(url, "seed")]
    outputs = [process.communicate(timeout=60) for process in processes]

    assert [process.returncode for process in processes] == [0, 0], outputs
    stdouts = sorted(stdout.strip() for stdout, _ in outputs)
    assert stdouts == [
        f"Seeded {20 + SEED_PRODUCTS} sample rows.",
        "The database already has data; nothing was seeded.",
    ]
    database = Database(Settings(database_url=url, seed_sample_data=False))
    assert OrderRepository(database).count() == 20
    database.dispose()


def test_cli_upgrade_migrates_without_seeding(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'assistant.db'}"

    process = run_cli(url, "upgrade")
    stdout, stderr = process.communicate(timeout=60)

    assert process.returncode == 0, stderr
    assert stdout.strip() == "Database migrated to head."
    engine = create_engine(url, future=True)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM orders")).scalar_one() == 0
    engine.dispose()


def test_importing_the_actions_package_opens_no_database(tmp_path: Path) -> None:
    database_dir = tmp_path / "not-created"
    script = (
        "from rasa_sdk.executor import ActionExecutor\n"
        "executor = ActionExecutor()\n"
        "executor.register_package('actions')\n"
        "print(' '.join(sorted(executor.actions)))\n"
    )
    env = {**os.environ, "ASSISTANT_DATABASE_URL": f"sqlite:///{database_dir / 'a.db'}"}

    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    registered = set(result.stdout.split())
    assert {
        "action_order_status",
        "action_check_return_eligibility",
        "validate_order_status_form",
        "validate_return_form",
        "action_fallback_suggestions",
    } <= registered
    assert not database_dir.exists()


def test_unreachable_database_raises_database_unavailable(unreachable_settings: Settings) -> None:
    database = Database(unreachable_settings)

    with pytest.raises(DatabaseUnavailable, match="preparing the database failed"):
        database.ensure_ready()
    database.dispose()


def test_a_failed_start_is_retried_on_next_use(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the database directory should be")
    database = Database(Settings(database_url=f"sqlite:///{blocker / 'assistant.db'}"))
    repository = OrderRepository(database)

    with pytest.raises(DatabaseUnavailable):
        repository.get("ORD-104233")

    blocker.unlink()
    assert repository.get("ORD-104233") is not None
    database.dispose()


def test_in_memory_sqlite_is_shared_between_threads() -> None:
    database = Database(Settings(database_url="sqlite://"))
    repository = OrderRepository(database)

    async def lookup() -> object:
        return await asyncio.to_thread(repository.get, "ORD-104187")

    assert repository.count() == 20
    assert asyncio.run(lookup()) is not None
    database.dispose()


def test_migrations_and_repository_work_on_postgresql(postgres_url: str, now: datetime) -> None:
    # Two "processes" (separate Database objects, separate engines) start together.
    databases = [Database(Settings(database_url=postgres_url), clock=lambda: now) for _ in range(2)]
    errors: List[BaseException] = []

    def start(database: Database) -> None:
        try:
            database.ensure_ready()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(db,)) for db in databases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    try:
        assert errors == []
        repository = OrderRepository(databases[0])
        assert repository.count() == 20
        order = repository.get("ORD-104233")
        assert order is not None and order.carrier == "DHL"
        assert order.shipped_at is not None and order.shipped_at.tzinfo is timezone.utc
        assert order.shipped_at == datetime(2025, 3, 12, 10, 0, tzinfo=timezone.utc)
        assert repository.get("ORD-999999") is None
        with databases[0].engine.connect() as connection:
            drift = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert drift == []
    finally:
        for database in databases:
            database.dispose()
