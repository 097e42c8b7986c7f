from datetime import date, datetime, timezone

import pytest

from actions.order_policy import ReturnReason, decide_return, expected_dispatch_date
from actions.orders import LineItem, OrderState, OrderStatus


def order(status: OrderState, delivered_at: datetime | None = None) -> OrderStatus:
    return OrderStatus(
        order_id="ORD-300001",
        customer_email="test@example.com",
        status=status,
        items=(LineItem("Mug", 1, 1250),),
        total_cents=1745,
        currency="EUR",
        placed_at=datetime(2025, 2, 1, 9, 0, tzinfo=timezone.utc),
        delivered_at=delivered_at,
    )


DELIVERED = datetime(2025, 3, 1, 23, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("now", "reason"),
    [
        (datetime(2025, 3, 1, 23, 45, tzinfo=timezone.utc), ReturnReason.WITHIN_WINDOW),
        (datetime(2025, 3, 31, 23, 59, tzinfo=timezone.utc), ReturnReason.WITHIN_WINDOW),
        (datetime(2025, 4, 1, 0, 0, tzinfo=timezone.utc), ReturnReason.WINDOW_CLOSED),
    ],
)
def test_the_last_day_of_the_window_is_included(now: datetime, reason: ReturnReason) -> None:
    decision = decide_return(order(OrderState.DELIVERED, DELIVERED), window_days=30, now=now)

    assert decision.reason is reason
    assert decision.eligible is (reason is ReturnReason.WITHIN_WINDOW)
    assert decision.last_return_day == date(2025, 3, 31)
    assert decision.window_days == 30


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (OrderState.PROCESSING, ReturnReason.NOT_SHIPPED),
        (OrderState.SHIPPED, ReturnReason.IN_TRANSIT),
        (OrderState.CANCELLED, ReturnReason.CANCELLED),
        (OrderState.RETURNED, ReturnReason.ALREADY_RETURNED),
        (OrderState.DELIVERED, ReturnReason.NEEDS_REVIEW),  # no delivery date recorded
    ],
)
def test_orders_that_are_not_delivered_are_not_eligible(
    status: OrderState, reason: ReturnReason
) -> None:
    decision = decide_return(order(status), window_days=30, now=DELIVERED)

    assert decision.reason is reason
    assert not decision.eligible
    assert decision.last_return_day is None


@pytest.mark.parametrize(
    ("placed", "dispatch"),
    [
        (datetime(2025, 3, 10, 8, tzinfo=timezone.utc), date(2025, 3, 12)),  # Mon -> Wed
        (datetime(2025, 3, 13, 8, tzinfo=timezone.utc), date(2025, 3, 17)),  # Thu -> Mon
        (datetime(2025, 3, 15, 8, tzinfo=timezone.utc), date(2025, 3, 18)),  # Sat -> Tue
    ],
)
def test_dispatch_takes_two_working_days(placed: datetime, dispatch: date) -> None:
    assert expected_dispatch_date(placed) == dispatch
