"""Make a tracker store outage an error, not a conversation silently forgotten.

Rasa wraps every tracker store in ``FailSafeTrackerStore``: when the database
is down it hands the processor no tracker (so the message is handled as the
first of a new conversation, without its history or active form) and saves
the result in memory, where it is lost, while the customer gets a normal
answer. With several instances sharing the store that is wrong twice over.
Production mode removes the wrapper once the agent is loaded, so a failing
store raises: the channels answer "send it again" (bot/prod/channels.py),
Rasa's HTTP API answers 500 and the handoff service retries.

The SQL store's connections are also checked before use (``pool_pre_ping``),
so the first message after the database restarted does not fail on a
connection the restart closed.

:class:`SingleReadSQLTrackerStore` (``type:`` in deploy/endpoints.prod.yml) is
Rasa's SQL store without one wasted read per message: to find the events to
publish to the event broker, Rasa's ``save`` first loads the whole
conversation back from the database and replays it
(``TrackerStore.stream_events``); this store counts the stored events instead,
and lets the ``save`` that follows use that count to find the events to insert,
where Rasa's ``save`` would count them again.
"""

import itertools
import logging
from typing import Any, Dict, Iterator

from rasa.core.tracker_store import FailSafeTrackerStore, SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Sanic
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

logger = logging.getLogger(__name__)


class SingleReadSQLTrackerStore(SQLTrackerStore):
    """Rasa's SQL tracker store, publishing new events without reading the tracker back."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Takes Rasa's ``SQLTrackerStore`` arguments."""
        super().__init__(*args, **kwargs)
        # Stored-event counts taken by stream_events for the save() running now,
        # by sender. The lock store keeps one save per conversation at a time.
        self._counted: Dict[str, int] = {}

    async def stream_events(self, tracker: DialogueStateTracker) -> None:
        """Publishes the tracker's events that are not stored yet.

        Rasa's ``save`` calls this before it stores them, so these are exactly
        the events Rasa's own implementation finds by loading the stored
        conversation and comparing.
        """
        if self.event_broker is None:
            return
        with self.session_scope() as session:
            stored = self._stored_count(session, tracker.sender_id)
        self._counted[tracker.sender_id] = stored
        new_events = list(itertools.islice(tracker.events, stored, None))
        await self._stream_new_events(self.event_broker, new_events, tracker.sender_id)

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator:
        """The events to insert: after the count :meth:`stream_events` just took, if it did."""
        stored = self._counted.pop(tracker.sender_id, None)
        if stored is None:
            stored = self._stored_count(session, tracker.sender_id)
        return itertools.islice(tracker.events, stored, None)

    def _stored_count(self, session: Any, sender_id: str) -> int:
        """Stored events of the conversation since its last session start (as Rasa counts)."""
        query = self._event_query(session, sender_id, fetch_events_from_all_sessions=False)
        return int(query.count())


def make_tracker_store_strict(agent: Any) -> bool:
    """Unwrap the agent's tracker store and ping SQL connections before use.

    Args:
        agent: Rasa's ``Agent`` (``app.ctx.agent``), with its processor.

    Returns:
        Whether the store was changed (False when already strict).
    """
    store = agent.tracker_store
    if not isinstance(store, FailSafeTrackerStore):
        return False
    # FailSafeTrackerStore offers no public accessor for the store it wraps.
    primary = store._tracker_store
    if isinstance(primary, SQLTrackerStore):
        url = primary.engine.url
        old_engine = primary.engine
        primary.engine = create_engine(url, pool_pre_ping=True, **create_engine_kwargs(url))
        primary.sessionmaker = sessionmaker(bind=primary.engine)
        old_engine.dispose()
    agent.tracker_store = primary
    if agent.processor is not None:
        agent.processor.tracker_store = primary
    logger.info("Tracker store errors now fail the message (%s).", type(primary).__name__)
    return True


async def strict_tracker_store_on_start(app: Sanic, _loop: Any) -> None:
    """Sanic ``after_server_start`` listener: the agent is loaded by then."""
    agent = getattr(app.ctx, "agent", None)
    if agent is None:
        logger.warning("No agent loaded; the tracker store stays fail-safe.")
        return
    make_tracker_store_strict(agent)
