"""What the turn monitor needs from the conversation, read from Rasa's tracker.

:func:`read_turn` turns the tracker the action server receives into a
:class:`Turn`: the latest customer message, the sentiment trail, whether an
agent owns the conversation, and the signals of the escalation policy. It uses
the raw events, so messages the fallback action reverted still count, and it
starts counting afresh after each handoff (at the latest change of the slot
``handoff_active``), so a conversation handed back to the bot is not handed
over again at once because of what was said to the agent.
"""

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from rasa_sdk import Tracker

from actions.fallback import intent_label
from bot.handoff.payloads import SentimentPoint, TranscriptLine

TRAIL_SLOT = "sentiment_trail"
ACTIVE_SLOT = "handoff_active"
TICKET_SLOT = "handoff_ticket_id"
FALLBACK_INTENT = "nlu_fallback"
IGNORED_INTENTS = frozenset({"session_start", "restart"})
"""Messages with these intents are Rasa's own, not the customer's words."""
HANDOFF_METADATA_KEY = "handoff"
MAX_TRANSCRIPT_LINES = 50
MAX_RECENT_INTENTS = 10
MAX_CHANNEL_CHARS = 64
UNKNOWN_CHANNEL = "unknown"


@dataclass(frozen=True)
class Turn:
    """The latest customer message and its context.

    Attributes:
        conversation_id: Rasa's sender id.
        channel: Input channel of the latest message ("unknown" if none).
        text: The message as agents should read it (button clicks named).
        scorable_text: The message to score, or None for button payloads and
            empty messages.
        intent: Its intent.
        at: When Rasa received it, aware UTC.
        trail: The ``sentiment_trail`` slot, oldest first.
        earlier_points: The points of ``trail`` since the latest handoff ended.
        handoff_active: Whether an agent owns the conversation.
        ticket_id: The ``handoff_ticket_id`` slot.
        fallbacks_in_a_row: Latest messages in a row, this one included, the NLU
            did not understand (since the latest handoff ended).
        already_handled: The monitor already ran for this message.
        recent_intents: The latest intents, oldest first.
        transcript: The conversation so far, oldest first.
        recommended_skus: The products recommended last.
    """

    conversation_id: str
    channel: str
    text: str
    scorable_text: Optional[str]
    intent: Optional[str]
    at: datetime
    trail: Tuple[SentimentPoint, ...]
    earlier_points: Tuple[SentimentPoint, ...]
    handoff_active: bool
    ticket_id: Optional[int]
    fallbacks_in_a_row: int
    already_handled: bool
    recent_intents: Tuple[str, ...]
    transcript: Tuple[TranscriptLine, ...]
    recommended_skus: Tuple[str, ...]


def event_time(event: Mapping[str, Any], default: datetime) -> datetime:
    """Return an event's timestamp as an aware UTC datetime, or ``default``."""
    timestamp = event.get("timestamp")
    if isinstance(timestamp, (int, float)) and not isinstance(timestamp, bool):
        return datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return default


def intent_of(event: Mapping[str, Any]) -> Optional[str]:
    """Return the intent name of a user event."""
    intent = (event.get("parse_data") or {}).get("intent") or {}
    name = intent.get("name") if isinstance(intent, dict) else None
    return str(name) if name else None


def is_payload(text: str) -> bool:
    """Return whether a message is a button payload such as ``/request_human``."""
    return text.startswith("/")


def customer_text(text: Optional[str], intent: Optional[str]) -> str:
    """The message as agents read it: button payloads become "[Button] <label>"."""
    text = (text or "").strip()
    if is_payload(text):
        return f"[Button] {intent_label(intent)}" if intent else f"[Button] {text}"
    return text


def read_trail(value: Any) -> Tuple[SentimentPoint, ...]:
    """Read the ``sentiment_trail`` slot, skipping malformed entries."""
    if not isinstance(value, list):
        return ()
    points = []
    for item in value:
        try:
            points.append(SentimentPoint.from_dict(item))
        except ValueError:
            continue
    return tuple(points)


def _bot_line(event: Mapping[str, Any], at: datetime) -> Optional[TranscriptLine]:
    data = event.get("data") or {}
    text = (event.get("text") or "").strip()
    titles = [str(b.get("title")) for b in data.get("buttons") or [] if isinstance(b, dict)]
    if titles:
        text = f"{text}\n[Buttons: {' | '.join(titles)}]".strip()
    if not text:
        return None
    handoff = (event.get("metadata") or {}).get(HANDOFF_METADATA_KEY)
    if isinstance(handoff, dict):
        if handoff.get("agent"):
            return TranscriptLine("agent", text, at, agent_name=str(handoff["agent"]))
        return TranscriptLine("system", text, at)
    return TranscriptLine("bot", text, at)


def transcript_of(events: Sequence[Mapping[str, Any]], now: datetime) -> Tuple[TranscriptLine, ...]:
    """The customer's and the bot's messages, the latest ``MAX_TRANSCRIPT_LINES``."""
    lines: List[TranscriptLine] = []
    for event in events:
        at = event_time(event, now)
        if event.get("event") == "user":
            intent = intent_of(event)
            if intent in IGNORED_INTENTS:
                continue
            text = customer_text(event.get("text"), intent)
            if text:
                lines.append(TranscriptLine("customer", text, at))
        elif event.get("event") == "bot":
            line = _bot_line(event, at)
            if line is not None:
                lines.append(line)
    return tuple(lines[-MAX_TRANSCRIPT_LINES:])


def _handoff_boundary(events: Sequence[Mapping[str, Any]]) -> int:
    """Index after the latest change of ``handoff_active`` (0 if there was none)."""
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if event.get("event") == "slot" and event.get("name") == ACTIVE_SLOT:
            return index + 1
    return 0


def _fallbacks_in_a_row(user_events: Sequence[Mapping[str, Any]]) -> int:
    count = 0
    for event in reversed(user_events):
        if intent_of(event) != FALLBACK_INTENT:
            break
        count += 1
    return count


def _ticket_id(value: Any) -> Optional[int]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def read_turn(tracker: Tracker, clock: Callable[[], datetime]) -> Optional[Turn]:
    """Read the latest customer message and its context from the tracker.

    Args:
        tracker: The conversation as the action server receives it.
        clock: Source of "now" for events without a timestamp.

    Returns:
        The turn; None when there is no customer message to look at (none
        yet, or Rasa's own ``restart``/``session_start``).
    """
    events: List[Dict[str, Any]] = list(tracker.events)
    now = clock()
    last_user = next(
        (i for i in range(len(events) - 1, -1, -1) if events[i].get("event") == "user"), None
    )
    if last_user is None:
        return None
    message = events[last_user]
    intent = intent_of(message) or (tracker.latest_message or {}).get("intent", {}).get("name")
    if intent in IGNORED_INTENTS:
        return None
    already_handled = any(
        event.get("event") == "slot" and event.get("name") == TRAIL_SLOT
        for event in events[last_user + 1 :]
    )
    raw_text = (message.get("text") or "").strip()
    at = event_time(message, now)

    boundary = _handoff_boundary(events[:last_user])
    boundary_at = event_time(events[boundary - 1], now) if boundary else None
    trail = read_trail(tracker.get_slot(TRAIL_SLOT))
    earlier = tuple(p for p in trail if boundary_at is None or p.at > boundary_at)
    user_events = [
        event for event in events[boundary : last_user + 1] if event.get("event") == "user"
    ]
    intents = [name for name in map(intent_of, events) if name and name not in IGNORED_INTENTS]

    channel = (tracker.get_latest_input_channel() or "").strip()[:MAX_CHANNEL_CHARS]
    skus = tracker.get_slot("recommended_skus") or []
    return Turn(
        conversation_id=tracker.sender_id,
        channel=channel or UNKNOWN_CHANNEL,
        text=customer_text(raw_text, intent),
        scorable_text=raw_text if raw_text and not is_payload(raw_text) else None,
        intent=intent,
        at=at,
        trail=trail,
        earlier_points=earlier,
        handoff_active=tracker.get_slot(ACTIVE_SLOT) in (True, "true"),
        ticket_id=_ticket_id(tracker.get_slot(TICKET_SLOT)),
        fallbacks_in_a_row=_fallbacks_in_a_row(user_events),
        already_handled=already_handled,
        recent_intents=tuple(intents[-MAX_RECENT_INTENTS:]),
        transcript=transcript_of(events, now),
        recommended_skus=tuple(str(s) for s in skus if s) if isinstance(skus, list) else (),
    )
