"""Getting agents' messages, hand backs and closes to the customer, eventually.

The store writes these lines with ``delivered_at`` NULL (the outbox). The
:class:`DeliveryLoop` sends each to Rasa, oldest first, and marks it delivered
only once Rasa accepted it; when Rasa is down the line stays pending and is
retried with exponential back-off (1 s, 2 s, 4 s ... up to
``HANDOFF_RETRY_MAX_S``), also after a restart of the service. Lines of one
conversation are delivered in order: a later one waits for an earlier one.

Delivery is at least once: if Rasa applied the events but its answer was lost,
the line is sent again.
"""

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from typing import Callable, Dict, List, Optional

from sqlalchemy import func, select

from actions.db import Database, DatabaseUnavailable, utc_now
from bot.handoff.models import EventRow, MessageRow, TicketRow
from bot.handoff.rasa_gateway import OutboundMessage, RasaGateway, RasaUnavailable

logger = logging.getLogger(__name__)

BATCH = 200
"""Pending lines read per round."""
_MAX_ERROR_CHARS = 500


class Outbox:
    """The pending lines in ``handoff_messages`` (blocking; use a thread pool).

    Args:
        database: The project database.
        retry_max_s: Longest pause between two attempts at one line.
        clock: Source of "now".
    """

    def __init__(
        self, database: Database, *, retry_max_s: int, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._database = database
        self._retry_max_s = retry_max_s
        self._clock = clock

    def due(self) -> Dict[str, List[OutboundMessage]]:
        """Return the pending lines of conversations whose oldest pending line is due.

        Returns:
            Conversation id to its pending lines, oldest first; conversations
            ordered by their oldest pending line.
        """
        now = self._clock()
        statement = (
            select(MessageRow, TicketRow.conversation_id, TicketRow.channel)
            .join(TicketRow, TicketRow.id == MessageRow.ticket_id)
            .where(MessageRow.delivered_at.is_(None), MessageRow.delivery.is_not(None))
            .order_by(MessageRow.id)
            .limit(BATCH)
        )
        pending: Dict[str, List[OutboundMessage]] = {}
        blocked = set()
        with self._database.transaction("reading the outbox") as session:
            for row, conversation_id, channel in session.execute(statement).all():
                if conversation_id in blocked:
                    continue
                if conversation_id not in pending and row.next_attempt_at is not None:
                    if row.next_attempt_at > now:
                        blocked.add(conversation_id)  # its head waits; so does the rest
                        continue
                line = _outbound(row, conversation_id, channel)
                pending.setdefault(conversation_id, []).append(line)
        return pending

    def pending_count(self) -> int:
        """Return the number of lines waiting for delivery."""
        statement = select(func.count(MessageRow.id)).where(
            MessageRow.delivered_at.is_(None), MessageRow.delivery.is_not(None)
        )
        with self._database.transaction("counting the outbox") as session:
            return int(session.execute(statement).scalar_one())

    def mark_delivered(self, message_id: int) -> None:
        """Record that Rasa accepted the line."""
        now = self._clock()
        with self._database.transaction("marking a message delivered") as session:
            row = session.get(MessageRow, message_id)
            if row is None or row.delivered_at is not None:
                return
            row.delivered_at = now
            row.attempts += 1
            row.next_attempt_at = None
            row.last_error = None
            session.add(_updated(row, now))

    def mark_failed(self, message_id: int, error: str) -> None:
        """Record a failed attempt and when to try again."""
        now = self._clock()
        with self._database.transaction("recording a failed delivery") as session:
            row = session.get(MessageRow, message_id)
            if row is None or row.delivered_at is not None:
                return
            row.attempts += 1
            pause = min(2 ** (row.attempts - 1), self._retry_max_s)
            row.next_attempt_at = now + timedelta(seconds=pause)
            first_failure = row.last_error is None
            row.last_error = error[:_MAX_ERROR_CHARS]
            if first_failure:  # tell the agents once, not on every retry
                session.add(_updated(row, now))


class DeliveryLoop:
    """Sends due outbox lines to Rasa until they are accepted.

    Args:
        outbox: The pending lines.
        gateway: Where they go.
        poll_interval_s: Pause between rounds when not woken.
    """

    def __init__(self, outbox: Outbox, gateway: RasaGateway, *, poll_interval_s: float) -> None:
        self._outbox = outbox
        self._gateway = gateway
        self._poll_interval_s = poll_interval_s
        self._wake: Optional[asyncio.Event] = None
        self._round = asyncio.Lock()

    def wake(self) -> None:
        """Start the next round now (a new line was written)."""
        if self._wake is not None:
            self._wake.set()

    async def run(self) -> None:
        """Deliver until cancelled; database outages are logged and retried."""
        self._wake = asyncio.Event()
        while True:
            try:
                await self.deliver_due()
            except DatabaseUnavailable as exc:
                logger.warning("Delivery paused, the database is unavailable: %s", exc)
            except Exception:  # a bug must not stop delivery for good
                logger.exception("Delivery round failed")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_interval_s)
            self._wake.clear()

    async def deliver_due(self) -> int:
        """Run one round; rounds never overlap.

        Returns:
            The number of lines delivered.
        """
        async with self._round:
            due = await asyncio.to_thread(self._outbox.due)
            delivered = 0
            for conversation_id, lines in due.items():
                delivered += await self._deliver(conversation_id, lines)
            return delivered

    async def _deliver(self, conversation_id: str, lines: List[OutboundMessage]) -> int:
        for count, line in enumerate(lines):
            try:
                await self._gateway.append_events(conversation_id, line.rasa_events())
            except RasaUnavailable as exc:
                logger.warning(
                    "Could not deliver message %d to %r: %s", line.message_id, conversation_id, exc
                )
                await asyncio.to_thread(self._outbox.mark_failed, line.message_id, str(exc))
                return count  # the later lines wait for this one
            await asyncio.to_thread(self._outbox.mark_delivered, line.message_id)
        return len(lines)


def _outbound(row: MessageRow, conversation_id: str, channel: str) -> OutboundMessage:
    return OutboundMessage(
        message_id=row.id,
        ticket_id=row.ticket_id,
        conversation_id=conversation_id,
        kind=row.delivery,
        text=row.text,
        agent_name=row.agent_name,
        channel=channel,
    )


def _updated(row: MessageRow, now: datetime) -> EventRow:
    return EventRow(
        type="message.updated", ticket_id=row.ticket_id, message_id=row.id, created_at=now
    )
