"""Make a tracker store outage an error, not a conversation silently forgotten.

Rasa wraps every tracker store in ``FailSafeTrackerStore``: when the database
is down it hands the processor no tracker (so the message is handled as the
first of a new conversation, without its history or active form) and saves
the result in memory, where it is lost, while the customer gets a normal
answer. With several instances sharing the store that is wrong twice over.
Production mode removes the wrapper once the agent is loaded, so a failing
store raises: the channels answer "send it again" (bot/prod/channels.py),
Rasa's HTTP API answers 500 and the handoff service retries.

The SQL store's connections are also checked before use when they sat idle
(:func:`actions.db_connections.ping_when_idle`), so the first message after
the database restarted does not fail on a connection the restart closed.

:class:`SingleReadSQLTrackerStore` (``type:`` in deploy/endpoints.prod.yml) is
Rasa's SQL store with less database work per message. To find the events to
publish to the event broker, Rasa's ``save`` first loads the whole
conversation back from the database and replays it
(``TrackerStore.stream_events``), counts the stored events again in a second
session, and inserts the new ones through the ORM, one ``INSERT ... RETURNING``
round trip per event. This store publishes and inserts in one session, in one
statement, writing exactly the rows Rasa writes, and does not count at all
when it loaded or last saved this very tracker object: Rasa's processor loads
the conversation (or creates and saves a new one), then saves it, under the
conversation's lock, so the stored count is the number of events it loaded or
saved. It loads and counts a conversation with prepared Core statements, where
Rasa builds an ORM query (and an ORM object for every row it loads) each time.
Its connections run in autocommit mode: a load is one ``SELECT`` and a save one
multi-row ``INSERT`` (atomic on its own), each one round trip, without the
``BEGIN`` and the ``COMMIT`` or ``ROLLBACK`` around it.
"""

import itertools
import json
import logging
import weakref
from collections import OrderedDict
from typing import Any, Dict, NamedTuple, Optional, Tuple

import sqlalchemy as sa
from rasa.core.tracker_store import FailSafeTrackerStore, SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.events import Event, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sanic import Sanic
from sqlalchemy import Table, create_engine
from sqlalchemy.orm import sessionmaker
from sqlalchemy.sql import Select

from actions.db_connections import PING_AFTER_IDLE_S, ping_when_idle

logger = logging.getLogger(__name__)

AUTOCOMMIT = "AUTOCOMMIT"

MAX_REMEMBERED_LOADS = 10_000
"""Loaded conversations not saved (yet) whose counts are kept, newest first."""


class SingleReadSQLTrackerStore(SQLTrackerStore):
    """Rasa's SQL tracker store: one insert per save, no read back, no count after a load."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Takes Rasa's ``SQLTrackerStore`` arguments."""
        super().__init__(*args, **kwargs)
        # Rasa has created the database and the table with its engine.
        _replace_engine(self, isolation_level=AUTOCOMMIT)
        # By sender: the tracker retrieve() returned or save() stored last and
        # how many stored events it stands for.
        self._loaded: OrderedDict[str, Tuple[weakref.ref, int]] = OrderedDict()
        self._queries = _event_queries(self.SQLEvent.__table__)

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        """Loads the latest session, as Rasa does, and notes how many events it holds."""
        tracker = await super().retrieve(sender_id)
        if tracker is not None:
            self._remember(tracker, len(tracker.events))
        return tracker

    async def _retrieve(
        self, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> Optional[DialogueStateTracker]:
        """Rasa's ``SQLTrackerStore._retrieve``: the same events, one prepared query."""
        if fetch_events_from_all_sessions:
            query = self._queries.all_sessions
        else:
            query = self._queries.latest_session
        with self.session_scope() as session:
            rows = session.execute(query, {"sender_id": sender_id}).scalars().all()
        events = [json.loads(data) for data in rows]
        if self.domain and events:
            return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        return None

    def _remember(self, tracker: DialogueStateTracker, stored: int) -> None:
        self._loaded[tracker.sender_id] = (weakref.ref(tracker), stored)
        self._loaded.move_to_end(tracker.sender_id)
        while len(self._loaded) > MAX_REMEMBERED_LOADS:
            self._loaded.popitem(last=False)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Publishes and stores the tracker's events that are not stored yet.

        The new events are those after the stored ones since the latest session
        start, as in Rasa's ``save``, which publishes them before storing them.
        The lock store keeps one load and save per conversation at a time.
        """
        with self.session_scope() as session:
            stored = self._known_count(tracker)
            if stored is None:
                stored = self._stored_count(session, tracker.sender_id)
            new_events = list(itertools.islice(tracker.events, stored, None))
            if self.event_broker is not None:
                await self._stream_new_events(self.event_broker, new_events, tracker.sender_id)
            if new_events:
                session.execute(
                    self.SQLEvent.__table__.insert(),
                    [_event_row(tracker.sender_id, event) for event in new_events],
                )
            session.commit()
        self._remember(tracker, stored + len(new_events))
        logger.debug("Tracker with sender_id '%s' stored to database", tracker.sender_id)

    def _known_count(self, tracker: DialogueStateTracker) -> Optional[int]:
        """The stored events ``tracker`` stands for, if this store loaded or saved it last.

        Only the very object counts: a tracker built some other way (Rasa's API
        replacing a conversation's events), or one loaded before a later load
        of the same conversation, is counted in the database.
        """
        known = self._loaded.pop(tracker.sender_id, None)
        if known is None or known[0]() is not tracker:
            return None
        return known[1]

    def _stored_count(self, session: Any, sender_id: str) -> int:
        """Stored events of the conversation since its last session start (as Rasa counts)."""
        count = session.execute(self._queries.latest_session_count, {"sender_id": sender_id})
        return int(count.scalar_one())


class _EventQueries(NamedTuple):
    latest_session: Select
    all_sessions: Select
    latest_session_count: Select


def _event_queries(events: Table) -> _EventQueries:
    """A conversation's event data (latest session, all sessions) and latest-session count.

    The same rows, in the same order, as Rasa's ``SQLTrackerStore._event_query``
    (and the count its ``count()`` gives): the latest session is every event from
    the latest ``session_started`` on, or all events when there is none.
    ``sender_id`` is a bound parameter.
    """
    sender = sa.bindparam("sender_id")
    session_start = (
        sa.select(sa.func.max(events.c.timestamp))
        .where(events.c.sender_id == sender, events.c.type_name == SessionStarted.type_name)
        .scalar_subquery()
    )
    all_sessions = sa.select(events.c.data).where(events.c.sender_id == sender)
    latest_session = all_sessions.where(
        sa.or_(events.c.timestamp >= session_start, session_start.is_(None))
    )
    return _EventQueries(
        latest_session=latest_session.order_by(events.c.id),
        all_sessions=all_sessions.order_by(events.c.id),
        latest_session_count=sa.select(sa.func.count()).select_from(latest_session.subquery()),
    )


def _replace_engine(
    store: SQLTrackerStore,
    isolation_level: Optional[str],
    ping_after_idle_s: Optional[float] = None,
) -> None:
    """Give ``store`` a new engine on the same URL (Rasa's pool settings), closing the old."""
    url = store.engine.url
    options: Dict[str, Any] = dict(create_engine_kwargs(url))
    if isolation_level is not None:
        options["isolation_level"] = isolation_level
    engine = create_engine(url, **options)
    if ping_after_idle_s is not None:
        ping_when_idle(engine, ping_after_idle_s)
    old_engine, store.engine = store.engine, engine
    store.sessionmaker = sessionmaker(bind=engine)
    old_engine.dispose()


def _event_row(sender_id: str, event: Event) -> Dict[str, Any]:
    """The ``events`` row Rasa's ``SQLTrackerStore.save`` writes for an event."""
    data = event.as_dict()
    return {
        "sender_id": sender_id,
        "type_name": event.type_name,
        "timestamp": data.get("timestamp"),
        "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
        "action_name": data.get("name"),
        "data": json.dumps(data),
    }


def make_tracker_store_strict(agent: Any, ping_after_idle_s: float = PING_AFTER_IDLE_S) -> bool:
    """Unwrap the agent's tracker store and ping idle SQL connections before use.

    Args:
        agent: Rasa's ``Agent`` (``app.ctx.agent``), with its processor.
        ping_after_idle_s: Seconds in the pool after which a connection is
            pinged before use (:func:`actions.db_connections.ping_when_idle`).

    Returns:
        Whether the store was changed (False when already strict).
    """
    store = agent.tracker_store
    if not isinstance(store, FailSafeTrackerStore):
        return False
    primary = primary_store(store)
    if isinstance(primary, SQLTrackerStore):
        _replace_engine(
            primary,
            isolation_level=getattr(primary.engine.dialect, "isolation_level", None),
            ping_after_idle_s=ping_after_idle_s,
        )
    agent.tracker_store = primary
    if agent.processor is not None:
        agent.processor.tracker_store = primary
    logger.info("Tracker store errors now fail the message (%s).", type(primary).__name__)
    return True


def primary_store(store: Any) -> Any:
    """The store a ``FailSafeTrackerStore`` wraps, or ``store`` itself (also ``None``)."""
    # FailSafeTrackerStore offers no public accessor for the store it wraps.
    if isinstance(store, FailSafeTrackerStore):
        return store._tracker_store
    return store


async def strict_tracker_store_on_start(app: Sanic, _loop: Any) -> None:
    """Sanic ``after_server_start`` listener: the agent is loaded by then."""
    agent = getattr(app.ctx, "agent", None)
    if agent is None:
        logger.warning("No agent loaded; the tracker store stays fail-safe.")
        return
    make_tracker_store_strict(agent)
