"""The project database: engine and sessions, migrations, sample-data seeding.

Everything here is lazy: constructing a :class:`Database` or importing this
module opens no connection. The first call to :meth:`Database.ensure_ready`
(made by the repositories before their first query) migrates the schema to the
newest Alembic revision and, when enabled, seeds an empty database; it does so
once per process, under a lock that also serialises concurrent processes.

Command line (actions/db_cli.py)::

    python -m actions.db upgrade [REVISION]   # migrate (default: head)
    python -m actions.db seed                 # migrate, then seed if empty

New migrations go in ``actions/migrations/versions/`` as ``NNNN_<name>.py`` with
revision id ``NNNN``; generate one with ``alembic.command.revision(
alembic_config(url), message=..., rev_id="0002", autogenerate=True)``.
"""

import contextlib
import importlib
import logging
import sys
import threading
import zlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence

import portalocker
from alembic import command
from alembic.config import Config
from alembic.util import CommandError
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Dialect, Engine, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, declarative_base, sessionmaker
from sqlalchemy.types import DateTime, TypeDecorator

from actions.db_connections import create_project_engine, reading_engine, sqlite_path
from actions.settings import Settings, get_settings

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Modules that define models on ``Base``; Alembic's env.py imports them so that
# autogenerate sees every table. Add the catalogue and handoff modules here.
MODEL_MODULES = (
    "actions.orders",
    "actions.catalogue_store",
    "actions.recommender.feedback",
    "bot.handoff.models",
)

# Seconds a process waits for another one that is migrating or seeding.
_LOCK_TIMEOUT_S = 60
# Any fixed 64-bit number works; this one is derived from a readable name.
_PG_LOCK_KEY = zlib.crc32(b"support-assistant:migrate-and-seed")

_NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Base = declarative_base(metadata=MetaData(naming_convention=_NAMING_CONVENTION))
"""Declarative base shared by every model of the project database."""

Seeder = Callable[[Session, datetime], int]
"""Inserts sample rows if its tables are empty; returns the number inserted."""


class DatabaseUnavailable(Exception):
    """The database could not be reached or used (connection, schema, disk)."""


def utc_now() -> datetime:
    """Return the current time as a timezone-aware UTC datetime."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """A timestamp that is stored in UTC and always read back timezone-aware.

    SQLite keeps no time zone, PostgreSQL converts to the session's zone; this
    type hides both differences. Naive datetimes are rejected when written.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Optional[datetime], dialect: Dialect) -> Optional[datetime]:
        """Convert an aware datetime to UTC before it is written."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}; use an aware UTC datetime")
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(
        self, value: Optional[datetime], dialect: Dialect
    ) -> Optional[datetime]:
        """Return the stored value as an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


@contextlib.contextmanager
def unavailable_on_error(what: str) -> Iterator[None]:
    """Re-raise database, file-system and migration errors as one type.

    Integrity errors (a duplicate key, say) are the caller's mistake, not an
    outage, and pass through unchanged.

    Args:
        what: What was being done, for the error message.

    Raises:
        DatabaseUnavailable: If the wrapped block failed to use the database.
    """
    try:
        yield
    except (DatabaseUnavailable, IntegrityError):
        raise
    except (DBAPIError, OSError, CommandError, portalocker.LockException) as exc:
        raise DatabaseUnavailable(f"{what} failed: {exc}") from exc


def _default_seeders() -> List[Seeder]:
    # Imported here: the seeders import the models, which import this module.
    from actions.catalogue_files import seed_catalogue
    from actions.sample_orders import seed_sample_orders

    return [seed_sample_orders, seed_catalogue]


class Database:
    """Lazily connected handle on the project database.

    Args:
        settings: Where the database is and whether to seed it.
        clock: Source of "now" for seeding; sample dates are relative to it.
        seeders: Functions that fill empty tables with sample data; by default
            the sample orders and the seed product catalogue.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utc_now,
        seeders: Optional[Sequence[Seeder]] = None,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._seeders = list(seeders) if seeders is not None else None
        self._engine: Optional[Engine] = None
        self._sessions: Optional[sessionmaker] = None
        self._read_sessions: Optional[sessionmaker] = None
        self._engine_lock = threading.Lock()
        self._ready_lock = threading.Lock()
        self._ready = False

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, created on first use."""
        return self._connect()[0]

    def session(self) -> Session:
        """Open a new ORM session; use it as a context manager."""
        return self._connect()[1]()

    def _connect(self) -> "tuple[Engine, sessionmaker, sessionmaker]":
        """The engine, and session factories for writes and for reads."""
        with self._engine_lock:
            if self._engine is None or self._sessions is None or self._read_sessions is None:
                self._engine = create_project_engine(self.settings.database_url)
                self._sessions = sessionmaker(
                    bind=self._engine, future=True, expire_on_commit=False
                )
                self._read_sessions = sessionmaker(
                    bind=reading_engine(self._engine), future=True, expire_on_commit=False
                )
            return self._engine, self._sessions, self._read_sessions

    @contextlib.contextmanager
    def transaction(self, what: str) -> Iterator[Session]:
        """Open a session in a transaction, preparing the database on first use.

        Args:
            what: What is being done, for the error message.

        Yields:
            The session; the transaction commits when the block ends.

        Raises:
            DatabaseUnavailable: If the database cannot be prepared or used.
        """
        with unavailable_on_error(what):
            self.ensure_ready()
            with self.session() as session, session.begin():
                yield session

    @contextlib.contextmanager
    def reading(self, what: str) -> Iterator[Session]:
        """Open a session for reads, preparing the database on first use.

        Args:
            what: What is being done, for the error message.

        Yields:
            The session (no explicit transaction; nothing is committed). On
            PostgreSQL each statement runs on its own (autocommit,
            :func:`actions.db_connections.reading_engine`).

        Raises:
            DatabaseUnavailable: If the database cannot be prepared or used.
        """
        with unavailable_on_error(what):
            self.ensure_ready()
            with self._connect()[2]() as session:
                yield session

    def migrate(self, revision: str = "head") -> None:
        """Upgrade the schema to ``revision`` with the Alembic migrations.

        Args:
            revision: Target revision; the newest by default.
        """
        with self.engine.begin() as connection:
            config = alembic_config(self.settings.database_url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

    def seed(self) -> int:
        """Run the seeders, each of which only fills empty tables.

        Returns:
            The number of rows inserted.
        """
        seeders = self._seeders if self._seeders is not None else _default_seeders()
        inserted = 0
        with self.session() as session, session.begin():
            now = self._clock()
            for seeder in seeders:
                inserted += seeder(session, now)
        return inserted

    def prepare(self, *, seed: bool) -> int:
        """Migrate and optionally seeds, holding the cross-process lock.

        Args:
            seed: Whether to run the seeders after migrating.

        Returns:
            The number of sample rows inserted.
        """
        with self.exclusive():
            self.migrate()
            return self.seed() if seed else 0

    def ensure_ready(self) -> None:
        """Migrate and seeds once per process, before the first query.

        A failed attempt is not remembered, so the next call tries again (the
        database may be back by then).

        Raises:
            DatabaseUnavailable: If the database cannot be reached or migrated.
        """
        if self._ready:
            return
        with self._ready_lock:
            if self._ready:
                return
            with unavailable_on_error("preparing the database"):
                inserted = self.prepare(seed=self.settings.seed_sample_data)
            if inserted:
                logger.info("Seeded the empty database with %d sample rows.", inserted)
            self._ready = True

    def dispose(self) -> None:
        """Close pooled connections; the engine is recreated on next use."""
        with self._engine_lock:
            if self._engine is not None:
                self._engine.dispose()
            self._engine = None
            self._sessions = None
            self._read_sessions = None

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Keep other processes out while migrating and seeding.

        PostgreSQL: a session-level advisory lock. SQLite file: a lock file
        next to the database. In-memory SQLite needs none (one process).
        """
        url = make_url(self.settings.database_url)
        backend = url.get_backend_name()
        if backend == "postgresql":
            key = {"key": _PG_LOCK_KEY}
            with self.engine.connect() as connection:
                connection.execute(text("SELECT pg_advisory_lock(:key)"), key)
                # The lock belongs to the connection, not to this transaction.
                connection.commit()
                try:
                    yield
                finally:
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), key)
                    connection.commit()
            return
        path = sqlite_path(self.settings.database_url) if backend == "sqlite" else None
        if path is None:
            yield
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = path.with_name(path.name + ".lock")
        with portalocker.Lock(lock_path, mode="a", timeout=_LOCK_TIMEOUT_S):
            yield


def alembic_config(database_url: str) -> Config:
    """Build the Alembic configuration in code (the project has no alembic.ini).

    Args:
        database_url: SQLAlchemy URL of the database to migrate.

    Returns:
        A configuration whose env.py uses ``config.attributes["connection"]``
        when set, else an engine for ``database_url``.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolates "%"; URLs may contain escaped characters.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


_default_database: Optional[Database] = None
_default_database_lock = threading.Lock()


def get_database() -> Database:
    """Return the process-wide database for :func:`get_settings`, made lazily."""
    global _default_database
    with _default_database_lock:
        if _default_database is None:
            _default_database = Database(get_settings())
        return _default_database


if __name__ == "__main__":
    # Under ``python -m`` this file runs as ``__main__``, a second copy beside
    # ``actions.db`` (which the models import). The command line lives in
    # actions/db_cli.py, which imports the real module, so there is only one
    # Base and one Database.
    sys.exit(importlib.import_module("actions.db_cli").main())
