"""The handoff's tickets: opened by the action server, worked on by agents.

:class:`HandoffStore` is the one way into the ticket tables. The action server
calls :meth:`~HandoffStore.open_ticket`, :meth:`~HandoffStore.add_customer_message`
and :meth:`~HandoffStore.queue_status` directly (the database is shared, so
escalations are kept while the handoff service is down); the service calls the
agent-side methods. Every change appends to ``handoff_events`` in the same
transaction, which is how other processes learn about it.

All methods block: from async code run them in a thread pool. All raise
:class:`actions.db.DatabaseUnavailable` when the database is down.
"""

import json
import threading
from datetime import datetime, timedelta
from typing import Callable, List, Optional, Sequence

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from actions.db import Database, get_database, utc_now
from bot.handoff import queue, records, rendering
from bot.handoff.errors import TicketConflict, TicketNotFound
from bot.handoff.models import (
    MAX_CONVERSATION_ID,
    OPEN_STATUSES,
    AgentRow,
    MessageRow,
    TicketRow,
)
from bot.handoff.payloads import HandoffRequest, QueueStatus, SentimentPoint
from bot.handoff.settings import HandoffSettings, get_handoff_settings
from bot.handoff.views import AgentView, MessageView, TicketDetail, TicketSummary

REASONS = ("strong_negative", "sustained_negative", "requested_human", "repeated_fallback")
TRANSCRIPT_AUTHORS = ("customer", "bot", "agent", "system")
LIST_VIEWS = ("open", "queued", "assigned", "mine", "closed")
MAX_TRAIL_POINTS = 200
"""A ticket keeps this many of the latest sentiment points."""
MAX_CLOSED_LISTED = 200
"""The "closed" list shows this many of the most recently closed tickets."""
HANDBACK_TEXT = "You're back with the virtual assistant. How else can I help you?"
CLOSE_TEXT = (
    "Our team has closed this conversation. You're back with the virtual assistant "
    "if you need anything else."
)


class HandoffStore:
    """Reads and changes handoff tickets.

    Args:
        database: The project database.
        settings: Office hours, handling time and text limits; by default
            :func:`~bot.handoff.settings.get_handoff_settings`.
        clock: Source of "now".
    """

    def __init__(
        self,
        database: Database,
        *,
        settings: Optional[HandoffSettings] = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._database = database
        self._settings = settings if settings is not None else get_handoff_settings()
        self._clock = clock

    @property
    def settings(self) -> HandoffSettings:
        """The settings the store works with."""
        return self._settings

    # -- the action server's side -------------------------------------------------

    def open_ticket(self, request: HandoffRequest) -> QueueStatus:
        """Open a ticket for an escalated conversation.

        Idempotent: if the conversation already has a queued or assigned
        ticket, nothing is written and that ticket's status is returned.

        Raises:
            ValueError: If the conversation id, channel or reason is invalid.
        """
        conversation_id = request.conversation_id
        if not conversation_id or len(conversation_id) > MAX_CONVERSATION_ID:
            raise ValueError(f"bad conversation id {conversation_id!r}")
        if not request.channel or len(request.channel) > 64:
            raise ValueError(f"bad channel {request.channel!r}")
        if request.reason not in REASONS:
            raise ValueError(f"unknown handoff reason {request.reason!r}")
        existing = self.active_ticket_id(conversation_id)
        if existing is not None:
            return self.queue_status(existing)
        now = self._clock()
        trail = list(request.sentiment_trail)[-MAX_TRAIL_POINTS:]
        ticket = TicketRow(
            conversation_id=conversation_id,
            open_conversation=conversation_id,
            channel=request.channel,
            reason=request.reason,
            status="queued",
            negativity=queue.negativity([point.score for point in trail]),
            sentiment_trail=json.dumps([point.to_dict() for point in trail]),
            recent_intents=json.dumps(list(request.recent_intents)),
            recommended=json.dumps([rendering.product_to_dict(p) for p in request.recommended]),
            created_at=now,
            updated_at=now,
            waiting_since=now,
        )
        try:
            with self._database.transaction("opening a handoff ticket") as session:
                session.add(ticket)
                session.flush()
                for line in request.transcript:
                    author = line.author if line.author in TRANSCRIPT_AUTHORS else "system"
                    session.add(
                        MessageRow(
                            ticket_id=ticket.id,
                            author=author,
                            text=rendering.clean_text(line.text),
                            created_at=line.at,
                            agent_name=line.agent_name,
                            attempts=0,
                        )
                    )
                records.log_event(session, "ticket.created", ticket.id, None, now)
        except IntegrityError:
            # Another process opened one for this conversation at the same moment.
            existing = self.active_ticket_id(conversation_id)
            if existing is None:
                raise
            return self.queue_status(existing)
        return self.queue_status(ticket.id)

    def active_ticket_id(self, conversation_id: str) -> Optional[int]:
        """Return the conversation's queued or assigned ticket, or None."""
        statement = select(TicketRow.id).where(TicketRow.open_conversation == conversation_id)
        with self._database.transaction("finding the open handoff ticket") as session:
            return session.execute(statement).scalar_one_or_none()

    def add_customer_message(
        self, conversation_id: str, text: str, sentiment: Optional[SentimentPoint] = None
    ) -> Optional[int]:
        """Append a customer's message (and its sentiment) to the open ticket.

        Returns:
            The ticket's id; None if the conversation has no open ticket.
        """
        now = self._clock()
        statement = (
            select(TicketRow)
            .where(TicketRow.open_conversation == conversation_id)
            .with_for_update()
        )
        with self._database.transaction("storing the customer's message") as session:
            ticket = session.execute(statement).scalar_one_or_none()
            if ticket is None:
                return None
            message = MessageRow(
                ticket_id=ticket.id,
                author="customer",
                text=rendering.clean_text(text),
                created_at=now,
                attempts=0,
            )
            session.add(message)
            if sentiment is not None:
                trail = rendering.load_trail(ticket.sentiment_trail) + [sentiment]
                trail = trail[-MAX_TRAIL_POINTS:]
                ticket.sentiment_trail = json.dumps([point.to_dict() for point in trail])
                ticket.negativity = queue.negativity([point.score for point in trail])
            if ticket.waiting_since is None:
                ticket.waiting_since = now
            ticket.updated_at = now
            session.flush()
            records.log_event(session, "message.created", ticket.id, message.id, now)
            return ticket.id

    def queue_status(self, ticket_id: int) -> QueueStatus:
        """Return where the ticket stands: place in the queue, expected wait, owner.

        Raises:
            TicketNotFound: If there is no such ticket.
        """
        now = self._clock()
        hours = self._settings.office_hours
        with self._database.transaction("reading the handoff queue") as session:
            ticket = session.get(TicketRow, ticket_id)
            if ticket is None:
                raise TicketNotFound(ticket_id)
            online = self._agents_online(session, now)
            position: Optional[int] = None
            expected: Optional[int] = None
            if ticket.status == "queued":
                queued = session.execute(select(TicketRow).where(TicketRow.status == "queued"))
                ordered = rendering.by_priority(list(queued.scalars()), now)
                position = [row.id for row in ordered].index(ticket.id) + 1
                expected = queue.expected_wait_s(
                    position, online, self._settings.average_handling_s
                )
            owner = session.get(AgentRow, ticket.agent_id) if ticket.agent_id else None
            return QueueStatus(
                ticket_id=ticket.id,
                status=ticket.status,
                position=position,
                expected_wait_s=expected,
                agents_online=online,
                within_office_hours=hours.is_open(now),
                next_opening=hours.next_opening(now),
                agent_name=owner.display_name if owner is not None else None,
            )

    # -- the agents' side ----------------------------------------------------------

    def list_tickets(self, view: str, agent: AgentView) -> List[TicketSummary]:
        """Return the tickets of one list, highest priority first, then oldest.

        Args:
            view: "open" (queued and assigned), "queued", "assigned", "mine"
                (assigned to ``agent``) or "closed" (closed and handed back,
                the 200 most recent).
            agent: The agent asking.

        Raises:
            ValueError: If ``view`` is not one of those.
        """
        statement = select(TicketRow)
        if view == "open":
            statement = statement.where(TicketRow.status.in_(OPEN_STATUSES))
        elif view in ("queued", "assigned"):
            statement = statement.where(TicketRow.status == view)
        elif view == "mine":
            statement = statement.where(
                TicketRow.status == "assigned", TicketRow.agent_id == agent.id
            )
        elif view == "closed":
            statement = (
                statement.where(TicketRow.status.in_(("closed", "handed_back")))
                .order_by(TicketRow.closed_at.desc(), TicketRow.id.desc())
                .limit(MAX_CLOSED_LISTED)
            )
        else:
            raise ValueError(f"unknown ticket list {view!r}; use one of {', '.join(LIST_VIEWS)}")
        now = self._clock()
        with self._database.transaction("listing handoff tickets") as session:
            tickets = rendering.by_priority(list(session.execute(statement).scalars()), now)
            return rendering.summaries(session, tickets, now)

    def summaries(self, ticket_ids: Sequence[int]) -> List[TicketSummary]:
        """Return the summaries of the given tickets (missing ids are skipped)."""
        now = self._clock()
        statement = select(TicketRow).where(TicketRow.id.in_(list(ticket_ids)))
        with self._database.transaction("reading handoff tickets") as session:
            return rendering.summaries(session, list(session.execute(statement).scalars()), now)

    def ticket_detail(self, ticket_id: int) -> TicketDetail:
        """Return a ticket with its trail, intents, products and messages.

        Raises:
            TicketNotFound: If there is no such ticket.
        """
        with self._database.transaction("reading a handoff ticket") as session:
            return self._detail(session, ticket_id)

    def claim(self, ticket_id: int, agent: AgentView) -> TicketDetail:
        """Make ``agent`` the owner of a queued ticket.

        Exactly one of several concurrent claims wins: the change is one
        conditional UPDATE. Claiming one's own ticket again changes nothing.

        Raises:
            TicketNotFound: If there is no such ticket.
            TicketConflict: If another agent owns it or it is closed.
        """
        now = self._clock()
        claim = (
            update(TicketRow)
            .where(TicketRow.id == ticket_id, TicketRow.status == "queued")
            .values(status="assigned", agent_id=agent.id, assigned_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        with self._database.transaction("claiming a handoff ticket") as session:
            if session.execute(claim).rowcount == 1:
                line = records.add_line(
                    session, ticket_id, "system", f"{agent.display_name} took over.", now
                )
                records.log_event(session, "ticket.updated", ticket_id, None, now)
                records.log_event(session, "message.created", ticket_id, line.id, now)
            else:
                ticket = session.get(TicketRow, ticket_id)
                if ticket is None:
                    raise TicketNotFound(ticket_id)
                if ticket.status != "assigned" or ticket.agent_id != agent.id:
                    raise TicketConflict(records.conflict_reason(session, ticket))
            return self._detail(session, ticket_id)

    def reply(self, ticket_id: int, agent: AgentView, text: str) -> MessageView:
        """Store an agent's reply for delivery to the customer.

        The reply is pending (``delivered`` false) until the delivery loop has
        handed it to Rasa.

        Raises:
            InvalidText: If the text is empty or holds a NUL character.
            TextTooLong: If the text is longer than the limit.
            TicketNotFound: If there is no such ticket.
            NotTicketOwner: If another agent owns it.
            TicketConflict: If the ticket is not assigned.
        """
        text = records.checked_text(text, self._settings.max_message_chars)
        now = self._clock()
        with self._database.transaction("storing an agent's reply") as session:
            ticket = records.owned_ticket(session, ticket_id, agent)
            line = records.add_line(
                session, ticket_id, "agent", text, now, agent=agent, delivery="reply"
            )
            ticket.waiting_since = None
            ticket.updated_at = now
            records.log_event(session, "message.created", ticket_id, line.id, now)
            return rendering.message_view(line)

    def add_note(self, ticket_id: int, agent: AgentView, text: str) -> MessageView:
        """Add an internal note (never shown to the customer); any agent may.

        Raises:
            InvalidText: If the text is empty or holds a NUL character.
            TextTooLong: If the text is longer than the limit.
            TicketNotFound: If there is no such ticket.
        """
        text = records.checked_text(text, self._settings.max_message_chars)
        now = self._clock()
        with self._database.transaction("storing a note") as session:
            if session.get(TicketRow, ticket_id) is None:
                raise TicketNotFound(ticket_id)
            line = records.add_line(session, ticket_id, "note", text, now, agent=agent)
            records.log_event(session, "message.created", ticket_id, line.id, now)
            return rendering.message_view(line)

    def hand_back(self, ticket_id: int, agent: AgentView) -> TicketDetail:
        """Give the conversation back to the bot (status "handed_back").

        Raises:
            TicketNotFound, NotTicketOwner, TicketConflict: As for :meth:`reply`.
        """
        return self._finish(ticket_id, agent, "handed_back", "handback", HANDBACK_TEXT)

    def close(self, ticket_id: int, agent: AgentView) -> TicketDetail:
        """Close the ticket; the bot resumes the conversation.

        Raises:
            TicketNotFound, NotTicketOwner, TicketConflict: As for :meth:`reply`.
        """
        return self._finish(ticket_id, agent, "closed", "close", CLOSE_TEXT)

    def agents_online(self) -> int:
        """Return the number of agents active in the last minute."""
        with self._database.transaction("counting agents online") as session:
            return self._agents_online(session, self._clock())

    # -- helpers ---------------------------------------------------------------------

    def _finish(
        self, ticket_id: int, agent: AgentView, status: str, delivery: str, text: str
    ) -> TicketDetail:
        now = self._clock()
        with self._database.transaction("ending a handoff") as session:
            ticket = records.owned_ticket(session, ticket_id, agent)
            ticket.status = status
            ticket.open_conversation = None
            ticket.closed_at = now
            ticket.updated_at = now
            ticket.waiting_since = None
            line = records.add_line(
                session, ticket_id, "system", text, now, agent=agent, delivery=delivery
            )
            records.log_event(session, "ticket.updated", ticket_id, None, now)
            records.log_event(session, "message.created", ticket_id, line.id, now)
            return self._detail(session, ticket_id)

    def _detail(self, session: Session, ticket_id: int) -> TicketDetail:
        ticket = session.get(TicketRow, ticket_id)
        if ticket is None:
            raise TicketNotFound(ticket_id)
        messages = session.execute(
            select(MessageRow).where(MessageRow.ticket_id == ticket_id).order_by(MessageRow.id)
        ).scalars()
        summary = rendering.summaries(session, [ticket], self._clock())[0]
        return rendering.detail(ticket, summary, list(messages))

    def _agents_online(self, session: Session, now: datetime) -> int:
        statement = select(func.count(AgentRow.id)).where(
            AgentRow.active.is_(True),
            AgentRow.last_seen_at >= now - timedelta(seconds=queue.ONLINE_WINDOW_S),
        )
        return int(session.execute(statement).scalar_one())


_default_store: Optional[HandoffStore] = None
_default_store_lock = threading.Lock()


def get_handoff_store() -> HandoffStore:
    """Return the process-wide store on :func:`actions.db.get_database`, made lazily."""
    global _default_store
    with _default_store_lock:
        if _default_store is None:
            _default_store = HandoffStore(get_database())
        return _default_store
