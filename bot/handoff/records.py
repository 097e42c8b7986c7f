"""Small writes and checks shared by the store's ticket changes.

Each function works inside the caller's session and transaction.
"""

from datetime import datetime
from typing import Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.handoff.errors import (
    InvalidText,
    NotTicketOwner,
    TextTooLong,
    TicketConflict,
    TicketNotFound,
)
from bot.handoff.models import AgentRow, EventRow, MessageRow, TicketRow
from bot.handoff.views import AgentView


def checked_text(text: str, limit: int) -> str:
    """Return an agent's text if it can be stored and sent, unchanged.

    Raises:
        InvalidText: If it is empty, blank, holds NUL or lone surrogates.
        TextTooLong: If it is longer than ``limit`` characters.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidText("text must not be empty")
    if "\x00" in text:
        raise InvalidText("text must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidText("text is not valid Unicode") from exc
    if len(text) > limit:
        raise TextTooLong(f"text is longer than {limit} characters")
    return text


def add_line(
    session: Session,
    ticket_id: int,
    author: str,
    text: str,
    now: datetime,
    *,
    agent: Optional[AgentView] = None,
    delivery: Optional[str] = None,
) -> MessageRow:
    """Add a line to a ticket's timeline and flush it (so it has an id).

    Args:
        session: The open session.
        ticket_id: The ticket.
        author: "customer", "bot", "agent", "note" or "system".
        text: The text, already checked.
        now: Its time.
        agent: The agent who wrote it, if any.
        delivery: "reply", "handback" or "close" for lines sent to the customer.
    """
    line = MessageRow(
        ticket_id=ticket_id,
        author=author,
        text=text,
        created_at=now,
        agent_id=agent.id if agent is not None else None,
        agent_name=agent.display_name if agent is not None else None,
        delivery=delivery,
        attempts=0,
    )
    session.add(line)
    session.flush()
    return line


def log_event(
    session: Session, kind: str, ticket_id: int, message_id: Optional[int], now: datetime
) -> None:
    """Append an event to ``handoff_events``."""
    session.add(EventRow(type=kind, ticket_id=ticket_id, message_id=message_id, created_at=now))


def owned_ticket(session: Session, ticket_id: int, agent: AgentView) -> TicketRow:
    """Load and lock a ticket that ``agent`` owns and that is assigned.

    Raises:
        TicketNotFound: If there is no such ticket.
        NotTicketOwner: If another agent owns it.
        TicketConflict: If it is not assigned (queued, closed, handed back).
    """
    statement = select(TicketRow).where(TicketRow.id == ticket_id).with_for_update()
    ticket = session.execute(statement).scalar_one_or_none()
    if ticket is None:
        raise TicketNotFound(ticket_id)
    if ticket.agent_id is not None and ticket.agent_id != agent.id:
        raise NotTicketOwner(f"ticket {ticket_id} belongs to another agent")
    if ticket.status != "assigned":
        raise TicketConflict(conflict_reason(session, ticket))
    return ticket


def conflict_reason(session: Session, ticket: TicketRow) -> str:
    """Say why a ticket cannot be claimed or worked on."""
    if ticket.status == "assigned":
        owner = session.get(AgentRow, ticket.agent_id)
        name = owner.display_name if owner is not None else "another agent"
        return f"ticket {ticket.id} is already taken by {name}"
    if ticket.status == "queued":
        return f"ticket {ticket.id} is not claimed yet"
    return f"ticket {ticket.id} is {ticket.status.replace('_', ' ')}"
