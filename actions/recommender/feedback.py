"""Thumbs up and down on recommended products, per conversation.

Table ``recommendation_feedback`` (migration 0003) keeps every vote with the
conversation it was cast in; the ranking reads a conversation's votes back to
drop disliked products and favour ones like the liked products. Only the
latest vote on a product counts (see :func:`latest_votes`).
"""

import threading
from datetime import datetime
from typing import Callable, Dict, Iterable, List, Optional

from sqlalchemy import CheckConstraint, Column, Integer, String, Text, select

from actions.db import Base, Database, UTCDateTime, get_database, utc_now
from actions.recommender.payloads import FeedbackEvent, Vote

MAX_CONVERSATION_ID = 255
MAX_NEED_TEXT = 2000
"""Longer need texts are cut to this many characters."""


class RecommendationFeedbackRow(Base):
    """Table ``recommendation_feedback``; created by migration 0003."""

    __tablename__ = "recommendation_feedback"
    __table_args__ = (CheckConstraint("vote IN ('up', 'down')", name="vote_valid"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(String(MAX_CONVERSATION_ID), nullable=False, index=True)
    sku = Column(String(32), nullable=False)
    vote = Column(String(4), nullable=False)
    need_text = Column(Text)
    created_at = Column(UTCDateTime, nullable=False)

    def to_event(self) -> FeedbackEvent:
        """Return the row as a detached event."""
        return FeedbackEvent(
            conversation_id=self.conversation_id,
            sku=self.sku,
            vote=Vote(self.vote),
            created_at=self.created_at,
            need_text=self.need_text,
        )


def latest_votes(events: Iterable[FeedbackEvent]) -> Dict[str, Vote]:
    """Return each product's latest vote.

    Args:
        events: Votes in the order they were cast.

    Returns:
        SKU to vote; a later vote on the same product replaces an earlier one.
    """
    votes: Dict[str, Vote] = {}
    for event in events:
        votes.pop(event.sku, None)  # keep the order of the latest votes
        votes[event.sku] = event.vote
    return votes


class FeedbackRepository:
    """Records and reads recommendation feedback.

    Calls block: from async code run them with ``asyncio.to_thread``.

    Args:
        database: The project database.
        clock: Source of "now" for :meth:`record_vote`.
    """

    def __init__(self, database: Database, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._database = database
        self._clock = clock

    def record(self, event: FeedbackEvent) -> None:
        """Store a vote.

        Raises:
            ValueError: If the conversation id or SKU is empty or too long.
            DatabaseUnavailable: If the database cannot be reached.
        """
        if not event.conversation_id or len(event.conversation_id) > MAX_CONVERSATION_ID:
            raise ValueError(f"bad conversation id {event.conversation_id!r}")
        if not event.sku or len(event.sku) > 32:
            raise ValueError(f"bad SKU {event.sku!r}")
        need_text = event.need_text[:MAX_NEED_TEXT] if event.need_text else None
        row = RecommendationFeedbackRow(
            conversation_id=event.conversation_id,
            sku=event.sku,
            vote=Vote(event.vote).value,
            need_text=need_text,
            created_at=event.created_at,
        )
        with self._database.transaction("recording recommendation feedback") as session:
            session.add(row)

    def record_vote(
        self, conversation_id: str, sku: str, vote: Vote, need_text: Optional[str] = None
    ) -> FeedbackEvent:
        """Store a vote cast now.

        Returns:
            The stored event.

        Raises:
            ValueError: If the conversation id or SKU is empty or too long.
            DatabaseUnavailable: If the database cannot be reached.
        """
        event = FeedbackEvent(conversation_id, sku, Vote(vote), self._clock(), need_text)
        self.record(event)
        return event

    def for_conversation(self, conversation_id: str) -> List[FeedbackEvent]:
        """Return a conversation's votes in the order they were cast.

        Raises:
            DatabaseUnavailable: If the database cannot be reached.
        """
        statement = (
            select(RecommendationFeedbackRow)
            .where(RecommendationFeedbackRow.conversation_id == conversation_id)
            .order_by(RecommendationFeedbackRow.created_at, RecommendationFeedbackRow.id)
        )
        with self._database.reading("reading recommendation feedback") as session:
            return [row.to_event() for row in session.execute(statement).scalars()]


_default_repository: Optional[FeedbackRepository] = None
_default_repository_lock = threading.Lock()


def get_feedback_repository() -> FeedbackRepository:
    """Return the process-wide repository on :func:`actions.db.get_database`."""
    global _default_repository
    with _default_repository_lock:
        if _default_repository is None:
            _default_repository = FeedbackRepository(get_database())
        return _default_repository
