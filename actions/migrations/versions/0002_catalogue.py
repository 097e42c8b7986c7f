"""Product catalogue.

Revision ID: 0002
Revises: 0001
Create Date: 2025-03-21

Prices are integer cents of the product's currency. ``attributes`` is a JSON
object stored as text (the same on SQLite and PostgreSQL). ``embedding`` and
``embedding_model`` stay empty until semantic search stores vectors there.
"""

from typing import Optional, Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: Optional[str] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Create the ``products`` table and its indexes."""
    op.create_table(
        "products",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sku", sa.String(32), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("category", sa.String(200), nullable=False),
        sa.Column("category_key", sa.String(40), nullable=False),
        sa.Column("brand", sa.String(80), nullable=False),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("rating", sa.Float(), nullable=True),
        sa.Column("review_count", sa.Integer(), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=False),
        sa.Column("attributes", sa.Text(), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
        sa.Column("embedding_model", sa.String(100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_products"),
        sa.UniqueConstraint("sku", name="uq_products_sku"),
        sa.CheckConstraint("price_cents >= 0", name="ck_products_price_not_negative"),
        sa.CheckConstraint(
            "rating IS NULL OR (rating >= 0 AND rating <= 5)", name="ck_products_rating_range"
        ),
        sa.CheckConstraint("review_count >= 0", name="ck_products_review_count_not_negative"),
        sa.CheckConstraint("stock >= 0", name="ck_products_stock_not_negative"),
    )
    op.create_index("ix_products_category_key", "products", ["category_key"])
    op.create_index("ix_products_brand", "products", ["brand"])


def downgrade() -> None:
    """Drop the ``products`` table."""
    op.drop_index("ix_products_brand", table_name="products")
    op.drop_index("ix_products_category_key", table_name="products")
    op.drop_table("products")
