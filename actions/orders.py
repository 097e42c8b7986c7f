"""Orders: the table model, the typed order record, the repository, id parsing.

Order numbers look like ``ORD-104233``. Customers type them in many ways
("ord104233", "#104233", "104233"); :func:`parse_order_id` turns all of those
into the canonical form and returns None for anything that is not one.
"""

import re
import threading
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Optional, Protocol, Tuple

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.orm import relationship

from actions.db import Base, Database, UTCDateTime, get_database

ORDER_ID_FORMAT = "ORD-104233"
"""An example order number, for messages that explain the format."""

_CANONICAL_ORDER_ID = re.compile(r"ORD-[0-9]{6}")
# Optional "ORD" (any case, with or without a separator) or "#", then exactly
# six digits that are not part of a longer word or number.
_ORDER_ID_IN_TEXT = re.compile(
    r"(?<![a-z0-9])(?:ord[\s_\-\u2010-\u2015]*#?\s*|#\s*)?([0-9]{6})(?![a-z0-9])",
    re.IGNORECASE,
)


class OrderState(str, Enum):
    """Where an order is in its life."""

    PROCESSING = "processing"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    RETURNED = "returned"


class RefundStatus(str, Enum):
    """Progress of the refund of a returned order."""

    PENDING = "pending"
    ISSUED = "issued"


@dataclass(frozen=True)
class LineItem:
    """One product line of an order.

    Attributes:
        product_name: Name shown to the customer.
        quantity: Number of units, at least 1.
        unit_price_cents: Price of one unit in cents of the order's currency.
    """

    product_name: str
    quantity: int
    unit_price_cents: int


@dataclass(frozen=True)
class OrderStatus:
    """An order as the actions see it, detached from the database.

    Money is in cents of ``currency``; timestamps are timezone-aware UTC.

    Attributes:
        order_id: Canonical order number, e.g. ``ORD-104233``.
        customer_email: Email address the order was placed with.
        status: Current state of the order.
        items: The product lines, in the order they were added.
        total_cents: Amount charged.
        currency: ISO 4217 code, e.g. ``EUR``.
        placed_at: When the customer placed the order.
        shipped_at: When it left the warehouse.
        carrier: Delivery company, e.g. ``DHL``.
        tracking_number: The carrier's tracking number.
        estimated_delivery: Day the carrier expects to deliver.
        delivered_at: When it was delivered.
        cancelled_at: When it was cancelled.
        returned_at: When the return reached us.
        refund_status: Progress of the refund of a returned order.
        refund_amount_cents: Amount refunded or to be refunded.
        refunded_at: When the refund was issued.
    """

    order_id: str
    customer_email: str
    status: OrderState
    items: Tuple[LineItem, ...]
    total_cents: int
    currency: str
    placed_at: datetime
    shipped_at: Optional[datetime] = None
    carrier: Optional[str] = None
    tracking_number: Optional[str] = None
    estimated_delivery: Optional[date] = None
    delivered_at: Optional[datetime] = None
    cancelled_at: Optional[datetime] = None
    returned_at: Optional[datetime] = None
    refund_status: Optional[RefundStatus] = None
    refund_amount_cents: Optional[int] = None
    refunded_at: Optional[datetime] = None


class Order(Base):
    """Table ``orders``; created by migration 0001."""

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(
            "status IN ('processing', 'shipped', 'delivered', 'cancelled', 'returned')",
            name="status",
        ),
        CheckConstraint(
            "refund_status IS NULL OR refund_status IN ('pending', 'issued')",
            name="refund_status",
        ),
        CheckConstraint("total_cents >= 0", name="total_not_negative"),
    )

    order_id = Column(String(10), primary_key=True)
    customer_email = Column(String(254), nullable=False, index=True)
    status = Column(String(16), nullable=False)
    currency = Column(String(3), nullable=False)
    total_cents = Column(Integer, nullable=False)
    placed_at = Column(UTCDateTime, nullable=False)
    shipped_at = Column(UTCDateTime)
    carrier = Column(String(64))
    tracking_number = Column(String(64))
    estimated_delivery = Column(Date)
    delivered_at = Column(UTCDateTime)
    cancelled_at = Column(UTCDateTime)
    returned_at = Column(UTCDateTime)
    refund_status = Column(String(16))
    refund_amount_cents = Column(Integer)
    refunded_at = Column(UTCDateTime)

    items = relationship(
        "OrderItem",
        back_populates="order",
        order_by="OrderItem.position",
        cascade="all, delete-orphan",
        lazy="selectin",
    )

    @classmethod
    def from_status(cls, order: OrderStatus) -> "Order":
        """Build a new row (with its item rows) from an order record."""
        row = cls(
            order_id=order.order_id,
            customer_email=order.customer_email,
            status=order.status.value,
            currency=order.currency,
            total_cents=order.total_cents,
            placed_at=order.placed_at,
            shipped_at=order.shipped_at,
            carrier=order.carrier,
            tracking_number=order.tracking_number,
            estimated_delivery=order.estimated_delivery,
            delivered_at=order.delivered_at,
            cancelled_at=order.cancelled_at,
            returned_at=order.returned_at,
            refund_status=order.refund_status.value if order.refund_status else None,
            refund_amount_cents=order.refund_amount_cents,
            refunded_at=order.refunded_at,
        )
        row.items = [
            OrderItem(
                position=position,
                product_name=item.product_name,
                quantity=item.quantity,
                unit_price_cents=item.unit_price_cents,
            )
            for position, item in enumerate(order.items, start=1)
        ]
        return row

    def to_status(self) -> OrderStatus:
        """Return the row as a detached, immutable order record."""
        return OrderStatus(
            order_id=self.order_id,
            customer_email=self.customer_email,
            status=OrderState(self.status),
            items=tuple(
                LineItem(item.product_name, item.quantity, item.unit_price_cents)
                for item in self.items
            ),
            total_cents=self.total_cents,
            currency=self.currency,
            placed_at=self.placed_at,
            shipped_at=self.shipped_at,
            carrier=self.carrier,
            tracking_number=self.tracking_number,
            estimated_delivery=self.estimated_delivery,
            delivered_at=self.delivered_at,
            cancelled_at=self.cancelled_at,
            returned_at=self.returned_at,
            refund_status=RefundStatus(self.refund_status) if self.refund_status else None,
            refund_amount_cents=self.refund_amount_cents,
            refunded_at=self.refunded_at,
        )


class OrderItem(Base):
    """Table ``order_items``: the product lines of an order."""

    __tablename__ = "order_items"
    __table_args__ = (
        UniqueConstraint("order_id", "position"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price_cents >= 0", name="price_not_negative"),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    order_id = Column(String(10), ForeignKey("orders.order_id", ondelete="CASCADE"), nullable=False)
    position = Column(Integer, nullable=False)
    product_name = Column(String(200), nullable=False)
    quantity = Column(Integer, nullable=False)
    unit_price_cents = Column(Integer, nullable=False)

    order = relationship("Order", back_populates="items")


def parse_order_id(text: str) -> Optional[str]:
    """Find an order number in what the customer typed and normalises it.

    Accepts "ORD-104233", "ord104233", "ORD 104233", "#104233", "104233" and
    sentences containing one of those ("my order number is ord-104233"). When
    a message holds several, the first one wins.

    Args:
        text: The customer's text or an extracted entity value.

    Returns:
        The canonical order number ("ORD-104233"), or None if the text holds
        no well-formed one (e.g. "ORD-12", "banana").
    """
    match = _ORDER_ID_IN_TEXT.search(text)
    return f"ORD-{match.group(1)}" if match else None


class OrderLookup(Protocol):
    """What the actions need from an order store."""

    def get(self, order_id: str) -> Optional[OrderStatus]:
        """Return the order with this canonical number, or None if unknown.

        Raises:
            DatabaseUnavailable: If the store cannot be reached.
        """
        ...


class OrderRepository:
    """Reads and writes orders in the project database.

    The first call migrates (and, if enabled, seeds) the database; see
    :meth:`actions.db.Database.ensure_ready`. Calls block: from async code run
    them with ``asyncio.to_thread``.

    Args:
        database: The database to use.
    """

    def __init__(self, database: Database) -> None:
        self._database = database

    def get(self, order_id: str) -> Optional[OrderStatus]:
        """Look an order up by its canonical number.

        Args:
            order_id: A canonical number such as ``ORD-104233``; run customer
                input through :func:`parse_order_id` first.

        Returns:
            The order, or None if there is no order with that number.

        Raises:
            ValueError: If ``order_id`` is not in canonical form.
            DatabaseUnavailable: If the database cannot be reached.
        """
        if not _CANONICAL_ORDER_ID.fullmatch(order_id):
            raise ValueError(f"not a canonical order number: {order_id!r}")
        with self._database.reading(f"looking up order {order_id}") as session:
            row = session.execute(
                select(Order).where(Order.order_id == order_id)
            ).scalar_one_or_none()
            return row.to_status() if row is not None else None

    def add(self, order: OrderStatus) -> None:
        """Store a new order.

        Raises:
            DatabaseUnavailable: If the database cannot be reached.
            sqlalchemy.exc.IntegrityError: If the order number is taken.
        """
        with self._database.transaction(f"adding order {order.order_id}") as session:
            session.add(Order.from_status(order))

    def count(self) -> int:
        """Return the number of orders.

        Raises:
            DatabaseUnavailable: If the database cannot be reached.
        """
        with self._database.reading("counting orders") as session:
            return session.execute(select(func.count()).select_from(Order)).scalar_one()


_default_repository: Optional[OrderRepository] = None
_default_repository_lock = threading.Lock()


def get_order_repository() -> OrderRepository:
    """Return the process-wide repository on :func:`actions.db.get_database`."""
    global _default_repository
    with _default_repository_lock:
        if _default_repository is None:
            _default_repository = OrderRepository(get_database())
        return _default_repository
