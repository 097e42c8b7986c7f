"""When a conversation is handed to a human agent: the escalation policy.

Four triggers, checked after every customer message while no agent owns the
conversation (first match wins, in this order):

* ``strong_negative``: the message is labelled negative and scores at most
  ``strong_negative_score``;
* ``requested_human``: the message's intent is ``request_human``;
* ``sustained_negative``: the message is negative and so are at least
  ``negative_turns`` of the last ``negative_window`` scored messages (this one
  included), "negative" meaning labelled negative and scoring at most
  ``negative_score``;
* ``repeated_fallback``: the NLU failed to understand ``fallbacks_in_a_row``
  messages in a row (this one included).

Every threshold comes from :class:`actions.settings.Settings` (``ESCALATION_*``).
Scores are :attr:`nlu_models.sentiment.SentimentScore.score`: positive minus
negative probability for the fine-tuned model, the compound score for VADER.
"""

from dataclasses import dataclass
from enum import Enum
from typing import Optional, Sequence

from actions.settings import Settings
from bot.handoff.payloads import SentimentPoint

REQUEST_HUMAN_INTENT = "request_human"
NEGATIVE_LABEL = "negative"


class EscalationReason(str, Enum):
    """Why a conversation was handed to a person (``HandoffRequest.reason``)."""

    STRONG_NEGATIVE = "strong_negative"
    REQUESTED_HUMAN = "requested_human"
    SUSTAINED_NEGATIVE = "sustained_negative"
    REPEATED_FALLBACK = "repeated_fallback"


@dataclass(frozen=True)
class EscalationPolicy:
    """The thresholds of the escalation triggers.

    Attributes:
        strong_negative_score: A negative message scoring at most this escalates.
        negative_score: A negative message scoring at most this counts towards
            the sustained trigger.
        negative_turns: Negative messages needed within the window.
        negative_window: The latest scored messages the sustained trigger sees.
        fallbacks_in_a_row: Not-understood messages in a row that escalate;
            0 turns the trigger off.
        on_request: Whether asking for a person escalates.
    """

    strong_negative_score: float = -0.6
    negative_score: float = -0.3
    negative_turns: int = 2
    negative_window: int = 3
    fallbacks_in_a_row: int = 2
    on_request: bool = True

    def __post_init__(self) -> None:
        for name in ("strong_negative_score", "negative_score"):
            value = getattr(self, name)
            if not -1.0 <= value <= 0.0:
                raise ValueError(f"{name} must be between -1 and 0, got {value}")
        if self.negative_turns < 1:
            raise ValueError(f"negative_turns must be at least 1, got {self.negative_turns}")
        if self.negative_turns > self.negative_window:
            raise ValueError(
                f"negative_turns ({self.negative_turns}) must not exceed "
                f"negative_window ({self.negative_window})"
            )
        if self.fallbacks_in_a_row < 0:
            raise ValueError(
                f"fallbacks_in_a_row must not be negative, got {self.fallbacks_in_a_row}"
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> "EscalationPolicy":
        """Read the thresholds from the ``ESCALATION_*`` settings.

        Args:
            settings: The action server's settings.

        Returns:
            The policy.
        """
        return cls(
            strong_negative_score=settings.escalation_strong_negative_score,
            negative_score=settings.escalation_negative_score,
            negative_turns=settings.escalation_negative_turns,
            negative_window=settings.escalation_negative_window,
            fallbacks_in_a_row=settings.escalation_fallbacks_in_a_row,
            on_request=settings.escalation_on_request,
        )

    def is_negative(self, point: SentimentPoint) -> bool:
        """Return whether a message counts as negative for the sustained trigger."""
        return point.label == NEGATIVE_LABEL and point.score <= self.negative_score

    def is_strongly_negative(self, point: SentimentPoint) -> bool:
        """Return whether a message alone is negative enough to escalate."""
        return point.label == NEGATIVE_LABEL and point.score <= self.strong_negative_score


def decide(
    policy: EscalationPolicy,
    *,
    intent: Optional[str],
    latest: Optional[SentimentPoint],
    earlier: Sequence[SentimentPoint] = (),
    fallbacks_in_a_row: int = 0,
) -> Optional[EscalationReason]:
    """Decide whether the customer's latest message hands the conversation over.

    Args:
        policy: The thresholds.
        intent: The intent of the latest message.
        latest: The latest message's sentiment; None when it was not scored
            (a button payload, say): then no sentiment trigger fires.
        earlier: The earlier scored messages that count (since the conversation
            was last handed back to the bot), oldest first.
        fallbacks_in_a_row: How many of the latest messages in a row, this one
            included, the NLU did not understand.

    Returns:
        The reason to escalate, or None to let the bot answer.
    """
    if latest is not None and policy.is_strongly_negative(latest):
        return EscalationReason.STRONG_NEGATIVE
    if policy.on_request and intent == REQUEST_HUMAN_INTENT:
        return EscalationReason.REQUESTED_HUMAN
    if latest is not None and policy.is_negative(latest):
        window = [*earlier, latest][-policy.negative_window :]
        if sum(1 for point in window if policy.is_negative(point)) >= policy.negative_turns:
            return EscalationReason.SUSTAINED_NEGATIVE
    if policy.fallbacks_in_a_row and fallbacks_in_a_row >= policy.fallbacks_in_a_row:
        return EscalationReason.REPEATED_FALLBACK
    return None
