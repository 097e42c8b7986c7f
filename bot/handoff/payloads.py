"""The values that cross the handoff's boundaries, one definition each.

* :class:`SentimentPoint`: one scored customer message; a list of them is kept
  in the ``sentiment_trail`` slot as JSON (see :meth:`SentimentPoint.to_dict`).
* :class:`TranscriptLine`: one line of a conversation shown to agents.
* :class:`RecommendedProduct`: a product the bot recommended before escalating.
* :class:`HandoffRequest`: what the action server hands to the store when a
  conversation escalates.
* :class:`QueueStatus`: where a ticket stands, for the customer-facing reply.

All are frozen dataclasses and free of database objects.
"""

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, Mapping, Optional, Tuple

SENTIMENT_TEXT_MAX_CHARS = 500
"""A :class:`SentimentPoint` keeps at most this much of the message."""


@dataclass(frozen=True)
class SentimentPoint:
    """The sentiment of one customer message.

    Attributes:
        label: "negative", "neutral" or "positive".
        score: From -1 to 1: positive minus negative probability.
        text: The customer's message, truncated to 500 characters.
        at: When the message was scored, aware UTC.
    """

    label: str
    score: float
    text: str
    at: datetime

    def __post_init__(self) -> None:
        if len(self.text) > SENTIMENT_TEXT_MAX_CHARS:
            object.__setattr__(self, "text", self.text[:SENTIMENT_TEXT_MAX_CHARS])

    def to_dict(self) -> Dict[str, Any]:
        """Return the point as JSON-ready values (the time as ISO 8601)."""
        return {
            "label": self.label,
            "score": self.score,
            "text": self.text,
            "at": _aware_utc(self.at).isoformat(),
        }

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> "SentimentPoint":
        """Read a point written by :meth:`to_dict`.

        Args:
            value: The mapping, e.g. one item of the ``sentiment_trail`` slot.

        Returns:
            The point; a naive time is taken to be UTC.

        Raises:
            ValueError: If a field is missing or of the wrong type.
        """
        try:
            label = value["label"]
            score = value["score"]
            text = value["text"]
            at = value["at"]
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a sentiment point: {value!r}") from exc
        if not isinstance(label, str) or not isinstance(text, str):
            raise ValueError(f"not a sentiment point: {value!r}")
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            raise ValueError(f"sentiment score is not a number: {score!r}")
        if isinstance(at, datetime):
            moment = at
        elif isinstance(at, str):
            moment = datetime.fromisoformat(at)
        else:
            raise ValueError(f"sentiment time is not ISO 8601: {at!r}")
        return cls(label=label, score=float(score), text=text, at=_aware_utc(moment))


@dataclass(frozen=True)
class TranscriptLine:
    """One line of a conversation as agents see it.

    Attributes:
        author: "customer", "bot", "agent", "note" or "system".
        text: What was said.
        at: When, aware UTC.
        agent_name: Display name of the agent for "agent" and "note" lines.
    """

    author: str
    text: str
    at: datetime
    agent_name: Optional[str] = None


@dataclass(frozen=True)
class RecommendedProduct:
    """A product the bot recommended before the conversation escalated."""

    sku: str
    title: str
    price: Optional[float] = None
    currency: Optional[str] = None


@dataclass(frozen=True)
class HandoffRequest:
    """A conversation that escalates to a human agent.

    Attributes:
        conversation_id: Rasa's sender id of the conversation.
        channel: Rasa input channel of the latest message (rest, socketio,
            telegram, slack, facebook, twilio, ...).
        reason: "strong_negative", "sustained_negative", "requested_human" or
            "repeated_fallback".
        sentiment_trail: The scored customer messages, oldest first.
        recent_intents: The latest intents, oldest first.
        transcript: The conversation so far, oldest first.
        recommended: Products the bot recommended.
    """

    conversation_id: str
    channel: str
    reason: str
    sentiment_trail: Tuple[SentimentPoint, ...]
    recent_intents: Tuple[str, ...]
    transcript: Tuple[TranscriptLine, ...]
    recommended: Tuple[RecommendedProduct, ...] = ()

    def __post_init__(self) -> None:
        for name in ("sentiment_trail", "recent_intents", "transcript", "recommended"):
            object.__setattr__(self, name, tuple(getattr(self, name)))


@dataclass(frozen=True)
class QueueStatus:
    """Where a ticket stands, as told to the customer.

    Attributes:
        ticket_id: The ticket.
        status: "queued", "assigned", "closed" or "handed_back".
        position: 1-based place in the queue while queued, else None.
        expected_wait_s: Expected seconds until an agent answers; None when
            no agent is online (or the ticket is not queued).
        agents_online: Agents active in the last 60 seconds.
        within_office_hours: Whether it is office hours now.
        next_opening: Start of the next office-hours period when outside them.
        agent_name: Display name of the owner when assigned.
    """

    ticket_id: int
    status: str
    position: Optional[int]
    expected_wait_s: Optional[int]
    agents_online: int
    within_office_hours: bool
    next_opening: Optional[datetime]
    agent_name: Optional[str] = None


def _aware_utc(moment: datetime) -> datetime:
    """Return ``moment`` in UTC; a naive value is taken to be UTC already."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)
