"""Orders and their items.

Revision ID: 0001
Revises:
Create Date: 2025-03-14

Money is kept in integer minor units (cents) of the order's currency, which
both SQLite and PostgreSQL store exactly. Timestamps are UTC.
"""

from typing import Optional, Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: Optional[str] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Create the ``orders`` and ``order_items`` tables."""
    op.create_table(
        "orders",
        sa.Column("order_id", sa.String(10), nullable=False),
        sa.Column("customer_email", sa.String(254), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("total_cents", sa.Integer(), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("carrier", sa.String(64), nullable=True),
        sa.Column("tracking_number", sa.String(64), nullable=True),
        sa.Column("estimated_delivery", sa.Date(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refund_status", sa.String(16), nullable=True),
        sa.Column("refund_amount_cents", sa.Integer(), nullable=True),
        sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("order_id", name="pk_orders"),
        sa.CheckConstraint(
            "status IN ('processing', 'shipped', 'delivered', 'cancelled', 'returned')",
            name="ck_orders_status",
        ),
        sa.CheckConstraint(
            "refund_status IS NULL OR refund_status IN ('pending', 'issued')",
            name="ck_orders_refund_status",
        ),
        sa.CheckConstraint("total_cents >= 0", name="ck_orders_total_not_negative"),
    )
    op.create_index("ix_orders_customer_email", "orders", ["customer_email"])
    op.create_table(
        "order_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(10), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("product_name", sa.String(200), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price_cents", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_order_items"),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.order_id"],
            name="fk_order_items_order_id_orders",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("order_id", "position", name="uq_order_items_order_id_position"),
        sa.CheckConstraint("quantity > 0", name="ck_order_items_quantity_positive"),
        sa.CheckConstraint("unit_price_cents >= 0", name="ck_order_items_price_not_negative"),
    )


def downgrade() -> None:
    """Drop the ``order_items`` and ``orders`` tables."""
    op.drop_table("order_items")
    op.drop_index("ix_orders_customer_email", table_name="orders")
    op.drop_table("orders")
