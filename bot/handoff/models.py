"""Tables of the human handoff; created by migration 0004.

* ``handoff_agents`` / ``handoff_agent_tokens``: agent accounts and their
  login tokens (only hashes are stored).
* ``handoff_tickets``: one per escalated conversation. ``open_conversation``
  holds the conversation id while the ticket is queued or assigned and NULL
  otherwise; its unique constraint lets a conversation have at most one open
  ticket even when two processes open one at the same moment.
* ``handoff_messages``: the ticket's timeline (transcript at escalation,
  customer messages, agent replies, notes, system lines). Rows with a
  ``delivery`` kind go to the customer through Rasa and stay pending
  (``delivered_at`` NULL) until Rasa accepted them: the outbox.
* ``handoff_events``: append-only log of changes; the service tails it to
  push live updates and to call the webhook, whichever process wrote them.
* ``handoff_cursors``: how far a consumer of the log (the webhook) got.
"""

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)

from actions.db import Base, UTCDateTime

MAX_CONVERSATION_ID = 255
MAX_USERNAME = 64
MAX_DISPLAY_NAME = 100

TICKET_STATUSES = ("queued", "assigned", "closed", "handed_back")
OPEN_STATUSES = ("queued", "assigned")
AUTHORS = ("customer", "bot", "agent", "note", "system")
DELIVERIES = ("reply", "handback", "close")
EVENT_TYPES = ("ticket.created", "ticket.updated", "message.created", "message.updated")


def _in(column: str, values: tuple) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


class AgentRow(Base):
    """Table ``handoff_agents``: a human agent's account."""

    __tablename__ = "handoff_agents"

    id = Column(Integer, primary_key=True, autoincrement=True)
    username = Column(String(MAX_USERNAME), nullable=False, unique=True)
    display_name = Column(String(MAX_DISPLAY_NAME), nullable=False)
    password_hash = Column(String(255), nullable=False)
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(UTCDateTime, nullable=False)
    # Console heartbeat or API use; agents seen in the last minute are online.
    last_seen_at = Column(UTCDateTime, nullable=True)


class AgentTokenRow(Base):
    """Table ``handoff_agent_tokens``: login tokens, stored as SHA-256 hashes."""

    __tablename__ = "handoff_agent_tokens"

    id = Column(Integer, primary_key=True, autoincrement=True)
    agent_id = Column(Integer, ForeignKey("handoff_agents.id"), nullable=False, index=True)
    token_hash = Column(String(64), nullable=False, unique=True)
    created_at = Column(UTCDateTime, nullable=False)
    expires_at = Column(UTCDateTime, nullable=False)
    revoked_at = Column(UTCDateTime, nullable=True)


class TicketRow(Base):
    """Table ``handoff_tickets``: one escalated conversation."""

    __tablename__ = "handoff_tickets"
    __table_args__ = (CheckConstraint(_in("status", TICKET_STATUSES), name="status_valid"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(String(MAX_CONVERSATION_ID), nullable=False, index=True)
    open_conversation = Column(String(MAX_CONVERSATION_ID), nullable=True, unique=True)
    channel = Column(String(64), nullable=False)
    reason = Column(String(32), nullable=False)
    status = Column(String(16), nullable=False, index=True)
    agent_id = Column(Integer, ForeignKey("handoff_agents.id"), nullable=True, index=True)
    # 0..1, from the latest sentiment scores; see bot.handoff.queue.negativity.
    negativity = Column(Float, nullable=False, default=0.0)
    sentiment_trail = Column(Text, nullable=False)  # JSON list of SentimentPoint.to_dict()
    recent_intents = Column(Text, nullable=False)  # JSON list of intent names
    recommended = Column(Text, nullable=False)  # JSON list of RecommendedProduct fields
    created_at = Column(UTCDateTime, nullable=False)
    updated_at = Column(UTCDateTime, nullable=False)
    assigned_at = Column(UTCDateTime, nullable=True)
    closed_at = Column(UTCDateTime, nullable=True)
    # Since when the customer waits for a person: set at escalation and by a
    # customer message, cleared by an agent reply.
    waiting_since = Column(UTCDateTime, nullable=True)


class MessageRow(Base):
    """Table ``handoff_messages``: one line of a ticket's timeline."""

    __tablename__ = "handoff_messages"
    __table_args__ = (
        CheckConstraint(_in("author", AUTHORS), name="author_valid"),
        CheckConstraint(
            f"delivery IS NULL OR {_in('delivery', DELIVERIES)}", name="delivery_valid"
        ),
        Index("ix_handoff_messages_outbox", "delivered_at", "delivery"),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    ticket_id = Column(Integer, ForeignKey("handoff_tickets.id"), nullable=False, index=True)
    author = Column(String(16), nullable=False)
    text = Column(Text, nullable=False)
    created_at = Column(UTCDateTime, nullable=False)
    agent_id = Column(Integer, ForeignKey("handoff_agents.id"), nullable=True)
    agent_name = Column(String(MAX_DISPLAY_NAME), nullable=True)
    # Set for lines sent to the customer through Rasa; NULL for the others.
    delivery = Column(String(16), nullable=True)
    delivered_at = Column(UTCDateTime, nullable=True)
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(UTCDateTime, nullable=True)
    last_error = Column(Text, nullable=True)


class EventRow(Base):
    """Table ``handoff_events``: append-only log of ticket changes."""

    __tablename__ = "handoff_events"
    __table_args__ = (CheckConstraint(_in("type", EVENT_TYPES), name="type_valid"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    type = Column(String(32), nullable=False)
    ticket_id = Column(Integer, ForeignKey("handoff_tickets.id"), nullable=False, index=True)
    message_id = Column(Integer, ForeignKey("handoff_messages.id"), nullable=True)
    created_at = Column(UTCDateTime, nullable=False)


class CursorRow(Base):
    """Table ``handoff_cursors``: the last event a log consumer finished."""

    __tablename__ = "handoff_cursors"

    name = Column(String(64), primary_key=True)
    last_event_id = Column(Integer, nullable=False)
    updated_at = Column(UTCDateTime, nullable=False)
