from datetime import date, datetime, timezone

import pytest

from actions.order_messages import day_name, format_money, on_day, return_message, status_message
from actions.order_policy import ReturnDecision, ReturnReason
from actions.orders import LineItem, OrderState, OrderStatus, RefundStatus

TODAY = date(2025, 3, 14)  # a Friday


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2025, 3, 13), "yesterday"),
        (date(2025, 3, 14), "today"),
        (date(2025, 3, 15), "tomorrow"),
        (date(2025, 3, 18), "Tuesday 18 March"),
        (date(2024, 12, 30), "Monday 30 December 2024"),
    ],
)
def test_day_name(day: date, name: str) -> None:
    assert day_name(day, TODAY) == name


def test_on_day_adds_on_before_a_date_only() -> None:
    assert on_day(date(2025, 3, 15), TODAY) == "tomorrow"
    assert on_day(date(2025, 3, 18), TODAY) == "on Tuesday 18 March"


@pytest.mark.parametrize(
    ("cents", "text"),
    [(0, "0.00 EUR"), (5, "0.05 EUR"), (3980, "39.80 EUR"), (15900, "159.00 EUR")],
)
def test_format_money(cents: int, text: str) -> None:
    assert format_money(cents, "EUR") == text


def minimal(status: OrderState, **fields: object) -> OrderStatus:
    return OrderStatus(
        order_id="ORD-300002",
        customer_email="test@example.com",
        status=status,
        items=(LineItem("Mug", 1, 1250),),
        total_cents=1745,
        currency="EUR",
        placed_at=datetime(2025, 3, 3, 9, 0, tzinfo=timezone.utc),
        **fields,  # type: ignore[arg-type]
    )


def test_a_processing_order_past_its_dispatch_date_is_not_promised_a_date() -> None:
    assert status_message(minimal(OrderState.PROCESSING), TODAY) == (
        "Order ORD-300002 was placed on Monday 3 March and we're getting it ready. It's taking "
        "a little longer than usual to leave our warehouse, and we'll email you the tracking "
        "number as soon as it ships."
    )


def test_missing_optional_details_are_left_out() -> None:
    assert status_message(minimal(OrderState.SHIPPED), TODAY) == (
        "Good news: order ORD-300002 is on its way! It shipped."
    )
    assert status_message(minimal(OrderState.CANCELLED), TODAY) == (
        "Order ORD-300002 was cancelled, so it won't be shipped. If you were charged for it, "
        "the money has been refunded to your original payment method."
    )
    assert status_message(minimal(OrderState.RETURNED), TODAY) == (
        "We received your return of order ORD-300002. We're checking the items and will email "
        "you as soon as the refund is issued."
    )
    assert status_message(
        minimal(OrderState.RETURNED, refund_status=RefundStatus.PENDING), TODAY
    ) == (
        "We received your return of order ORD-300002. Your refund is being processed and "
        "should reach your original payment method within 5 working days."
    )


def test_a_delivered_order_without_a_delivery_date_goes_to_a_person() -> None:
    decision = ReturnDecision(minimal(OrderState.DELIVERED), ReturnReason.NEEDS_REVIEW, 30)

    assert return_message(decision, TODAY) == (
        "I can't tell from our records when order ORD-300002 was delivered, so I can't confirm "
        "whether it can still be returned. Someone from our team can take a look: just ask me "
        "for a person."
    )
