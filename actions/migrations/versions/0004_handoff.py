"""Human handoff.

Revision ID: 0004
Revises: 0003
Create Date: 2025-04-04

Agents and their login tokens, tickets of escalated conversations, each
ticket's timeline of messages (agent replies waiting for delivery to Rasa have
``delivered_at`` NULL), the append-only ``handoff_events`` log the service
tails, and the cursors of the log's consumers. Models: ``bot.handoff.models``.
"""

from typing import Optional, Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: Optional[str] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_STATUSES = "status IN ('queued', 'assigned', 'closed', 'handed_back')"
_AUTHORS = "author IN ('customer', 'bot', 'agent', 'note', 'system')"
_DELIVERIES = "delivery IS NULL OR delivery IN ('reply', 'handback', 'close')"
_EVENT_TYPES = "type IN ('ticket.created', 'ticket.updated', 'message.created', 'message.updated')"


def upgrade() -> None:
    """Create the handoff tables."""
    op.create_table(
        "handoff_agents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_handoff_agents"),
        sa.UniqueConstraint("username", name="uq_handoff_agents_username"),
    )
    op.create_table(
        "handoff_agent_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_handoff_agent_tokens"),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["handoff_agents.id"],
            name="fk_handoff_agent_tokens_agent_id_handoff_agents",
        ),
        sa.UniqueConstraint("token_hash", name="uq_handoff_agent_tokens_token_hash"),
    )
    op.create_index("ix_handoff_agent_tokens_agent_id", "handoff_agent_tokens", ["agent_id"])
    op.create_table(
        "handoff_tickets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("open_conversation", sa.String(255), nullable=True),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("negativity", sa.Float(), nullable=False),
        sa.Column("sentiment_trail", sa.Text(), nullable=False),
        sa.Column("recent_intents", sa.Text(), nullable=False),
        sa.Column("recommended", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_handoff_tickets"),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["handoff_agents.id"], name="fk_handoff_tickets_agent_id_handoff_agents"
        ),
        sa.UniqueConstraint("open_conversation", name="uq_handoff_tickets_open_conversation"),
        sa.CheckConstraint(_STATUSES, name="ck_handoff_tickets_status_valid"),
    )
    op.create_index("ix_handoff_tickets_conversation_id", "handoff_tickets", ["conversation_id"])
    op.create_index("ix_handoff_tickets_status", "handoff_tickets", ["status"])
    op.create_index("ix_handoff_tickets_agent_id", "handoff_tickets", ["agent_id"])
    op.create_table(
        "handoff_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("agent_name", sa.String(100), nullable=True),
        sa.Column("delivery", sa.String(16), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_handoff_messages"),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["handoff_tickets.id"],
            name="fk_handoff_messages_ticket_id_handoff_tickets",
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["handoff_agents.id"], name="fk_handoff_messages_agent_id_handoff_agents"
        ),
        sa.CheckConstraint(_AUTHORS, name="ck_handoff_messages_author_valid"),
        sa.CheckConstraint(_DELIVERIES, name="ck_handoff_messages_delivery_valid"),
    )
    op.create_index("ix_handoff_messages_ticket_id", "handoff_messages", ["ticket_id"])
    op.create_index("ix_handoff_messages_outbox", "handoff_messages", ["delivered_at", "delivery"])
    op.create_table(
        "handoff_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_handoff_events"),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["handoff_tickets.id"],
            name="fk_handoff_events_ticket_id_handoff_tickets",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["handoff_messages.id"],
            name="fk_handoff_events_message_id_handoff_messages",
        ),
        sa.CheckConstraint(_EVENT_TYPES, name="ck_handoff_events_type_valid"),
    )
    op.create_index("ix_handoff_events_ticket_id", "handoff_events", ["ticket_id"])
    op.create_table(
        "handoff_cursors",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("last_event_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_handoff_cursors"),
    )


def downgrade() -> None:
    """Drop the handoff tables."""
    op.drop_table("handoff_cursors")
    op.drop_index("ix_handoff_events_ticket_id", table_name="handoff_events")
    op.drop_table("handoff_events")
    op.drop_index("ix_handoff_messages_outbox", table_name="handoff_messages")
    op.drop_index("ix_handoff_messages_ticket_id", table_name="handoff_messages")
    op.drop_table("handoff_messages")
    op.drop_index("ix_handoff_tickets_agent_id", table_name="handoff_tickets")
    op.drop_index("ix_handoff_tickets_status", table_name="handoff_tickets")
    op.drop_index("ix_handoff_tickets_conversation_id", table_name="handoff_tickets")
    op.drop_table("handoff_tickets")
    op.drop_index("ix_handoff_agent_tokens_agent_id", table_name="handoff_agent_tokens")
    op.drop_table("handoff_agent_tokens")
    op.drop_table("handoff_agents")
