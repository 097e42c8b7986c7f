"""What the agent API and the live events send: one frozen dataclass each.

Each view has ``to_json()`` returning JSON-ready values (times as ISO 8601
UTC). Field names are those of the agent HTTP API in ``docs/handoff.md``.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, Optional, Tuple

from bot.handoff.payloads import RecommendedProduct, SentimentPoint

PREVIEW_CHARS = 140
"""A ticket summary shows this much of the customer's latest message."""


def iso(moment: Optional[datetime]) -> Optional[str]:
    """Return an aware datetime as ISO 8601, or None."""
    return moment.isoformat() if moment is not None else None


@dataclass(frozen=True)
class AgentView:
    """An agent as the API shows it."""

    id: int
    username: str
    display_name: str

    def to_json(self) -> Dict[str, Any]:
        """Return ``{"id", "username", "display_name"}``."""
        return {"id": self.id, "username": self.username, "display_name": self.display_name}


@dataclass(frozen=True)
class MessageView:
    """One line of a ticket's timeline.

    Attributes:
        id: The message id.
        ticket_id: Its ticket.
        author: "customer", "bot", "agent", "note" or "system".
        text: What was written; customers' personal data masked unless an
            agent wrote it (see :mod:`bot.handoff.rendering`).
        at: When.
        agent_name: The agent's display name for agent lines and notes.
        delivered: False only while a line meant for the customer waits for
            Rasa to accept it.
        delivery_error: Why the latest delivery attempt failed, if it did.
    """

    id: int
    ticket_id: int
    author: str
    text: str
    at: datetime
    agent_name: Optional[str]
    delivered: bool
    delivery_error: Optional[str] = None

    def to_json(self) -> Dict[str, Any]:
        """Return the message as the API sends it."""
        return {
            "id": self.id,
            "ticket_id": self.ticket_id,
            "author": self.author,
            "text": self.text,
            "at": iso(self.at),
            "agent_name": self.agent_name,
            "delivered": self.delivered,
            "delivery_error": self.delivery_error,
        }


@dataclass(frozen=True)
class TicketSummary:
    """A ticket as the queue lists it.

    Attributes:
        priority: See :mod:`bot.handoff.queue`; higher is served first.
        waiting_s: Seconds the customer has been waiting for a person.
        agent: The owner, if any.
        last_sentiment: The latest scored customer message, if any.
        preview: The start of the customer's latest message.
    """

    id: int
    conversation_id: str
    channel: str
    reason: str
    status: str
    priority: float
    created_at: datetime
    waiting_s: int
    agent: Optional[AgentView]
    last_sentiment: Optional[SentimentPoint]
    preview: str

    def to_json(self) -> Dict[str, Any]:
        """Return the summary as the API sends it."""
        return {
            "id": self.id,
            "conversation_id": self.conversation_id,
            "channel": self.channel,
            "reason": self.reason,
            "status": self.status,
            "priority": self.priority,
            "created_at": iso(self.created_at),
            "waiting_s": self.waiting_s,
            "agent": (
                {"id": self.agent.id, "display_name": self.agent.display_name}
                if self.agent is not None
                else None
            ),
            "last_sentiment": (
                {"label": self.last_sentiment.label, "score": self.last_sentiment.score}
                if self.last_sentiment is not None
                else None
            ),
            "preview": self.preview,
        }


@dataclass(frozen=True)
class TicketDetail:
    """A ticket with everything an agent needs to take it over."""

    summary: TicketSummary
    sentiment_trail: Tuple[SentimentPoint, ...]
    recent_intents: Tuple[str, ...]
    recommended: Tuple[RecommendedProduct, ...]
    messages: Tuple[MessageView, ...]

    def to_json(self) -> Dict[str, Any]:
        """Return the summary's fields plus the trail, intents, products and messages."""
        return {
            **self.summary.to_json(),
            "sentiment_trail": [point.to_dict() for point in self.sentiment_trail],
            "recent_intents": list(self.recent_intents),
            "recommended": [
                {
                    "sku": product.sku,
                    "title": product.title,
                    "price": product.price,
                    "currency": product.currency,
                }
                for product in self.recommended
            ],
            "messages": [message.to_json() for message in self.messages],
        }


@dataclass(frozen=True)
class LiveEvent:
    """One entry of the event log, as pushed to agents and the webhook.

    Attributes:
        id: The event's id in ``handoff_events`` (increasing).
        type: "ticket.created", "ticket.updated", "message.created" or
            "message.updated" (a pending message was delivered or failed).
        at: When the change happened.
        ticket: The ticket as it is now.
        message: The message concerned, for message events.
    """

    id: int
    type: str
    at: datetime
    ticket: TicketSummary
    message: Optional[MessageView] = None

    def to_json(self) -> Dict[str, Any]:
        """Return ``{"type", "ticket"}`` plus ``"message"`` for message events."""
        payload: Dict[str, Any] = {"type": self.type, "ticket": self.ticket.to_json()}
        if self.message is not None:
            payload["message"] = self.message.to_json()
        return payload
