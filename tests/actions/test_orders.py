from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import IntegrityError

from actions.orders import (
    LineItem,
    OrderRepository,
    OrderState,
    OrderStatus,
    RefundStatus,
    parse_order_id,
)


@pytest.mark.parametrize(
    "text",
    [
        "ORD-104233",
        "ord104233",
        "ORD 104233",
        "#104233",
        "104233",
        "order number is ord-104233",
        "  Ord-104233  ",
        "ORD_104233",
        "ord #104233",
        "it's ORD–104233 (from the email)",
        "my order 104233, placed on monday",
    ],
)
def test_parse_order_id_normalises_the_ways_customers_write_it(text: str) -> None:
    assert parse_order_id(text) == "ORD-104233"


@pytest.mark.parametrize(
    "text",
    [
        "ORD-12",
        "banana",
        "",
        "ORD-1042331",
        "1042331",
        "ORD-10423",
        "ORDER-104233x",
        "ORD-104233abc",
        "XORD104233",
        "A104233",
        "10423",
        "ORD-abcdef",
    ],
)
def test_parse_order_id_rejects_malformed_text(text: str) -> None:
    assert parse_order_id(text) is None


def test_parse_order_id_takes_the_first_number_of_several() -> None:
    assert parse_order_id("ORD-104233 or maybe ORD-104187") == "ORD-104233"


def test_repository_returns_a_typed_detached_order(seeded_repository: OrderRepository) -> None:
    order = seeded_repository.get("ORD-104233")

    assert order is not None
    assert order.status is OrderState.SHIPPED
    assert order.carrier == "DHL"
    assert order.tracking_number == "JD014600006281530012"
    assert order.items == (
        LineItem("Trail running shoes", 1, 12995),
        LineItem("Merino running socks, 2 pairs", 1, 2490),
    )
    assert order.total_cents == 15485
    assert order.currency == "EUR"
    assert order.placed_at.tzinfo is timezone.utc
    with pytest.raises(AttributeError):
        order.status = OrderState.DELIVERED  # type: ignore[misc]


def test_repository_returns_none_for_a_well_formed_unknown_number(
    seeded_repository: OrderRepository,
) -> None:
    assert seeded_repository.get("ORD-999999") is None


def test_repository_refuses_numbers_that_are_not_canonical(
    seeded_repository: OrderRepository,
) -> None:
    with pytest.raises(ValueError, match="not a canonical order number"):
        seeded_repository.get("ord104233")


def test_add_round_trips_every_field(repository: OrderRepository) -> None:
    moment = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    order = OrderStatus(
        order_id="ORD-200001",
        customer_email="test@example.com",
        status=OrderState.RETURNED,
        items=(LineItem("Mug", 2, 1250), LineItem("Teapot", 1, 3900)),
        total_cents=6400,
        currency="EUR",
        placed_at=moment,
        shipped_at=moment + timedelta(days=1),
        carrier="GLS",
        tracking_number="60100000000",
        estimated_delivery=date(2025, 1, 5),
        delivered_at=moment + timedelta(days=3),
        returned_at=moment + timedelta(days=9),
        refund_status=RefundStatus.ISSUED,
        refund_amount_cents=6400,
        refunded_at=moment + timedelta(days=10),
    )

    repository.add(order)
    stored = repository.get("ORD-200001")

    # Stored in UTC and read back as UTC: the same instants, UTC zone.
    assert stored == order
    assert stored is not None and stored.placed_at.tzinfo is timezone.utc
    assert stored.placed_at.hour == 1


def test_add_refuses_a_taken_order_number(repository: OrderRepository) -> None:
    order = OrderStatus(
        order_id="ORD-104233",
        customer_email="someone@example.com",
        status=OrderState.PROCESSING,
        items=(LineItem("Mug", 1, 1250),),
        total_cents=1745,
        currency="EUR",
        placed_at=datetime(2025, 3, 1, tzinfo=timezone.utc),
    )

    with pytest.raises(IntegrityError):
        repository.add(order)


def test_naive_timestamps_are_refused(repository: OrderRepository) -> None:
    order = OrderStatus(
        order_id="ORD-200002",
        customer_email="test@example.com",
        status=OrderState.PROCESSING,
        items=(LineItem("Mug", 1, 1250),),
        total_cents=1745,
        currency="EUR",
        placed_at=datetime(2025, 3, 1, 12, 0),
    )

    with pytest.raises(Exception, match="naive datetime"):
        repository.add(order)
