"""Live updates: tailing ``handoff_events`` and pushing them to agents' websockets.

Every process that changes a ticket (the action server, the service) appends
to ``handoff_events`` in the same transaction. The service polls the log every
``HANDOFF_POLL_INTERVAL_MS`` for ids above its cursor, so changes reach the
agents whichever process made them, and nothing depends on the service being
up when they happen.

PostgreSQL hands out ids when rows are inserted, not when they commit: id 7
may become visible after id 8. :class:`EventTail` therefore remembers the ids
it skipped and looks for them again for :data:`GAP_GRACE_S` seconds (after
that they belong to rolled-back transactions).
"""

import asyncio
import logging
import time
from typing import Callable, Dict, List, Sequence, Set, Tuple

from aiohttp import web
from sqlalchemy import func, or_, select

from actions.db import Database, DatabaseUnavailable
from bot.handoff import rendering
from bot.handoff.models import EventRow, MessageRow
from bot.handoff.store import HandoffStore
from bot.handoff.views import LiveEvent

logger = logging.getLogger(__name__)

GAP_GRACE_S = 10.0
"""How long a skipped event id is looked for again."""
MAX_GAPS = 1000
READ_LIMIT = 500


class EventTail:
    """Which events a consumer of the log has seen, gaps included.

    Args:
        cursor: The highest id already handled.
        clock: Monotonic seconds.
    """

    def __init__(self, cursor: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.cursor = cursor
        self._gaps: Dict[int, float] = {}
        self._clock = clock

    @property
    def gaps(self) -> Tuple[int, ...]:
        """Skipped ids still looked for, lowest first."""
        return tuple(sorted(self._gaps))

    @property
    def watermark(self) -> int:
        """The highest id below which every event was handled or given up on."""
        return min(self._gaps) - 1 if self._gaps else self.cursor

    def now(self) -> float:
        """Return the tail's clock; note it before a read, for :meth:`expire`."""
        return self._clock()

    def expire(self, read_started: float) -> None:
        """Give up on skipped ids still missing from a read started after their grace.

        Args:
            read_started: When the read that did not find them started.
        """
        for event_id in [i for i, deadline in self._gaps.items() if deadline < read_started]:
            del self._gaps[event_id]

    def seen(self, event_id: int) -> None:
        """Record that an event was handled."""
        if event_id in self._gaps:
            del self._gaps[event_id]
            return
        if event_id <= self.cursor:
            return
        deadline = self._clock() + GAP_GRACE_S
        for missing in range(max(self.cursor + 1, event_id - MAX_GAPS), event_id):
            self._gaps[missing] = deadline
        self.cursor = event_id
        while len(self._gaps) > MAX_GAPS:
            del self._gaps[min(self._gaps)]


class EventLog:
    """Reads ``handoff_events`` as :class:`LiveEvent` values (blocking).

    Args:
        database: The project database.
        store: Renders the tickets' current summaries.
    """

    def __init__(self, database: Database, store: HandoffStore) -> None:
        self._database = database
        self._store = store

    def latest_id(self) -> int:
        """Return the highest event id, 0 for an empty log."""
        with self._database.reading("reading the event log") as session:
            return int(session.execute(select(func.max(EventRow.id))).scalar_one() or 0)

    def read(self, after_id: int, also: Sequence[int] = ()) -> List[LiveEvent]:
        """Return the events above ``after_id`` plus those in ``also``, by id.

        Each carries its ticket's summary as it is now, and the message for
        message events.
        """
        condition = EventRow.id > after_id
        if also:
            condition = or_(condition, EventRow.id.in_(list(also)))
        statement = select(EventRow).where(condition).order_by(EventRow.id).limit(READ_LIMIT)
        with self._database.reading("reading the event log") as session:
            rows = list(session.execute(statement).scalars())
            if not rows:
                return []
            message_ids = [row.message_id for row in rows if row.message_id is not None]
            messages = {}
            if message_ids:
                found = session.execute(select(MessageRow).where(MessageRow.id.in_(message_ids)))
                messages = {row.id: rendering.message_view(row) for row in found.scalars()}
        summaries = {s.id: s for s in self._store.summaries({row.ticket_id for row in rows})}
        return [
            LiveEvent(
                id=row.id,
                type=row.type,
                at=row.created_at,
                ticket=summaries[row.ticket_id],
                message=messages.get(row.message_id) if row.message_id is not None else None,
            )
            for row in rows
            if row.ticket_id in summaries
        ]


class EventHub:
    """Pushes new log events to every connected agent websocket.

    Args:
        log: The event log.
        poll_interval_s: Pause between polls.
    """

    def __init__(self, log: EventLog, *, poll_interval_s: float) -> None:
        self._log = log
        self._poll_interval_s = poll_interval_s
        self._clients: Set[web.WebSocketResponse] = set()
        self.ready = asyncio.Event()
        """Set once the hub knows where the log ends; later events are pushed."""

    @property
    def sockets(self) -> Tuple[web.WebSocketResponse, ...]:
        """The connected websockets."""
        return tuple(self._clients)

    def add(self, socket: web.WebSocketResponse) -> None:
        """Start sending events to ``socket``."""
        self._clients.add(socket)

    def remove(self, socket: web.WebSocketResponse) -> None:
        """Stop sending events to ``socket``."""
        self._clients.discard(socket)

    async def run(self) -> None:
        """Poll the log and broadcast until cancelled; outages are logged and retried."""
        tail = None
        while True:
            try:
                if tail is None:
                    # Agents load the lists when they connect; only newer events are pushed.
                    tail = EventTail(await asyncio.to_thread(self._log.latest_id))
                    self.ready.set()
                started = tail.now()
                events = await asyncio.to_thread(self._log.read, tail.cursor, tail.gaps)
                for event in events:
                    tail.seen(event.id)
                    await self.broadcast(event)
                tail.expire(started)
            except DatabaseUnavailable as exc:
                logger.warning("Live updates paused, the database is unavailable: %s", exc)
            except Exception:  # a bug must not end live updates for good
                logger.exception("Reading the event log failed")
            await asyncio.sleep(self._poll_interval_s)

    async def broadcast(self, event: LiveEvent) -> None:
        """Send one event to every client; clients that fail are dropped."""
        payload = event.to_json()
        for socket in list(self._clients):
            try:
                await socket.send_json(payload)
            except (ConnectionError, RuntimeError) as exc:
                logger.info("Dropping a websocket that failed: %r", exc)
                self._clients.discard(socket)
