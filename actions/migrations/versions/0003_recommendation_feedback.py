"""Recommendation feedback.

Revision ID: 0003
Revises: 0002
Create Date: 2025-03-28

Thumbs up and down on recommended products, kept per conversation (the Rasa
sender id) so that the ranking can use them within the conversation. ``sku``
has no foreign key: a vote outlives a product removed from the catalogue.
"""

from typing import Optional, Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: Optional[str] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Create the ``recommendation_feedback`` table."""
    op.create_table(
        "recommendation_feedback",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("sku", sa.String(32), nullable=False),
        sa.Column("vote", sa.String(4), nullable=False),
        sa.Column("need_text", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_recommendation_feedback"),
        sa.CheckConstraint("vote IN ('up', 'down')", name="ck_recommendation_feedback_vote_valid"),
    )
    op.create_index(
        "ix_recommendation_feedback_conversation_id",
        "recommendation_feedback",
        ["conversation_id"],
    )


def downgrade() -> None:
    """Drop the ``recommendation_feedback`` table."""
    op.drop_index(
        "ix_recommendation_feedback_conversation_id", table_name="recommendation_feedback"
    )
    op.drop_table("recommendation_feedback")
