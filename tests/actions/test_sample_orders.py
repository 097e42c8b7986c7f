from collections import Counter
from datetime import datetime, timedelta

from actions.order_policy import ReturnReason, decide_return
from actions.orders import OrderState, RefundStatus
from actions.sample_orders import build_sample_orders


def test_there_are_about_twenty_orders_with_unique_numbers(now: datetime) -> None:
    orders = build_sample_orders(now)

    assert 18 <= len(orders) <= 22
    assert len({order.order_id for order in orders}) == len(orders)


def test_every_status_is_represented(now: datetime) -> None:
    counts = Counter(order.status for order in build_sample_orders(now))

    assert set(counts) == set(OrderState)


def test_the_documented_orders_exist_with_dates_relative_to_seeding(now: datetime) -> None:
    orders = {order.order_id: order for order in build_sample_orders(now)}

    shipped = orders["ORD-104233"]
    assert shipped.status is OrderState.SHIPPED
    assert shipped.shipped_at == now - timedelta(days=2)
    assert shipped.carrier == "DHL"
    assert shipped.tracking_number
    assert shipped.estimated_delivery == (now + timedelta(days=1)).date()

    returnable = orders["ORD-104187"]
    assert returnable.status is OrderState.DELIVERED
    assert returnable.delivered_at == now - timedelta(days=5)
    assert decide_return(returnable, window_days=30, now=now).eligible

    too_old = orders["ORD-103512"]
    assert too_old.delivered_at == now - timedelta(days=45)
    assert decide_return(too_old, window_days=30, now=now).reason is ReturnReason.WINDOW_CLOSED

    assert orders["ORD-104251"].status is OrderState.PROCESSING
    assert orders["ORD-104020"].status is OrderState.CANCELLED
    refunded = orders["ORD-103877"]
    assert refunded.status is OrderState.RETURNED
    assert refunded.refund_status is RefundStatus.ISSUED
    assert refunded.refund_amount_cents == 15900


def test_orders_are_internally_consistent(now: datetime) -> None:
    for order in build_sample_orders(now):
        assert order.placed_at <= now, order.order_id
        assert order.total_cents >= sum(i.quantity * i.unit_price_cents for i in order.items)
        if order.status in (OrderState.SHIPPED, OrderState.DELIVERED, OrderState.RETURNED):
            assert order.shipped_at and order.carrier and order.tracking_number, order.order_id
            assert order.placed_at < order.shipped_at, order.order_id
        if order.status in (OrderState.DELIVERED, OrderState.RETURNED):
            assert order.delivered_at and order.shipped_at < order.delivered_at, order.order_id
        if order.status is OrderState.RETURNED:
            assert order.refund_status is not None and order.refund_amount_cents, order.order_id
        if order.status is OrderState.CANCELLED:
            assert order.cancelled_at is not None and order.shipped_at is None, order.order_id
