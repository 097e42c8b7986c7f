"""Database engines: idle connections checked before use, reads without transactions.

:func:`create_project_engine` creates the project database's engine (the
action server's, the handoff service's).

SQLAlchemy's ``pool_pre_ping`` sends ``SELECT 1`` every time a connection
leaves the pool, so that a connection the database closed (a restart, an idle
timeout) is replaced instead of failing the next statement. Under load a
connection goes back and out of the pool many times a second, and every
message of the assistant paid one extra round trip per checkout: the Rasa
instance's tracker store two, the action server one or two.

:func:`ping_when_idle` pings only a connection that has been back in the pool
for ``idle_s`` or more. A restart takes the database away for longer than
that, so the connections that sat in the pool meanwhile are checked, and the
first statement that fails on a dead connection makes SQLAlchemy replace the
whole pool. What is no longer covered is a database that restarts within
``idle_s`` of a connection's last use: that connection's next statement fails
once (the message is refused with "send it again") and the pool is renewed.
"""

import time
from pathlib import Path
from typing import Any, Optional

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import StaticPool

PING_AFTER_IDLE_S = 1.0
"""Seconds in the pool after which a connection is pinged before use."""

_RETURNED_AT = "returned_at"


def ping_when_idle(engine: Engine, idle_s: float = PING_AFTER_IDLE_S) -> Engine:
    """Make ``engine``'s pool ping a connection before use when it sat idle.

    A failed ping replaces the connection (SQLAlchemy retries the checkout
    with a new one), as ``pool_pre_ping`` does.

    Args:
        engine: An engine created without ``pool_pre_ping``.
        idle_s: Seconds in the pool after which a connection is pinged.

    Returns:
        The same engine.

    Raises:
        ValueError: If ``idle_s`` is negative.
    """
    if idle_s < 0:
        raise ValueError(f"idle_s must not be negative, got {idle_s}")
    dialect = engine.dialect

    def returned(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    def taken(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_RETURNED_AT)
        if since is None or time.monotonic() - since < idle_s:
            return  # new, or back in the pool only briefly
        # The dialect's own ping, as pool_pre_ping uses it: False when the
        # connection is gone; any other error is raised.
        if not dialect.do_ping(dbapi_connection):
            raise DisconnectionError("a pooled connection was closed by the database")

    event.listen(engine, "checkin", returned)
    event.listen(engine, "checkout", taken)
    return engine


def sqlite_path(database_url: str) -> Optional[Path]:
    """Return the file of a SQLite URL, or None for an in-memory database."""
    database = make_url(database_url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def create_project_engine(database_url: str) -> Engine:
    """Create the project database's engine; for SQLite also the database's directory.

    Args:
        database_url: A SQLAlchemy URL.

    Returns:
        The engine (2.0 style); a server database's idle connections are
        pinged before use (:func:`ping_when_idle`).
    """
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return ping_when_idle(create_engine(url, future=True))

    path = sqlite_path(database_url)
    if path is None:
        # One shared connection, or every thread would see its own empty database.
        engine = create_engine(
            url,
            future=True,
            poolclass=StaticPool,
            connect_args={"check_same_thread": False},
        )
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, future=True)

    @event.listens_for(engine, "connect")
    def _enable_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def reading_engine(engine: Engine) -> Engine:
    """The engine for sessions that only read: autocommit on PostgreSQL.

    Under PostgreSQL's default READ COMMITTED each statement of a transaction
    sees its own snapshot anyway, so a read-only session loses nothing
    without one and saves the ``BEGIN`` and ``ROLLBACK`` round trips. SQLite
    keeps its transactions: its in-memory database is one connection shared
    by every thread, which must not switch modes under another's transaction.

    Args:
        engine: The project engine.

    Returns:
        An engine sharing ``engine``'s pool.
    """
    if engine.dialect.name == "sqlite":
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")
