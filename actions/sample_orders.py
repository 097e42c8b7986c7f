"""Sample orders for a fresh database, dated relative to the moment of seeding.

Every status and the edge cases of the return policy are covered, so the
assistant can be tried out right away:

========== ============================================================
ORD-104233 shipped 2 days ago with DHL, arriving tomorrow
ORD-104187 delivered 5 days ago: can be returned
ORD-104251 processing, placed 3 hours ago
ORD-103512 delivered 45 days ago: outside the 30-day return window
ORD-104020 cancelled
ORD-103877 returned, refund issued
ORD-104102 returned, refund pending
ORD-104219 shipped, delivery overdue since yesterday
ORD-103950 delivered 29 days ago: last day to return is tomorrow
ORD-103901 delivered 31 days ago: window closed yesterday
========== ============================================================
"""

from datetime import date, datetime, timedelta
from typing import List, Optional, Sequence, Tuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.orders import LineItem, Order, OrderState, OrderStatus, RefundStatus

CURRENCY = "EUR"
# Standard delivery costs 4.95 EUR, free from 50 EUR (as the assistant tells customers).
_SHIPPING_CENTS = 495
_FREE_SHIPPING_FROM_CENTS = 5000

_Item = Tuple[str, int, int]  # product name, quantity, unit price in cents


def _total(items: Sequence[LineItem]) -> int:
    subtotal = sum(item.quantity * item.unit_price_cents for item in items)
    return subtotal + (0 if subtotal >= _FREE_SHIPPING_FROM_CENTS else _SHIPPING_CENTS)


def build_sample_orders(now: datetime) -> List[OrderStatus]:
    """Build the sample orders, with dates relative to ``now``.

    Args:
        now: The moment of seeding (timezone-aware UTC).

    Returns:
        About twenty orders in every status.
    """

    def ago(days: float, hours: float = 0) -> datetime:
        return now - timedelta(days=days, hours=hours)

    def in_days(days: int) -> date:
        return (now + timedelta(days=days)).date()

    def order(
        order_id: str,
        email: str,
        status: OrderState,
        items: Sequence[_Item],
        placed_at: datetime,
        *,
        shipped: Optional[Tuple[datetime, str, str, date]] = None,
        delivered_at: Optional[datetime] = None,
        cancelled_at: Optional[datetime] = None,
        refund: Optional[Tuple[datetime, RefundStatus, Optional[datetime], int]] = None,
    ) -> OrderStatus:
        lines = tuple(LineItem(name, quantity, price) for name, quantity, price in items)
        shipped_at, carrier, tracking_number, estimated_delivery = shipped or (None,) * 4
        returned_at, refund_status, refunded_at, refund_cents = refund or (None,) * 4
        return OrderStatus(
            order_id=order_id,
            customer_email=email,
            status=status,
            items=lines,
            total_cents=_total(lines),
            currency=CURRENCY,
            placed_at=placed_at,
            shipped_at=shipped_at,
            carrier=carrier,
            tracking_number=tracking_number,
            estimated_delivery=estimated_delivery,
            delivered_at=delivered_at,
            cancelled_at=cancelled_at,
            returned_at=returned_at,
            refund_status=refund_status,
            refund_amount_cents=refund_cents,
            refunded_at=refunded_at,
        )

    processing, shipped = OrderState.PROCESSING, OrderState.SHIPPED
    delivered, cancelled, returned = (
        OrderState.DELIVERED,
        OrderState.CANCELLED,
        OrderState.RETURNED,
    )
    return [
        order(
            "ORD-104233",
            "anna.schmidt@example.com",
            shipped,
            [("Trail running shoes", 1, 12995), ("Merino running socks, 2 pairs", 1, 2490)],
            ago(3, 4),
            shipped=(ago(2), "DHL", "JD014600006281530012", in_days(1)),
        ),
        order(
            "ORD-104187",
            "lukas.bauer@example.com",
            delivered,
            [("Waterproof hiking jacket", 1, 18900)],
            ago(9, 2),
            shipped=(ago(7), "DPD", "01906012345678", ago(5).date()),
            delivered_at=ago(5),
        ),
        order(
            "ORD-104251",
            "sofia.rossi@example.com",
            processing,
            [("Insulated water bottle, 750 ml", 2, 2750), ("Canvas backpack, 25 l", 1, 6900)],
            ago(0, 3),
        ),
        order(
            "ORD-103512",
            "jan.novak@example.com",
            delivered,
            [("Wireless noise-cancelling headphones", 1, 24900)],
            ago(50, 5),
            shipped=(ago(48), "UPS", "1Z9A8W760412345678", ago(45).date()),
            delivered_at=ago(45),
        ),
        order(
            "ORD-104020",
            "emma.dubois@example.com",
            cancelled,
            [("Linen bed sheet set, double", 1, 11900)],
            ago(12, 6),
            cancelled_at=ago(11, 20),
        ),
        order(
            "ORD-103877",
            "marco.bianchi@example.com",
            returned,
            [("Leather chelsea boots", 1, 15900)],
            ago(25, 1),
            shipped=(ago(24), "DHL", "JD014600006281498877", ago(22).date()),
            delivered_at=ago(22),
            refund=(ago(15), RefundStatus.ISSUED, ago(13), 15900),
        ),
        order(
            "ORD-104102",
            "olivia.jones@example.com",
            returned,
            [("Organic cotton T-shirt", 3, 1990)],
            ago(18, 3),
            shipped=(ago(17), "GLS", "60123456789", ago(15).date()),
            delivered_at=ago(15),
            refund=(ago(2), RefundStatus.PENDING, None, 3980),
        ),
        order(
            "ORD-104240",
            "felix.wagner@example.com",
            processing,
            [("Yoga mat, 6 mm", 1, 3995), ("Cork yoga block", 2, 1250)],
            ago(1, 2),
        ),
        order(
            "ORD-104219",
            "chloe.martin@example.com",
            shipped,
            [("Ceramic pour-over coffee set", 1, 5400)],
            ago(6, 3),
            shipped=(ago(5), "GLS", "60123498765", in_days(-1)),
        ),
        order(
            "ORD-104226",
            "noah.fischer@example.com",
            shipped,
            [("Smart LED desk lamp", 1, 7999)],
            ago(2, 5),
            shipped=(ago(1), "UPS", "1Z9A8W760498765432", in_days(2)),
        ),
        order(
            "ORD-104160",
            "mia.keller@example.com",
            shipped,
            [("Mechanical keyboard", 1, 11900)],
            ago(4, 2),
            shipped=(ago(3), "DPD", "01906098765432", in_days(0)),
        ),
        order(
            "ORD-104198",
            "paul.weber@example.com",
            delivered,
            [("Robot vacuum cleaner", 1, 29900)],
            ago(6, 1),
            shipped=(ago(4), "DHL", "JD014600006281504198", ago(2).date()),
            delivered_at=ago(2),
        ),
        order(
            "ORD-104145",
            "laura.hofmann@example.com",
            delivered,
            [("Stainless steel cookware set, 5 pieces", 1, 18990)],
            ago(16, 4),
            shipped=(ago(14), "DPD", "01906011145145", ago(12).date()),
            delivered_at=ago(12),
        ),
        order(
            "ORD-104011",
            "anna.schmidt@example.com",
            delivered,
            [("Bamboo bath towels, set of 4", 1, 4990), ("Scented soy candle", 3, 1450)],
            ago(11, 2),
            shipped=(ago(10), "DHL", "JD014600006281504011", ago(8).date()),
            delivered_at=ago(8),
        ),
        order(
            "ORD-103950",
            "david.muller@example.com",
            delivered,
            [("Down sleeping bag", 1, 21900)],
            ago(33, 2),
            shipped=(ago(31), "UPS", "1Z9A8W760403950000", ago(29).date()),
            delivered_at=ago(29),
        ),
        order(
            "ORD-103901",
            "sara.lopez@example.com",
            delivered,
            [("Camping stove", 1, 6490)],
            ago(35, 6),
            shipped=(ago(33), "GLS", "60103901000", ago(31).date()),
            delivered_at=ago(31),
        ),
        order(
            "ORD-103688",
            "jan.novak@example.com",
            delivered,
            [("Electric toothbrush", 1, 8900)],
            ago(64, 3),
            shipped=(ago(62), "DHL", "JD014600006281503688", ago(60).date()),
            delivered_at=ago(60),
        ),
        order(
            "ORD-103745",
            "hannah.schulz@example.com",
            cancelled,
            [("Kids' rain jacket", 2, 3495)],
            ago(30, 2),
            cancelled_at=ago(30),
        ),
        order(
            "ORD-103820",
            "tom.becker@example.com",
            returned,
            [("GPS running watch", 1, 22900)],
            ago(40, 5),
            shipped=(ago(39), "DPD", "01906010382000", ago(37).date()),
            delivered_at=ago(37),
            refund=(ago(24), RefundStatus.ISSUED, ago(20), 22900),
        ),
        order(
            "ORD-104255",
            "lea.richter@example.com",
            processing,
            [("Espresso cups, set of 6", 1, 3600), ("Coffee beans, 1 kg", 2, 2490)],
            ago(0, 0.5),
        ),
    ]


def seed_sample_orders(session: Session, now: datetime) -> int:
    """Add the sample orders if the orders table is empty.

    The caller commits; :meth:`actions.db.Database.seed` does, under a lock
    that keeps a second process from seeding at the same time.

    Args:
        session: An open session inside a transaction.
        now: The moment of seeding; sample dates are relative to it.

    Returns:
        The number of orders added (0 if there were orders already).
    """
    if session.execute(select(Order.order_id).limit(1)).first() is not None:
        return 0
    orders = build_sample_orders(now)
    session.add_all(Order.from_status(order) for order in orders)
    return len(orders)
