"""Turning ticket rows into the views the API sends, and JSON columns back.

Functions here read rows already loaded (and, for summaries, look up owners
and previews in the same session); they never write.

What agents see has customers' emails, phone numbers and card numbers masked
(:func:`bot.privacy.mask_pii`): customer, bot and system lines, previews,
sentiment trail texts and delivery errors. Agents' own lines and notes are
shown as written. The rows keep the text intact, and what is delivered to the
customer is read from the rows, not from these views.
"""

import json
import logging
import re
from dataclasses import replace
from datetime import datetime
from typing import Any, Dict, List, Optional, Sequence, Tuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.handoff import queue
from bot.handoff.models import AgentRow, MessageRow, TicketRow
from bot.handoff.payloads import RecommendedProduct, SentimentPoint
from bot.handoff.views import PREVIEW_CHARS, AgentView, MessageView, TicketDetail, TicketSummary
from bot.privacy import mask_pii

logger = logging.getLogger(__name__)

MAX_STORED_TEXT = 20000
"""Customer and transcript texts are cut to this many characters."""
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
STAFF_AUTHORS = frozenset({"agent", "note"})
"""Lines written by agents: shown to agents unmasked."""


def clean_text(text: str) -> str:
    """Make a customer's text storable in any database, losing as little as possible.

    NUL characters (refused by PostgreSQL) and lone surrogates become U+FFFD;
    texts longer than :data:`MAX_STORED_TEXT` are cut.
    """
    return _UNSTORABLE.sub("\ufffd", str(text)[:MAX_STORED_TEXT])


def product_to_dict(product: RecommendedProduct) -> Dict[str, Any]:
    """Return a recommended product as stored in ``handoff_tickets.recommended``."""
    return {
        "sku": product.sku,
        "title": product.title,
        "price": product.price,
        "currency": product.currency,
    }


def load_trail(raw: str) -> List[SentimentPoint]:
    """Read ``handoff_tickets.sentiment_trail``; unreadable points are skipped."""
    points = []
    for item in _json_list(raw):
        try:
            points.append(SentimentPoint.from_dict(item))
        except ValueError:
            logger.warning("Skipping an unreadable sentiment point: %r", item)
    return points


def load_products(raw: str) -> Tuple[RecommendedProduct, ...]:
    """Read ``handoff_tickets.recommended``."""
    products = []
    for item in _json_list(raw):
        if isinstance(item, dict) and isinstance(item.get("sku"), str):
            products.append(
                RecommendedProduct(
                    sku=item["sku"],
                    title=str(item.get("title", "")),
                    price=item.get("price"),
                    currency=item.get("currency"),
                )
            )
    return tuple(products)


def by_priority(tickets: Sequence[TicketRow], now: datetime) -> List[TicketRow]:
    """Sort tickets by priority (highest first), then oldest first."""
    return sorted(
        tickets,
        key=lambda ticket: (-_priority(ticket, now), ticket.created_at, ticket.id),
    )


def shown_text(author: str, text: str) -> str:
    """The text of a line as agents see it: masked unless an agent wrote it."""
    return text if author in STAFF_AUTHORS else mask_pii(text)


def shown_point(point: SentimentPoint) -> SentimentPoint:
    """A sentiment point as agents see it: its text masked."""
    return replace(point, text=mask_pii(point.text))


def message_view(row: MessageRow) -> MessageView:
    """Return a message row as the API shows it (see the module docstring on masking)."""
    pending = row.delivery is not None and row.delivered_at is None
    error = row.last_error if pending else None
    return MessageView(
        id=row.id,
        ticket_id=row.ticket_id,
        author=row.author,
        text=shown_text(row.author, row.text),
        at=row.created_at,
        agent_name=row.agent_name,
        delivered=not pending,
        delivery_error=mask_pii(error) if error else error,
    )


def summaries(session: Session, tickets: Sequence[TicketRow], now: datetime) -> List[TicketSummary]:
    """Return the summaries of ``tickets``, in the same order.

    Args:
        session: An open session, for the owners and the latest customer messages.
        tickets: Loaded ticket rows.
        now: The time the waiting times are measured at.
    """
    if not tickets:
        return []
    agent_ids = {ticket.agent_id for ticket in tickets if ticket.agent_id is not None}
    agents = {}
    if agent_ids:
        rows = session.execute(select(AgentRow).where(AgentRow.id.in_(agent_ids))).scalars()
        agents = {row.id: AgentView(row.id, row.username, row.display_name) for row in rows}
    latest = (
        select(func.max(MessageRow.id))
        .where(
            MessageRow.ticket_id.in_([ticket.id for ticket in tickets]),
            MessageRow.author == "customer",
        )
        .group_by(MessageRow.ticket_id)
    )
    previews = dict(
        session.execute(
            select(MessageRow.ticket_id, MessageRow.text).where(MessageRow.id.in_(latest))
        ).all()
    )
    result = []
    for ticket in tickets:
        trail = load_trail(ticket.sentiment_trail)
        result.append(
            TicketSummary(
                id=ticket.id,
                conversation_id=ticket.conversation_id,
                channel=ticket.channel,
                reason=ticket.reason,
                status=ticket.status,
                priority=_priority(ticket, now),
                created_at=ticket.created_at,
                waiting_s=_waiting(ticket, now),
                agent=agents.get(ticket.agent_id) if ticket.agent_id is not None else None,
                last_sentiment=shown_point(trail[-1]) if trail else None,
                preview=_preview(mask_pii(previews.get(ticket.id) or "")),
            )
        )
    return result


def detail(
    ticket: TicketRow, summary: TicketSummary, messages: Sequence[MessageRow]
) -> TicketDetail:
    """Return a ticket with its trail, intents, products and messages."""
    intents = tuple(str(intent) for intent in _json_list(ticket.recent_intents))
    return TicketDetail(
        summary=summary,
        sentiment_trail=tuple(shown_point(point) for point in load_trail(ticket.sentiment_trail)),
        recent_intents=intents,
        recommended=load_products(ticket.recommended),
        messages=tuple(message_view(row) for row in messages),
    )


def _waiting(ticket: TicketRow, now: datetime) -> int:
    if ticket.status not in ("queued", "assigned"):
        return 0
    return queue.waiting_seconds(ticket.waiting_since, now)


def _priority(ticket: TicketRow, now: datetime) -> float:
    return queue.priority(ticket.negativity or 0.0, _waiting(ticket, now))


def _preview(text: Optional[str]) -> str:
    if not text:
        return ""
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 1] + "…"


def _json_list(raw: str) -> List[Any]:
    try:
        value = json.loads(raw) if raw else []
    except ValueError:
        logger.warning("Ignoring an unreadable JSON column: %.80r", raw)
        return []
    return value if isinstance(value, list) else []
