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
Rasa's SQL store with less database work per message. To find the events to
publish to the event broker, Rasa's ``save`` first loads the whole
conversation back from the database and replays it
(``TrackerStore.stream_events``), counts the stored events again in a second
session, and inserts the new ones through the ORM, one ``INSERT ... RETURNING``
round trip per event. This store publishes and inserts in one session, in one
statement, writing exactly the rows Rasa writes, and does not count at all
when it loaded the conversation for this message: Rasa's processor loads the
conversation, then saves it, under the conversation's lock, so the stored
count is the number of events it loaded.
"""

import itertools
import json
import logging
import weakref
from collections import OrderedDict
from typing import Any, Dict, Optional, Tuple

from rasa.core.tracker_store import FailSafeTrackerStore, SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sanic import Sanic
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

logger = logging.getLogger(__name__)

MAX_REMEMBERED_LOADS = 10_000
"""Loaded conversations not saved (yet) whose counts are kept, newest first."""


class SingleReadSQLTrackerStore(SQLTrackerStore):
    """Rasa's SQL tracker store: one insert per save, no read back, no count after a load."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Takes Rasa's ``SQLTrackerStore`` arguments."""
        super().__init__(*args, **kwargs)
        # By sender: the tracker retrieve() returned and how many stored events
        # it was loaded from, until that tracker is saved.
        self._loaded: OrderedDict[str, Tuple[weakref.ref, int]] = OrderedDict()

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        """Loads the latest session, as Rasa does, and notes how many events it holds."""
        tracker = await super().retrieve(sender_id)
        if tracker is not None:
            self._loaded[sender_id] = (weakref.ref(tracker), len(tracker.events))
            self._loaded.move_to_end(sender_id)
            while len(self._loaded) > MAX_REMEMBERED_LOADS:
                self._loaded.popitem(last=False)
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Publishes and stores the tracker's events that are not stored yet.

        The new events are those after the stored ones since the latest session
        start, as in Rasa's ``save``, which publishes them before storing them.
        The lock store keeps one load and save per conversation at a time.
        """
        with self.session_scope() as session:
            stored = self._count_loaded(tracker)
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
        logger.debug("Tracker with sender_id '%s' stored to database", tracker.sender_id)

    def _count_loaded(self, tracker: DialogueStateTracker) -> Optional[int]:
        """The stored events ``tracker`` was loaded from, if retrieve() returned it.

        Only the very object counts: a tracker built some other way (Rasa's API
        replacing a conversation's events) is counted in the database.
        """
        loaded = self._loaded.pop(tracker.sender_id, None)
        if loaded is None or loaded[0]() is not tracker:
            return None
        return loaded[1]

    def _stored_count(self, session: Any, sender_id: str) -> int:
        """Stored events of the conversation since its last session start (as Rasa counts)."""
        query = self._event_query(session, sender_id, fetch_events_from_all_sessions=False)
        return int(query.count())


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
